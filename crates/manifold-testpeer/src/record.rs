//! [`Record`]: what a [`crate::TestServer`] saw, in order, across all its lives, for tests to
//! assert on and to wait for.

use serde_json::Value;
use tokio::sync::watch;

/// One thing the server saw.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    /// `notifications/initialized`, with the `clientInfo.name` its client sent in `initialize`.
    Initialized {
        /// The client's name.
        client: String,
    },
    /// A `tools/call`.
    Call {
        /// Its request id, as the client sent it.
        id: Value,
        /// The tool's name, as the client sent it.
        name: String,
        /// Its arguments (`null` when absent).
        arguments: Value,
    },
    /// `notifications/cancelled`.
    Cancelled {
        /// The `requestId` it named.
        request_id: Value,
        /// Its `reason`.
        reason: Option<String>,
    },
    /// A `slow` call that learnt of its cancellation before it finished (and so never answered).
    Abandoned {
        /// Its request id.
        id: Value,
    },
    /// A life of the server ended: its client closed the pipe, or it crashed.
    Ended,
}

/// What a server saw; cheap to clone, shared by every life of the server.
#[derive(Debug, Clone)]
pub struct Record {
    seen: watch::Sender<Vec<Seen>>,
}

impl Default for Record {
    fn default() -> Self {
        Record {
            seen: watch::Sender::new(Vec::new()),
        }
    }
}

impl Record {
    pub(crate) fn push(&self, seen: Seen) {
        self.seen.send_modify(|all| all.push(seen));
    }

    /// Everything seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.borrow().clone()
    }

    /// The calls seen so far, as (request id, tool name).
    pub fn calls(&self) -> Vec<(Value, String)> {
        self.seen
            .borrow()
            .iter()
            .filter_map(|s| match s {
                Seen::Call { id, name, .. } => Some((id.clone(), name.clone())),
                _ => None,
            })
            .collect()
    }

    /// Waits (within [`crate::PATIENCE`]) until `done` holds of what was seen; returns it.
    pub async fn until(&self, what: &str, mut done: impl FnMut(&[Seen]) -> bool) -> Vec<Seen> {
        let mut rx = self.seen.subscribe();
        let seen = crate::within(what, rx.wait_for(|all| done(all))).await;
        match seen {
            Ok(all) => all.clone(),
            // The sender lives in `self`: it cannot be gone while we wait.
            Err(_) => self.seen(),
        }
    }
}
