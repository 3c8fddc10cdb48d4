//! What an attacker, a careless client and a real host do to Manifold (issue 9), end to end
//! against the real binary. Each submodule holds one class of input, on every face it
//! applies to: `duplicates` (repeated keys checked once, refused before routing, audited),
//! `ids` (every error answer carries a readable id), `bytes` (what Manifold does not rewrite
//! arrives as sent), `memory` (bounded whatever a client or upstream does), `slow_clients`
//! (timeouts and the connection limit, plain and TLS), `origin` (strict Host/Origin/Content-Type
//! parsing), `sessions` (refused requests do not keep a session alive) and `stdio_socket` (the
//! socketpair stdio of Node-based hosts).

mod bytes;
mod duplicates;
mod ids;
mod memory;
mod origin;
mod sessions;
mod slow_clients;
mod stdio_socket;
mod support;
