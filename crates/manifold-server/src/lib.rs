//! Manifold's downstream faces: how clients reach the one gateway. The stdio face, the Streamable
//! HTTP face with its legacy HTTP+SSE endpoints, TLS and SSE replay, the admin listener, and the
//! reload on SIGHUP. Each face decodes what a client sends, hands it to a
//! [`manifold_router::Session`], and writes back what the session answers; routing itself lives in
//! `manifold-router`.

pub mod admin;
mod background;
mod http;
mod reload;
mod stdio;

pub use http::serve_http;
pub use stdio::serve_stdio;
