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
mod handshake;
mod input_bridge;
mod input_relay;
mod listen;
mod lists;
mod modern;
mod mrtr;
pub mod naming;
mod pool;
mod progress;
mod relay;
mod request_state;
mod return_path;
pub mod rewrite;
#[cfg(test)]
mod rewrite_check;
#[cfg(test)]
mod rewrite_props;
mod routed;
mod server;
mod session;
mod set;
mod subscriptions;

pub use error::RouteError;
pub use gateway::{Clients, Gateway};
pub use session::{Face, Session};
