//! `manifold-testkit`: a configurable fake MCP server for Manifold's tests, benchmarks and demo.
//!
//! It speaks the legacy MCP lifecycle (protocol versions 2024-11-05 … 2025-11-25), and under
//! `--profile conformance` also the stateless 2026-07-28 era, over
//! stdio ([`serve_stdio`]) or Streamable HTTP ([`serve_http`]), and its behaviour is
//! driven by [`Options`] (the binary's command-line flags).
//!
//! Tools: `echo`, `add`, `fail`, `sleep`, `hang`, `crash`, `garbage`, `big`, `link`,
//! `whoami`, `toggle` (adds/removes `toggled`), `sample` (only when the client declared
//! `sampling`), `roots` (`--roots-tool`: asks the client's roots), `gen_<i>` (`--tools N`)
//! and a 60-character name (`--long-names`), all
//! prefixed by `--tool-prefix`. Resources `testkit://<name>/res/<i>`, template
//! `testkit://<name>/tpl/{id}`, prompts `greet` and `prompt_<i>`, and completion for
//! `greet`'s `name` and the template's `id`.
//!
//! Requests run concurrently (responses may go out of order); `notifications/cancelled`
//! aborts a request so it is never answered. Over HTTP, `initialize` creates a session
//! (`Mcp-Session-Id`, 32 hex characters); other messages need that header (400 without,
//! 404 when unknown, deleted or expired by `--session-ttl-requests`). In the default
//! JSON mode, progress notifications and server→client requests of a POSTed request
//! go out on the session's GET stream; with `--sse` they precede the response on the
//! POST's own event stream. A cancelled POST in JSON mode is answered `202` with no body.
//!
//! `--profile conformance` ([`Profile::Conformance`]) replaces that catalog with the fixture
//! of the official conformance suite (`@modelcontextprotocol/conformance`): `test_*` tools
//! (logging, progress, sampling, elicitation, SEP-1034/1330 forms, `test_reconnection`) and
//! `json_schema_2020_12_tool`, `test://` resources and a template, `test_*` prompts. There,
//! `--sse` streams are resumable (SEP-1699): a priming event (id, `retry`), ids on every
//! event, and a GET with `Last-Event-ID` gets the rest of a stream the server closed early.
//!
//! The conformance profile is dual-era: beside the legacy lifecycle it serves the stateless
//! 2026-07-28 era (module `modern`). A request whose `params._meta` names
//! `io.modelcontextprotocol/protocolVersion` (and any `server/discover` or
//! `subscriptions/listen`) is of that era; over HTTP so is a POST without a session whose
//! `MCP-Protocol-Version` is no legacy version; `initialize` without such `_meta` starts a
//! legacy session as before. In that era there is no session: `server/discover` lists every
//! version served and the capabilities; `_meta` must carry the version and
//! `clientCapabilities` (`-32602`), the version must be 2026-07-28 (`-32022` with
//! `data.supported`/`requested`); removed methods (`initialize`, `ping`, `logging/setLevel`,
//! `resources/subscribe`, `resources/unsubscribe`) and unknown ones are `-32601`; every result
//! carries `resultType` and `_meta["io.modelcontextprotocol/serverInfo"]`, and discover, the
//! lists and reads carry `ttlMs`/`cacheScope` (lists `ttlMs` 0, or `--list-ttl-ms`); an unknown
//! resource is `-32602` with `data.uri`. `--unannounced-changes` keeps list changes off listen
//! streams.
//! Its tools are the legacy fixture's plus the MRTR ones (`mrtr_tools`: they answer
//! `InputRequiredResult`s, some with a `requestState` sealed by HMAC-SHA256 under a random
//! per-process key, and ask only for input kinds the client declared, `-32021` otherwise;
//! `test_sampling` and the elicitation tools ask through MRTR too) and the diagnostic ones
//! (`modern_catalog`); the prompt `test_input_required_result_prompt` asks for input first.
//! Progress goes out when `_meta.progressToken` is given, `notifications/message` only when
//! `_meta["io.modelcontextprotocol/logLevel"]` is, at or above it. `subscriptions/listen`
//! (`listen`) is acknowledged first, then gets only the kinds it asked for, tagged with
//! `_meta["io.modelcontextprotocol/subscriptionId"]` (its request id), until cancelled;
//! `test_trigger_tool_change`/`test_trigger_prompt_change` add or remove `test_dynamic_tool`/
//! `test_dynamic_prompt` and tell the listens. Over HTTP (`modern_http`) headers present must
//! agree with the body (`MCP-Protocol-Version` with `_meta`, `Mcp-Method`, `Mcp-Name`:
//! `-32020`), errors carry the era's status (400; 404 for `-32601`), nothing is minted, and a
//! request that sends a message before its response (or, with `--sse`, any success) is answered
//! with a plain event stream; dropping the answer cancels the request. Over stdio the era's
//! messages are interleaved lines and `notifications/cancelled` ends a listen. The default
//! profile stays legacy-only.
//!
//! A server bound to a loopback address refuses (403) a `Host` or `Origin` header that is
//! not local (DNS-rebinding protection).
//!
//! With `--record FILE` every received line is appended verbatim; HTTP adds a
//! `HEADERS {…}` line (with a `:method` key) before each request's body, and requests
//! received before `initialize` (or before `notifications/initialized`) add a
//! `BEFORE_INITIALIZE {"method":…,"id":…}` (or `BEFORE_INITIALIZED {…}`) line.

mod catalog;
mod conformance;
mod conformance_tools;
mod guard;
mod http;
mod listen;
mod methods;
mod modern;
mod modern_catalog;
mod modern_http;
mod mrtr;
mod mrtr_tools;
mod options;
mod record;
mod resume;
mod rpc;
mod session;
mod shared;
mod sse;
mod stdio;
mod tools;

use std::fmt;

pub use http::serve_http;
pub use options::{Options, Profile};
pub use stdio::serve_stdio;

/// The error returned by [`serve_stdio`] and [`serve_http`] when the server "crashed"
/// on purpose (`crash` tool or `--crash-after`). The binary exits with code 3 on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crashed;

impl fmt::Display for Crashed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("testkit crashed on purpose")
    }
}

impl std::error::Error for Crashed {}

/// Exit code of the binary after a deliberate crash.
pub const CRASH_EXIT_CODE: i32 = 3;

/// The line the `garbage` tool writes to stdout before answering.
pub const GARBAGE_LINE: &str = tools::GARBAGE;
