//! The downstream stdio face: MCP on a byte stream pair (stdin/stdout for `serve --stdio`, any
//! pipe in tests and benches). One client; each request runs as its own task so a slow call never
//! blocks the others; `notifications/cancelled` and end of input cancel what is in flight.
//! Memory stays bounded whatever the client does: its answers queue in a sink bounded in
//! messages and bytes (`gateway.client_queue_bytes`), and at most `gateway.client_max_in_flight`
//! requests are read ahead of their answers being queued — past either bound, input is read no
//! further until the client reads its output (backpressure, not buffering).

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;

use manifold_config::Config;
use manifold_protocol::codec::{sniff_id, to_line};
use manifold_protocol::{
    code, decode_client, decode_one_client, encode_error, encode_result, method, version, Decoded,
    ErrorObject, Frame, Id, LineDecoder, Message, Request,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::Semaphore;
use tokio::task::AbortHandle;
use tokio_util::task::TaskTracker;

use crate::background::Background;

use manifold_router::downstream::{Sink, SinkReceiver};
use manifold_router::Gateway;
use manifold_router::{Face, Session};

/// Outgoing queue depth: when the client reads slower than upstreams answer, work waits here.
const OUT_CAPACITY: usize = 1024;

type InFlight = Arc<Mutex<HashMap<Id, AbortHandle>>>;

/// Serves one client on `reader`/`writer` until end of input or `shutdown` resolves, then
/// cancels what is in flight and shuts every upstream down.
pub async fn serve_stdio<R, W, S>(
    config: &Config,
    reader: R,
    writer: W,
    shutdown: S,
    admin: Option<tokio::net::TcpListener>,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
    S: std::future::Future<Output = ()> + Send,
{
    let (out_tx, out_rx) =
        manifold_router::downstream::sink(OUT_CAPACITY, config.gateway.client_queue_bytes);
    let in_flight_room = Arc::new(Semaphore::new(config.gateway.client_max_in_flight));
    let metrics = std::sync::Arc::new(manifold_metrics::Metrics::new());
    let policy = manifold_policy::Policy::new(config, metrics.clone())?;
    let gateway = Gateway::start_with(
        config,
        metrics,
        std::sync::Arc::new(policy),
        manifold_router::Clients::One,
    );
    let background = Background::default();
    if let Some(listener) = admin {
        crate::admin::spawn(listener, gateway.clone(), config, &background);
    }
    let session = Session::open(&gateway, out_tx.clone(), Face::Stdio);
    {
        let session = session.clone();
        crate::reload::on_sighup(config, &background, move |new| {
            let session = session.clone();
            async move {
                session.gateway().policy().reload(&new);
                session.refresh_view().await;
            }
        });
    }
    let (finish, finished) = tokio::sync::oneshot::channel();
    let writer_task = tokio::spawn(write_lines(writer, out_rx, finished));
    let client = Client {
        session: &session,
        out: &out_tx,
        in_flight: Arc::default(),
        room: in_flight_room,
        tasks: TaskTracker::new(),
    };
    let result = read_loop(&client, reader, config.gateway.max_message_bytes, shutdown).await;
    session.close();
    background.shutdown().await;
    gateway.shutdown().await;
    gateway.policy().flush().await;
    // Flush what is queued, then stop: clones of the sender may outlive this call.
    let _ = finish.send(());
    let _ = writer_task.await;
    result
}

async fn write_lines<W: AsyncWrite + Unpin>(
    writer: W,
    mut rx: SinkReceiver,
    mut finish: tokio::sync::oneshot::Receiver<()>,
) {
    let mut out = BufWriter::with_capacity(64 * 1024, writer);
    let mut finishing = false;
    loop {
        let line = if finishing {
            rx.recv().await
        } else {
            tokio::select! {
                line = rx.recv() => line,
                _ = &mut finish => {
                    // No new messages are accepted; the buffered ones still go out.
                    rx.close();
                    finishing = true;
                    continue;
                }
            }
        };
        let Some(line) = line else { break };
        if out.write_all(to_line(line).as_bytes()).await.is_err() {
            return;
        }
        // Flush only when nothing else is queued: batches writes under load.
        while let Ok(line) = rx.try_recv() {
            if out.write_all(to_line(line).as_bytes()).await.is_err() {
                return;
            }
        }
        if out.flush().await.is_err() {
            return;
        }
    }
    let _ = out.flush().await;
}

/// The one client of the face: its session, its output, and its requests in flight.
struct Client<'a> {
    session: &'a Session,
    out: &'a Sink,
    in_flight: InFlight,
    /// One permit per request that may be read ahead of its answer being queued.
    room: Arc<Semaphore>,
    /// The tasks serving its requests: cancelled and awaited once the client is gone.
    tasks: TaskTracker,
}

async fn read_loop<R: AsyncRead + Unpin>(
    client: &Client<'_>,
    mut reader: R,
    max: usize,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    let mut decoder = LineDecoder::new(max);
    let mut buf = vec![0u8; 64 * 1024];
    let mut frames = Vec::new();
    let result = 'reading: loop {
        let read = tokio::select! {
            r = reader.read(&mut buf) => r,
            _ = &mut shutdown => break Ok(()),
        };
        let n = match read {
            Ok(0) => break Ok(()),
            Ok(n) => n,
            Err(e) => break Err(e),
        };
        decoder.feed(&buf[..n], &mut frames);
        for frame in frames.drain(..) {
            // Waits while the client is at its bound of unanswered requests.
            tokio::select! {
                () = on_frame(client, frame) => {}
                _ = &mut shutdown => break 'reading Ok(()),
            }
        }
    };
    decoder.finish(&mut frames);
    for frame in frames.drain(..) {
        on_frame(client, frame).await;
    }
    // The client is gone: cancel everything still in flight (each cancels upstream on drop).
    for (_, task) in client.in_flight.lock().drain() {
        task.abort();
    }
    // Their drops (each cancelling its upstream request) are done before the upstreams stop.
    client.tasks.close();
    client.tasks.wait().await;
    result
}

async fn on_frame(client: &Client<'_>, frame: Frame) {
    let (session, out) = (client.session, client.out);
    let line = match frame {
        Frame::Line(line) => line,
        Frame::Oversized { prefix, len } => {
            let error = ErrorObject::new(
                code::INVALID_REQUEST,
                format!("message of {len} bytes exceeds max_message_bytes"),
            );
            let _ = out
                .send(encode_error(sniff_id(&prefix).as_ref(), &error))
                .await;
            return;
        }
    };
    match decode_client(&line) {
        Ok(Decoded::Single(message)) => on_message(client, message).await,
        Ok(Decoded::Batch(items)) => on_batch(session, items, out).await,
        Err(e) => {
            let error = session.refuse(&e).await;
            let _ = out.send(encode_error(e.id(), &error)).await;
        }
    }
}

async fn on_message(client: &Client<'_>, message: Message) {
    let (session, out, in_flight) = (client.session, client.out, &client.in_flight);
    match message {
        Message::Request(request) if request.method == method::INITIALIZE => {
            // Answered inline: nothing else should be processed before the handshake completes.
            let _ = out.send(respond(session, &request).await).await;
        }
        Message::Request(request) => {
            // Held until the answer is queued: past the bound, reading waits here.
            let Ok(permit) = client.room.clone().acquire_owned().await else {
                return;
            };
            let session = session.clone();
            let out = out.clone();
            let registry = in_flight.clone();
            let id = request.id.clone();
            // The registry stays locked from spawn to insert, so the task's own removal (which
            // needs the lock) always comes after its handle is in.
            let mut map = in_flight.lock();
            let task = client.tasks.spawn(async move {
                let line = respond(&session, &request).await;
                registry.lock().remove(&request.id);
                let _ = out.send(line).await;
                drop(permit);
            });
            map.insert(id, task.abort_handle());
        }
        Message::Notification(n) => match n.method.as_str() {
            method::INITIALIZED => session.client_ready().await,
            method::CANCELLED => {
                if let Some(id) = n.cancelled_request() {
                    if let Some(task) = in_flight.lock().remove(&id) {
                        tracing::debug!(%id, "client cancelled request");
                        task.abort();
                    }
                }
            }
            method::ROOTS_LIST_CHANGED => session.broadcast(&n.method, n.params.as_deref()).await,
            _ => tracing::debug!(method = %n.method, "ignoring client notification"),
        },
        Message::Response(response) => session.complete(response),
    }
}

async fn respond(session: &Session, request: &Request) -> String {
    match session.handle(request).await {
        Ok(result) => encode_result(&request.id, &result),
        Err(error) => encode_error(Some(&request.id), &error),
    }
}

/// JSON-RPC batches are valid only when 2025-03-26 was negotiated (mcp-spec.md §3.2).
async fn on_batch(session: &Session, items: Vec<Box<manifold_protocol::RawValue>>, out: &Sink) {
    if !version::allows_batches(&session.negotiated_version()) || items.is_empty() {
        let error = ErrorObject::new(
            code::INVALID_REQUEST,
            "JSON-RPC batches are only accepted when protocol version 2025-03-26 is negotiated",
        );
        let _ = out.send(encode_error(None, &error)).await;
        return;
    }
    let mut answers = Vec::new();
    for item in items {
        match decode_one_client(&item) {
            Ok(Message::Request(r)) => answers.push(respond(session, &r).await),
            Ok(Message::Notification(n)) if n.method == method::INITIALIZED => {
                session.client_ready().await
            }
            Ok(Message::Response(r)) => session.complete(r),
            Ok(Message::Notification(_)) => {}
            Err(e) => {
                let error = session.refuse(&e).await;
                answers.push(encode_error(e.id(), &error));
            }
        }
    }
    if !answers.is_empty() {
        let _ = out.send(format!("[{}]", answers.join(","))).await;
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::serve_stdio;

    /// The admin listener is one of the face's background tasks: it answers while the client is
    /// connected, and is gone once `serve_stdio` has returned.
    #[tokio::test]
    async fn ending_the_client_stops_the_admin_listener() {
        let config = manifold_config::load_str("", manifold_config::Format::Toml).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin = listener.local_addr().unwrap();
        let (client, ours) = tokio::io::duplex(4096);
        let (reader, writer) = tokio::io::split(ours);
        let serving = tokio::spawn(async move {
            serve_stdio(
                &config,
                reader,
                writer,
                std::future::pending(),
                Some(listener),
            )
            .await
        });
        let mut tcp = TcpStream::connect(admin).await.unwrap();
        tcp.write_all(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        drop(client);
        serving.await.unwrap().unwrap();
        assert!(
            TcpStream::connect(admin).await.is_err(),
            "the admin listener outlived the face"
        );
    }
}
