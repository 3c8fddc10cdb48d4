//! Waiting for what happens in the background (a restart, a reload, a line in a record file):
//! one poll-until helper, so that every test waits the same way, bounded, and fails saying what
//! never happened.

use std::fmt::Display;
use std::time::Duration;

use tokio::time::{sleep, Instant};

/// How long [`eventually`] sleeps between two probes.
const POLL: Duration = Duration::from_millis(20);

/// What a probe of [`eventually`] answers: `Some(value)` or `Ok(value)` when what it waits for
/// has happened; `None`, or `Err(what it saw)` for the failure message, when not yet.
pub trait Probe {
    type Value;
    fn settled(self) -> Result<Self::Value, String>;
}

impl<T> Probe for Option<T> {
    type Value = T;
    fn settled(self) -> Result<T, String> {
        self.ok_or_else(String::new)
    }
}

impl<T, E: Display> Probe for Result<T, E> {
    type Value = T;
    fn settled(self) -> Result<T, String> {
        self.map_err(|seen| seen.to_string())
    }
}

/// Runs `probe` until it answers `Some`/`Ok`, every [`POLL`], and returns its value; panics with
/// `what` (and what the probe last saw, if it said) once `within` has passed. The bound is
/// generous: a slow machine waits longer, it does not fail sooner.
pub async fn eventually<P: Probe>(
    what: &str,
    within: Duration,
    mut probe: impl AsyncFnMut() -> P,
) -> P::Value {
    let deadline = Instant::now() + within;
    loop {
        let seen = match probe().await.settled() {
            Ok(value) => return value,
            Err(seen) => seen,
        };
        if Instant::now() >= deadline {
            if seen.is_empty() {
                panic!("{what}: not within {within:?}");
            }
            panic!("{what}: not within {within:?}; last seen: {seen}");
        }
        sleep(POLL).await;
    }
}
