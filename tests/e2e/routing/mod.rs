//! End-to-end routing through `manifold serve --stdio`, driven by a real MCP client: `rmcp`, the
//! official Rust SDK, spawning Manifold with its `TokioChildProcess` transport.
//!
//! Behind Manifold: two testkit upstreams (stdio) and an `rmcp` server
//! (`examples/rmcp_upstream.rs`), served in-process over Streamable HTTP (rmcp's
//! `StreamableHttpService` under axum, so Manifold's HTTP upstream path is covered too) and, in
//! one test, run as the example binary over stdio.
//!
//! Covered: namespaced lists from every upstream, calls with arguments/results/structured content
//! intact, reads with namespaced URIs and rewritten contents, prompts, completions by prompt and
//! by template reference, Manifold's own pagination walked with rmcp's cursor API, include/exclude
//! filters, collisions between pass-through servers, shortened long names, the client identity
//! forwarded upstream, and resource links that stay readable through Manifold.
//!
//! Each submodule holds one concern: `lists`, `calls`, `pagination`, `naming`,
//! `identity`, `stdio_upstream` and `schema_check`, with the shared fixtures in `support`.

#[path = "../../../examples/rmcp_upstream.rs"]
mod rmcp_upstream;

mod support;

mod calls;
mod client_features;
mod http_face;
mod identity;
mod lists;
mod naming;
mod pagination;
mod schema_check;
mod spans;
mod stdio_upstream;
