//! Per-connection (stdio) or per-`Mcp-Session-Id` (HTTP) protocol state and message dispatch.

use parking_lot::{Mutex, MutexGuard};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

use crate::catalog::{self, ToolView};
use crate::methods;
use crate::modern;
use crate::options::{Options, Profile};
use crate::rpc::{self, Kind, RpcError};
use crate::shared::Shared;

/// A message leaving the server.
#[derive(Debug)]
pub(crate) enum Out {
    /// A notification, server→client request or raw line sent before the response.
    Message(String),
    /// The final response to a request.
    Response(String),
    /// Ends the HTTP stream carrying the request without ending the request; what follows
    /// is kept for a client that resumes with `Last-Event-ID` (ignored elsewhere).
    Detach,
    /// Tells the stdio writer to stop.
    Close,
}

/// Where request-scoped output goes.
#[derive(Clone)]
pub(crate) struct Reply {
    tx: mpsc::UnboundedSender<Out>,
    /// Send [`Out::Message`]s on the session's event stream instead (HTTP JSON mode).
    messages_via_events: bool,
}

impl Reply {
    /// Everything goes to `tx`.
    pub(crate) fn direct(tx: mpsc::UnboundedSender<Out>) -> Self {
        Reply {
            tx,
            messages_via_events: false,
        }
    }

    /// Sends `out` to `tx` itself, whatever the mode (a listen's notifications).
    pub(crate) fn send(&self, out: Out) -> bool {
        self.tx.send(out).is_ok()
    }

    /// Only the response goes to `tx`; other messages go to the session event stream.
    pub(crate) fn response_only(tx: mpsc::UnboundedSender<Out>) -> Self {
        Reply {
            tx,
            messages_via_events: true,
        }
    }
}

/// What the transport should do after handing a message to [`Session::handle`].
#[derive(Debug)]
pub(crate) enum Handled {
    /// A request: its response (if it is not cancelled) will arrive on the reply channel.
    Request,
    /// A notification or response: nothing will be answered.
    Accepted,
    /// Invalid message: send this error response.
    Rejected(Value),
    /// The server must crash now.
    Crashed,
}

#[derive(Default)]
struct State {
    /// `initialize` params as received.
    init: Option<Value>,
    initialized: bool,
    toggled: bool,
    inflight: HashMap<String, AbortHandle>,
    pending: HashMap<String, oneshot::Sender<Value>>,
    next_server_id: u64,
    subscriptions: BTreeSet<String>,
    /// Index in [`methods::LOG_LEVELS`] of the level set by `logging/setLevel`.
    log_level: Option<usize>,
    closed: bool,
}

/// One MCP session.
pub(crate) struct Session {
    pub(crate) shared: Arc<Shared>,
    state: Mutex<State>,
    events: Mutex<Option<mpsc::UnboundedSender<Out>>>,
}

impl Session {
    /// A session whose unsolicited notifications go to `events` (if any yet).
    pub(crate) fn new(
        shared: Arc<Shared>,
        events: Option<mpsc::UnboundedSender<Out>>,
    ) -> Arc<Self> {
        Arc::new(Session {
            shared,
            state: Mutex::new(State::default()),
            events: Mutex::new(events),
        })
    }

    /// The options of the server.
    pub(crate) fn opts(&self) -> &Options {
        &self.shared.opts
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// Replaces the stream that receives unsolicited messages (HTTP GET stream).
    pub(crate) fn set_events(&self, tx: mpsc::UnboundedSender<Out>) {
        *self.events.lock() = Some(tx);
    }

    /// Sends a message on the event stream; false if there is none.
    pub(crate) fn send_event(&self, out: Out) -> bool {
        let events = self.events.lock();
        match events.as_ref() {
            Some(tx) => tx.send(out).is_ok(),
            None => {
                eprintln!(
                    "testkit {}: no event stream, dropping {out:?}",
                    self.opts().name
                );
                false
            }
        }
    }

    /// Delivers request-scoped output according to `reply`.
    pub(crate) fn deliver(&self, reply: &Reply, out: Out) -> bool {
        if reply.messages_via_events && matches!(out, Out::Message(_)) {
            self.send_event(out)
        } else {
            reply.tx.send(out).is_ok()
        }
    }

    /// Drops the event stream (the HTTP GET stream ends) without touching requests.
    pub(crate) fn drop_events(&self) {
        self.events.lock().take();
    }

    /// Ends the session: closes the event stream and aborts every in-flight request.
    pub(crate) fn close(&self) {
        self.events.lock().take();
        let mut st = self.state();
        st.closed = true;
        st.pending.clear();
        for (_, task) in st.inflight.drain() {
            task.abort();
        }
    }

    /// Waits until no request is in flight, or until `limit` has passed.
    pub(crate) async fn wait_idle(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.state().inflight.is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The tool list depends on the client's sampling capability and on `toggle`.
    pub(crate) fn tool_view(&self) -> ToolView {
        let st = self.state();
        let sampling = self.opts().misbehave_sampling
            || st
                .init
                .as_ref()
                .and_then(|p| p.pointer("/capabilities/sampling"))
                .is_some_and(|s| !s.is_null());
        ToolView {
            sampling,
            toggled: st.toggled,
        }
    }

    /// `{clientInfo, capabilities, protocolVersion}` as received in initialize.
    pub(crate) fn whoami(&self) -> Value {
        let st = self.state();
        let field = |k: &str| {
            st.init
                .as_ref()
                .and_then(|p| p.get(k))
                .cloned()
                .unwrap_or(Value::Null)
        };
        json!({
            "clientInfo": field("clientInfo"),
            "capabilities": field("capabilities"),
            "protocolVersion": field("protocolVersion"),
        })
    }

    /// Flips the `toggled` tool and returns whether it is now present.
    pub(crate) fn toggle(&self) -> bool {
        let mut st = self.state();
        st.toggled = !st.toggled;
        st.toggled
    }

    /// Records a `resources/subscribe` (true) or `resources/unsubscribe` (false).
    pub(crate) fn subscribe(&self, uri: &str, on: bool) {
        let mut st = self.state();
        if on {
            st.subscriptions.insert(uri.to_string());
        } else {
            st.subscriptions.remove(uri);
        }
    }

    /// Whether the client is subscribed to `uri`.
    pub(crate) fn is_subscribed(&self, uri: &str) -> bool {
        self.state().subscriptions.contains(uri)
    }

    /// Records the `logging/setLevel` level (an index in [`methods::LOG_LEVELS`]).
    pub(crate) fn set_log_level(&self, level: usize) {
        self.state().log_level = Some(level);
    }

    /// Whether a log message at `level` passes the client's `logging/setLevel` (all do before it).
    pub(crate) fn logs_at(&self, level: usize) -> bool {
        self.state().log_level.is_none_or(|min| level >= min)
    }

    /// Sends a server→client request and waits for the client's answer.
    pub(crate) async fn request_client(
        &self,
        reply: &Reply,
        method: &str,
        params: Value,
    ) -> Result<Value, RpcError> {
        let (tx, rx) = oneshot::channel();
        let id = {
            let mut st = self.state();
            st.next_server_id += 1;
            let id = json!(st.next_server_id);
            st.pending.insert(rpc::id_key(&id), tx);
            id
        };
        let msg = rpc::request(&id, method, params);
        if !self.deliver(reply, Out::Message(msg.to_string())) {
            self.state().pending.remove(&rpc::id_key(&id));
            return Err(RpcError::internal(format!(
                "cannot send {method} to the client"
            )));
        }
        let answer = rx
            .await
            .map_err(|_| RpcError::internal("session closed while waiting for the client"))?;
        match (answer.get("result"), answer.get("error")) {
            (Some(result), _) => Ok(result.clone()),
            (None, Some(err)) => Err(RpcError::internal(format!(
                "client answered {method} with {err}"
            ))),
            _ => Err(RpcError::internal("malformed client response")),
        }
    }

    /// Sends a request to the client, then, after `after`, cancels it with
    /// `notifications/cancelled` (as a server may when it no longer needs the answer).
    pub(crate) async fn request_client_then_cancel(
        &self,
        reply: &Reply,
        method: &str,
        params: Value,
        after: std::time::Duration,
    ) -> Result<(), RpcError> {
        let id = {
            let mut st = self.state();
            st.next_server_id += 1;
            json!(st.next_server_id)
        };
        let request = rpc::request(&id, method, params);
        if !self.deliver(reply, Out::Message(request.to_string())) {
            return Err(RpcError::internal(format!(
                "cannot send {method} to the client"
            )));
        }
        tokio::time::sleep(after).await;
        let cancel = rpc::notification(
            "notifications/cancelled",
            json!({ "requestId": id, "reason": "no longer needed" }),
        );
        self.deliver(reply, Out::Message(cancel.to_string()));
        Ok(())
    }

    /// Handles one parsed incoming message.
    pub(crate) fn handle(self: &Arc<Self>, msg: Value, reply: &Reply) -> Handled {
        let params = msg.get("params").cloned().unwrap_or_else(|| json!({}));
        match rpc::classify(&msg) {
            Err(err) => {
                let id = msg.get("id").filter(|i| i.is_string() || i.is_number());
                Handled::Rejected(rpc::error_response(id.unwrap_or(&Value::Null), &err))
            }
            Ok(Kind::Response(id)) => {
                match self.state().pending.remove(&rpc::id_key(id)) {
                    Some(tx) => {
                        let _ = tx.send(msg.clone());
                    }
                    None => eprintln!("testkit {}: unexpected response id {id}", self.opts().name),
                }
                Handled::Accepted
            }
            Ok(Kind::Notification(method)) => {
                self.on_notification(method, &params);
                Handled::Accepted
            }
            Ok(Kind::Request(id, method)) => {
                self.on_request(id.clone(), method.to_string(), params, reply)
            }
        }
    }

    fn on_notification(&self, method: &str, params: &Value) {
        match method {
            "notifications/initialized" => self.state().initialized = true,
            "notifications/cancelled" => {
                let Some(id) = params.get("requestId") else {
                    return;
                };
                if let Some(task) = self.state().inflight.remove(&rpc::id_key(id)) {
                    task.abort();
                }
            }
            _ => {}
        }
    }

    fn mark_early(&self, method: &str, id: &Value) {
        let tag = {
            let st = self.state();
            if st.init.is_none() {
                "BEFORE_INITIALIZE"
            } else if !st.initialized {
                "BEFORE_INITIALIZED"
            } else {
                return;
            }
        };
        eprintln!(
            "testkit {}: {tag}: received {method} (id {id})",
            self.opts().name
        );
        self.shared
            .record(&format!("{tag} {}", json!({ "method": method, "id": id })));
    }

    fn on_request(
        self: &Arc<Self>,
        id: Value,
        method: String,
        params: Value,
        reply: &Reply,
    ) -> Handled {
        let modern =
            self.opts().profile == Profile::Conformance && modern::is_modern(&method, &params);
        match method.as_str() {
            _ if modern => {}
            "initialize" => self.state().init = Some(params.clone()),
            "ping" => {}
            _ => self.mark_early(&method, &id),
        }
        if method == "tools/call" {
            let n = self.shared.count_tool_call();
            if self.opts().crash_after == Some(n) {
                self.shared.crash(&format!("--crash-after {n}"));
                return Handled::Crashed;
            }
            let name = params
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let default_catalog = self.opts().profile == Profile::Default;
            if default_catalog
                && catalog::resolve_tool(self.opts(), self.tool_view(), name) == Some("crash")
            {
                self.shared.crash("crash tool called");
                return Handled::Crashed;
            }
        }
        let this = Arc::clone(self);
        let reply = reply.clone();
        let key = rpc::id_key(&id);
        let mut st = self.state();
        if st.closed {
            return Handled::Accepted;
        }
        let task = tokio::spawn({
            let key = key.clone();
            async move {
                let outcome = if modern {
                    modern::execute(&this, &id, &method, &params, &reply).await
                } else {
                    methods::execute(&this, &method, &params, &reply).await
                };
                let latency = this.opts().latency_ms;
                if latency > 0 {
                    tokio::time::sleep(Duration::from_millis(latency)).await;
                }
                let msg = match outcome {
                    Ok(result) => rpc::response_text(&id, result),
                    Err(err) => rpc::error_response(&id, &err).to_string(),
                };
                this.deliver(&reply, Out::Response(msg));
                this.state().inflight.remove(&key);
            }
        });
        st.inflight.insert(key, task.abort_handle());
        Handled::Request
    }
}
