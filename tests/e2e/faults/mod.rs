//! End-to-end fault tests: upstreams that crash, hang, write garbage or huge messages, fail to
//! start, come up late, or speak Streamable HTTP with expiring sessions; client cancellation;
//! and Manifold's own death (`kill -9`, stdin EOF) taking every upstream process with it.
//! Every test runs at least two upstreams and shows the healthy one keeps serving.
//!
//! Each submodule holds one concern: `crashes`, `timeouts_and_cancels`, `bad_output`,
//! `startup`, `processes` and `http_upstreams`, with the shared helpers in `support`.

mod support;

mod bad_output;
mod crashes;
mod http_upstreams;
mod processes;
mod startup;
mod timeouts_and_cancels;
