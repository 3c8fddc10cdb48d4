//! In-process MCP peers for Manifold's unit tests: [`TestServer`], a small server written with
//! `rmcp` (the official Rust SDK), served on one end of a `tokio::io::duplex` pipe while the
//! other end is a Manifold [`manifold_transport::Connection`]; the [`Record`] of what it saw; and
//! [`within`], the bounded wait the tests share. Everything runs on Tokio's clock, so tests
//! under paused time (`#[tokio::test(start_paused = true)]`) see exact durations.

mod record;
mod serve;
mod server;

use std::future::Future;
use std::time::Duration;

pub use record::{Record, Seen};
pub use server::TestServer;

/// How long [`within`] waits. Under paused time this costs nothing: the clock jumps there when
/// nothing else can run.
pub const PATIENCE: Duration = Duration::from_secs(600);

/// Awaits `future`, failing the test with `what` if it takes longer than [`PATIENCE`] (so a
/// test that would hang fails instead).
pub async fn within<F: Future>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(PATIENCE, future).await {
        Ok(output) => output,
        Err(_) => panic!("{what}: not done within {PATIENCE:?}"),
    }
}
