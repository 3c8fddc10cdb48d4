//! Routing, the heart of Manifold: the merged, namespaced catalog; dispatch of every client request
//! to the upstream that owns it; rewriting of names, URIs and cursors; relaying of upstream
//! notifications and server→client requests back to the right client. The faces that clients
//! reach it through are in `manifold-server`.

pub mod catalog;
pub mod cursor;
mod discovery;
mod dispatch;
pub mod downstream;
pub mod error;
mod events;
mod forward;
mod gateway;
pub mod naming;
mod return_path;
pub mod rewrite;
#[cfg(test)]
mod rewrite_check;
#[cfg(test)]
mod rewrite_props;
mod session;
mod subscriptions;

pub use error::RouteError;
pub use gateway::Gateway;
pub use session::{Face, Session};

impl Gateway {
    /// Forwards a client notification to every upstream this gateway runs that is up (borrowed,
    /// shared upstreams were not told about this client).
    pub async fn broadcast(&self, method: &str, params: Option<&manifold_protocol::RawValue>) {
        let counter = self
            .metrics()
            .notifications
            .with_label_values(&[manifold_metrics::method_label(method), "to_upstream"]);
        for slot in self.shared.slots.iter().filter(|s| s.borrowed.is_none()) {
            if slot.is_up() {
                slot.upstream.notify(method, params).await;
                counter.inc();
            }
        }
    }
}
