//! `subscriptions/listen` (2026-07-28): the server-wide [`Hub`] of open listens and of the list
//! changes the trigger tools make, and the listen request itself. A listen is acknowledged
//! first (`notifications/subscriptions/acknowledged` with the filter it honours), then gets only
//! the notifications its filter asked for, each tagged with
//! `_meta["io.modelcontextprotocol/subscriptionId"]` (the listen request's id). It is never
//! answered: it ends when cancelled (stdio `notifications/cancelled`, HTTP closing the stream).

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::conformance;
use crate::rpc::{self, RpcError};
use crate::session::{Out, Reply, Session};
use crate::shared::Shared;

/// `_meta` key naming the listen a notification belongs to.
pub(crate) const SUBSCRIPTION_ID_KEY: &str = "io.modelcontextprotocol/subscriptionId";

/// The resource that reports an update shortly after a listen subscribes to it.
const WATCHED: &str = "test://watched-resource";

/// How long after the acknowledgement the watched resource reports its update.
const WATCHED_UPDATE_AFTER: Duration = Duration::from_millis(100);

/// What a listen asked for (`params.notifications`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Filter {
    tools: bool,
    prompts: bool,
    resources: bool,
    /// URIs whose `notifications/resources/updated` are wanted (those the fixture has).
    uris: Vec<String>,
}

impl Filter {
    /// Reads `params.notifications` (`-32602` when absent or malformed); unknown resource URIs
    /// are left out of what is honoured.
    pub(crate) fn read(params: &Value) -> Result<Filter, RpcError> {
        let asked = params
            .get("notifications")
            .and_then(Value::as_object)
            .ok_or_else(|| RpcError::invalid_params("missing object notifications"))?;
        let flag = |key: &str| asked.get(key).and_then(Value::as_bool) == Some(true);
        let uris = match asked.get("resourceSubscriptions") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .filter(|uri| conformance::read_resource(uri).is_ok())
                .map(str::to_string)
                .collect(),
            Some(_) => {
                return Err(RpcError::invalid_params(
                    "resourceSubscriptions must be an array of URIs",
                ))
            }
        };
        Ok(Filter {
            tools: flag("toolsListChanged"),
            prompts: flag("promptsListChanged"),
            resources: flag("resourcesListChanged"),
            uris,
        })
    }

    /// The honoured filter, as the acknowledgement reports it.
    fn to_value(&self) -> Value {
        let mut out = Map::new();
        for (key, on) in [
            ("toolsListChanged", self.tools),
            ("promptsListChanged", self.prompts),
            ("resourcesListChanged", self.resources),
        ] {
            if on {
                out.insert(key.into(), json!(true));
            }
        }
        if !self.uris.is_empty() {
            out.insert("resourceSubscriptions".into(), json!(self.uris));
        }
        Value::Object(out)
    }

    fn wants(&self, change: &Change) -> bool {
        match change {
            Change::Tools => self.tools,
            Change::Prompts => self.prompts,
            Change::Updated(uri) => self.uris.iter().any(|u| u == uri),
        }
    }
}

/// A change listens may be told about.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    /// `notifications/tools/list_changed`.
    Tools,
    /// `notifications/prompts/list_changed`.
    Prompts,
    /// `notifications/resources/updated` of a URI.
    Updated(String),
}

impl Change {
    fn notification(&self, subscription: &Value) -> Value {
        let meta = json!({ SUBSCRIPTION_ID_KEY: subscription });
        let (method, mut params) = match self {
            Change::Tools => ("notifications/tools/list_changed", json!({})),
            Change::Prompts => ("notifications/prompts/list_changed", json!({})),
            Change::Updated(uri) => ("notifications/resources/updated", json!({ "uri": uri })),
        };
        params["_meta"] = meta;
        rpc::notification(method, params)
    }
}

struct Listen {
    subscription: Value,
    filter: Filter,
    reply: Reply,
}

/// Server-wide state of the modern era: the open listens and the dynamic tool and prompt.
#[derive(Default)]
pub(crate) struct Hub {
    next: AtomicU64,
    listens: Mutex<HashMap<u64, Listen>>,
    tool_added: AtomicBool,
    prompt_added: AtomicBool,
}

impl Hub {
    /// Tells every open listen that asked for `change`.
    pub(crate) fn notify(&self, change: &Change) {
        for listen in self.listens.lock().values() {
            if listen.filter.wants(change) {
                let note = change.notification(&listen.subscription);
                listen.reply.send(Out::Message(note.to_string()));
            }
        }
    }

    /// Flips `test_dynamic_tool`; whether it is now listed.
    pub(crate) fn toggle_tool(&self) -> bool {
        !self.tool_added.fetch_xor(true, Ordering::SeqCst)
    }

    /// Whether `test_dynamic_tool` is listed.
    pub(crate) fn tool_added(&self) -> bool {
        self.tool_added.load(Ordering::SeqCst)
    }

    /// Flips `test_dynamic_prompt`; whether it is now listed.
    pub(crate) fn toggle_prompt(&self) -> bool {
        !self.prompt_added.fetch_xor(true, Ordering::SeqCst)
    }

    /// Whether `test_dynamic_prompt` is listed.
    pub(crate) fn prompt_added(&self) -> bool {
        self.prompt_added.load(Ordering::SeqCst)
    }

    /// Opens a listen and sends its acknowledgement, under the lock, so that no change can
    /// reach it first.
    fn open(&self, subscription: &Value, filter: Filter, reply: &Reply) -> u64 {
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        let params = json!({
            "_meta": { SUBSCRIPTION_ID_KEY: subscription },
            "notifications": filter.to_value(),
        });
        let ack = rpc::notification("notifications/subscriptions/acknowledged", params);
        let mut listens = self.listens.lock();
        reply.send(Out::Message(ack.to_string()));
        let listen = Listen {
            subscription: subscription.clone(),
            filter,
            reply: reply.clone(),
        };
        listens.insert(key, listen);
        key
    }

    /// How many listens are open.
    #[cfg(test)]
    fn open_count(&self) -> usize {
        self.listens.lock().len()
    }
}

/// Closes a listen when dropped (the listen request was cancelled or its server stopped).
struct Opened {
    shared: Arc<Shared>,
    key: u64,
}

impl Drop for Opened {
    fn drop(&mut self) {
        self.shared.hub.listens.lock().remove(&self.key);
    }
}

/// Serves `subscriptions/listen` with request id `id`: never returns, ends when cancelled.
pub(crate) async fn listen(
    session: &Arc<Session>,
    id: &Value,
    params: &Value,
    reply: &Reply,
) -> Result<Value, RpcError> {
    let filter = Filter::read(params)?;
    let watched = filter.wants(&Change::Updated(WATCHED.into()));
    let shared = Arc::clone(&session.shared);
    let key = shared.hub.open(id, filter, reply);
    let _opened = Opened { shared, key };
    if watched {
        tokio::time::sleep(WATCHED_UPDATE_AFTER).await;
        let note = Change::Updated(WATCHED.into()).notification(id);
        reply.send(Out::Message(note.to_string()));
    }
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    #[test]
    fn only_asked_changes_reach_a_listen() {
        let hub = Hub::default();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let filter = Filter::read(&json!({ "notifications": {
            "promptsListChanged": true,
            "resourceSubscriptions": ["test://static-text", "test://nope"],
        } }))
        .unwrap();
        hub.open(&json!("L1"), filter, &Reply::direct(tx));
        hub.notify(&Change::Tools);
        hub.notify(&Change::Prompts);
        hub.notify(&Change::Updated("test://static-text".into()));
        let mut got = Vec::new();
        while let Ok(Out::Message(m)) = rx.try_recv() {
            got.push(serde_json::from_str::<Value>(&m).unwrap());
        }
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0]["method"], "notifications/subscriptions/acknowledged");
        assert_eq!(
            got[0]["params"]["notifications"],
            json!({ "promptsListChanged": true, "resourceSubscriptions": ["test://static-text"] })
        );
        assert_eq!(got[1]["method"], "notifications/prompts/list_changed");
        assert_eq!(got[2]["params"]["uri"], "test://static-text");
        assert!(got
            .iter()
            .all(|n| n["params"]["_meta"][SUBSCRIPTION_ID_KEY] == "L1"));
        assert_eq!(hub.open_count(), 1);
        assert!(Filter::read(&json!({})).is_err());
    }
}
