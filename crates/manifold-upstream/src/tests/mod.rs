//! Unit tests of one supervised upstream against in-process peers, all under paused time: the
//! handshake and calls, timeouts and cancellation, supervision and backoff. The peer is an rmcp
//! server (`manifold_testpeer::TestServer`) on a duplex pipe except where a test says why not.

mod calls;
mod cancellation;
mod supervision;

use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;

use manifold_protocol::RawValue;
use manifold_testpeer::{within, TestServer};
use manifold_transport::queue::QueueReceiver;
use manifold_transport::{Connection, TransportError};
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::{
    ClientIdentity, Connector, Health, RestartPolicy, ServerInfo, TransportSpec, Upstream,
    UpstreamEvent, UpstreamSpec,
};

/// The restart policy of these tests: 100 ms, doubled, capped at 300 ms; unhealthy after 3.
const RESTART: RestartPolicy = RestartPolicy {
    initial_backoff: Duration::from_millis(100),
    max_backoff: Duration::from_millis(300),
    unhealthy_after: 3,
};

/// The default per-request timeout of these tests.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The client name the upstream is initialized with.
const CLIENT: &str = "manifold-unit";

/// A running upstream and what a test observes of it.
struct Harness {
    up: Upstream,
    /// What it reports on its own (`Up`, `Down`, notifications).
    events: QueueReceiver<UpstreamEvent>,
    /// When each life began (each call of its connector).
    lives: Lives,
    /// Kept so the upstream's identity channel stays open.
    _identity: watch::Sender<Option<ClientIdentity>>,
}

/// The instants at which a connector was called.
#[derive(Clone, Default)]
struct Lives(Arc<Mutex<Vec<Instant>>>);

impl Lives {
    fn started(&self) {
        self.0.lock().push(Instant::now());
    }

    fn all(&self) -> Vec<Instant> {
        self.0.lock().clone()
    }

    fn count(&self) -> usize {
        self.all().len()
    }
}

/// A connector calling `connect` for every life, recording when.
fn counted(
    connect: impl Fn() -> Result<Connection, TransportError> + Send + Sync + 'static,
) -> (Connector, Lives) {
    let lives = Lives::default();
    let counter = lives.clone();
    let connector = Connector::new(move || {
        counter.started();
        connect()
    });
    (connector, lives)
}

/// Starts an upstream reached through `connect`, with its client's identity already set.
fn start(
    connect: impl Fn() -> Result<Connection, TransportError> + Send + Sync + 'static,
) -> Harness {
    let (connector, lives) = counted(connect);
    let spec = UpstreamSpec {
        alias: "alpha".into(),
        transport: TransportSpec::InProcess(connector),
        timeout: TIMEOUT,
        restart: RESTART,
        shutdown_grace: Duration::from_secs(1),
        ping_interval: Duration::ZERO,
        // These tests are of the legacy session (`initialize`); the probe has tests of its own.
        era: crate::Era::Legacy,
    };
    let identity = ClientIdentity {
        protocol_version: "2025-03-26".into(),
        capabilities: raw(json!({})),
        client_info: raw(json!({ "name": CLIENT, "version": "1.0.0" })),
    };
    let (identity_tx, identity_rx) = watch::channel(Some(identity));
    let (events_tx, events) = manifold_transport::queue::queue(64, 1 << 20);
    let up = Upstream::start(0, spec, identity_rx, events_tx, None);
    Harness {
        up,
        events,
        lives,
        _identity: identity_tx,
    }
}

/// Starts an upstream whose every life is a new life of `server`.
fn start_server(server: &TestServer) -> Harness {
    let server = server.clone();
    start(move || Ok(server.connect()))
}

impl Harness {
    /// Waits until the upstream is up; returns what it said of itself.
    async fn up(&self) -> Arc<ServerInfo> {
        let health = self
            .health_until("the upstream is up", |h| matches!(h, Health::Up(_)))
            .await;
        match health {
            Health::Up(info) => info,
            other => panic!("not up: {other:?}"),
        }
    }

    /// Waits until the upstream's health satisfies `done`; returns it.
    async fn health_until(&self, what: &str, mut done: impl FnMut(&Health) -> bool) -> Health {
        let mut rx = self.up.watch_health();
        let health = within(what, rx.wait_for(|h| done(h))).await;
        match health {
            Ok(h) => h.clone(),
            Err(_) => panic!("{what}: the upstream's health channel closed"),
        }
    }

    /// Calls tool `name` with `arguments` and the default timeout.
    async fn call(&self, name: &str, arguments: Value) -> Result<Value, crate::CallError> {
        self.call_within(name, arguments, None).await
    }

    /// Calls tool `name` with `arguments` and `timeout` (the default when `None`).
    async fn call_within(
        &self,
        name: &str,
        arguments: Value,
        timeout: Option<Duration>,
    ) -> Result<Value, crate::CallError> {
        let params = raw(json!({ "name": name, "arguments": arguments }));
        let result = self
            .up
            .request("tools/call", Some(&params), timeout)
            .await?;
        Ok(serde_json::from_str(result.get()).expect("a result is JSON"))
    }

    /// How many requests wait for an answer.
    fn pending(&self) -> usize {
        self.up.inner.live.lock().pending.len()
    }

    /// Every event reported so far, without waiting.
    fn drain_events(&mut self) -> Vec<UpstreamEvent> {
        std::iter::from_fn(|| self.events.try_recv().ok()).collect()
    }
}

fn raw(value: Value) -> Box<RawValue> {
    serde_json::value::to_raw_value(&value).expect("JSON")
}
