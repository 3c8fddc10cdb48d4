//! The HTTP face's connections, so that slow, idle or too many clients cannot exhaust the
//! gateway: at most `listen.max_connections` are served at once (past it a new connection gets
//! 503 and is closed; the others keep being served); a TLS handshake and a request's header must
//! complete within `listen.header_timeout_ms`; a keep-alive connection with no request in
//! progress is closed after `listen.idle_timeout_ms`. A request in progress — a body being read
//! (bounded by `listen.body_timeout_ms` in [`super::body`]), an answer or an SSE stream being
//! written — is never cut by these; but a client that takes nothing of what is written to it for
//! `listen.idle_timeout_ms` (its socket stays full) is cut then. Shutdown closes idle
//! connections and lets the others finish. Every connection is a task of the listener's own
//! set: dropping the listener's future (the drain deadline) aborts the ones still open.

use parking_lot::Mutex;
use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use manifold_metrics::Metrics;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// Refusals (503) being written at once; past it, a refused connection is just closed.
const REFUSALS_AT_ONCE: usize = 64;

/// What a connection over the limit is told before it is closed.
const OVER_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n\
content-length: 52\r\nretry-after: 1\r\nconnection: close\r\n\r\n\
Manifold is serving listen.max_connections already.\n";

/// How the listener's connections are bounded.
#[derive(Clone)]
pub(crate) struct Limits {
    pub(crate) max_connections: usize,
    pub(crate) header_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) tls: Option<TlsAcceptor>,
    pub(crate) metrics: Arc<Metrics>,
}

/// Serves `router` on `listener` until `closing` turns true, then stops accepting, asks every
/// connection to close once its request in progress is done, and returns when all have.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    mut closing: watch::Receiver<bool>,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Arc::new(Semaphore::new(REFUSALS_AT_ONCE));
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            // Ended connections are reaped as they end (a set of at most `max_connections`).
            Some(_) = connections.join_next() => continue,
            () = closed(&mut closing) => break,
        };
        let (tcp, peer) = match accepted {
            Ok(conn) => conn,
            Err(e) => {
                // Out of file descriptors, say: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            limits
                .metrics
                .connections_refused
                .with_label_values(&["http"])
                .inc();
            tracing::warn!(%peer, max = limits.max_connections, "connection refused: listen.max_connections reached");
            refuse(tcp, limits.tls.is_some(), &refusals, &mut connections);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (router, limits, closing) = (router.clone(), limits.clone(), closing.clone());
        connections.spawn(async move {
            connection(tcp, router, limits, closing).await;
            drop(slot);
        });
    }
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Resolves once shutdown has begun (the watch's guard is not held across the await).
async fn closed(closing: &mut watch::Receiver<bool>) {
    let _ = closing.wait_for(|c| *c).await;
}

/// Answers 503 on a plain connection (a TLS one is just closed: no handshake is spent on it),
/// reading what the client sent so the close does not reset the answer away.
fn refuse(mut tcp: TcpStream, tls: bool, refusals: &Arc<Semaphore>, tasks: &mut JoinSet<()>) {
    if tls {
        return;
    }
    let Ok(permit) = refusals.clone().try_acquire_owned() else {
        return;
    };
    tasks.spawn(async move {
        let _permit = permit;
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            tcp.write_all(OVER_CAPACITY).await?;
            tcp.shutdown().await?;
            let mut sink = [0u8; 4096];
            while tcp.read(&mut sink).await? > 0 {}
            Ok::<_, io::Error>(())
        })
        .await;
    });
}

async fn connection(
    tcp: TcpStream,
    router: Router,
    limits: Limits,
    closing: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::default());
    match &limits.tls {
        Some(acceptor) => {
            let handshake = tokio::time::timeout(limits.header_timeout, acceptor.accept(tcp));
            match handshake.await {
                Ok(Ok(stream)) => {
                    let io = Timed::new(stream, activity.clone(), &limits);
                    http1(io, router, activity, closing).await;
                }
                Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                Err(_) => {
                    limits
                        .metrics
                        .connections_timed_out
                        .with_label_values(&["headers"])
                        .inc();
                    tracing::debug!("TLS handshake timed out");
                }
            }
        }
        None => {
            let io = Timed::new(tcp, activity.clone(), &limits);
            http1(io, router, activity, closing).await;
        }
    }
}

async fn http1<I>(
    io: Timed<I>,
    router: Router,
    activity: Arc<Activity>,
    mut closing: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let started = Started::new(activity.clone());
        let response = router.clone().oneshot(request.map(Body::new));
        async move {
            let response = response.await?;
            Ok::<_, std::convert::Infallible>(
                response.map(|body| Body::new(Tracked { body, started })),
            )
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let served = tokio::select! {
        served = conn.as_mut() => served,
        () = closed(&mut closing) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = served {
        tracing::debug!(error = %e, "HTTP connection ended with an error");
    }
}

/// Requests in progress on one connection (from their header being read until their answer is
/// written), and the connection's task to wake when the last one ends.
#[derive(Default)]
struct Activity {
    requests: AtomicUsize,
    waker: Mutex<Option<Waker>>,
}

impl Activity {
    fn busy(&self) -> bool {
        self.requests.load(Ordering::Acquire) > 0
    }

    fn wake_on_idle(&self, waker: &Waker) {
        let mut slot = self.waker.lock();
        match slot.as_ref() {
            Some(w) if w.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
    }
}

/// One request in progress, until dropped (with its answer's body).
struct Started(Arc<Activity>);

impl Started {
    fn new(activity: Arc<Activity>) -> Started {
        activity.requests.fetch_add(1, Ordering::AcqRel);
        Started(activity)
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        if self.0.requests.fetch_sub(1, Ordering::AcqRel) == 1 {
            let waker = self.0.waker.lock().take();
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

/// An answer's body; its request stays in progress until it is written or dropped.
struct Tracked {
    body: Body,
    /// Held for its `Drop`.
    #[allow(dead_code)]
    started: Started,
}

impl HttpBody for Tracked {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// Where a connection stands, for its timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for (the rest of) a request's header: `header_timeout` runs.
    Header,
    /// A request is in progress: no timeout here.
    Busy,
    /// Keep-alive, between requests: `idle_timeout` runs.
    Idle,
}

/// A connection's stream, reading under the header and idle timeouts: a read that would wait
/// past the deadline of the current phase fails with `TimedOut` instead, which closes it. While
/// a write cannot proceed (the client reads nothing), the connection is busy writing and reads
/// wait without a deadline; the write itself fails after `idle_timeout` without progress.
struct Timed<I> {
    io: I,
    activity: Arc<Activity>,
    header_timeout: Duration,
    idle_timeout: Duration,
    phase: Phase,
    deadline: Pin<Box<Sleep>>,
    /// Armed while a write waits for the client to read: the end of its patience.
    write_stalled: Option<Pin<Box<Sleep>>>,
    metrics: Arc<Metrics>,
}

impl<I> Timed<I> {
    fn new(io: I, activity: Arc<Activity>, limits: &Limits) -> Self {
        // A new connection is expected to send its request at once.
        Timed {
            io,
            activity,
            header_timeout: limits.header_timeout,
            idle_timeout: limits.idle_timeout,
            phase: Phase::Header,
            deadline: Box::pin(tokio::time::sleep(limits.header_timeout)),
            write_stalled: None,
            metrics: limits.metrics.clone(),
        }
    }

    fn timed_out(&self, phase: &'static str) -> io::Error {
        self.metrics
            .connections_timed_out
            .with_label_values(&[phase])
            .inc();
        tracing::debug!(phase, "HTTP connection timed out");
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("connection timed out ({phase})"),
        )
    }

    /// Tracks a write's progress: a write that cannot proceed arms the stall deadline, one that
    /// does disarms it; a stall past the deadline fails the write.
    fn written<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match poll {
            Poll::Pending => {
                let idle = self.idle_timeout;
                let stall = self
                    .write_stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                if stall.as_mut().poll(cx).is_ready() {
                    self.write_stalled = None;
                    return Poll::Ready(Err(self.timed_out("write")));
                }
                Poll::Pending
            }
            ready => {
                self.write_stalled = None;
                ready
            }
        }
    }

    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        let limit = match phase {
            Phase::Header => self.header_timeout,
            Phase::Idle => self.idle_timeout,
            Phase::Busy => return,
        };
        self.deadline.as_mut().reset(Instant::now() + limit);
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Timed<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let got = buf.filled().len() > before;
                if got && !this.activity.busy() && this.phase != Phase::Header {
                    // The first bytes of the next request: its header must follow in time.
                    this.enter(Phase::Header);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                if this.activity.busy() || this.write_stalled.is_some() {
                    // A request in progress, or an answer still being written: no read deadline.
                    this.phase = Phase::Busy;
                    this.activity.wake_on_idle(cx.waker());
                    return Poll::Pending;
                }
                if this.phase == Phase::Busy {
                    this.enter(Phase::Idle);
                }
                if this.deadline.as_mut().poll(cx).is_ready() {
                    let phase = if this.phase == Phase::Idle {
                        "idle"
                    } else {
                        "headers"
                    };
                    this.metrics
                        .connections_timed_out
                        .with_label_values(&[phase])
                        .inc();
                    tracing::debug!(phase, "HTTP connection timed out");
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("connection timed out ({phase})"),
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Timed<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write(cx, buf);
        self.written(cx, poll)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.io).poll_flush(cx);
        self.written(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.written(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
