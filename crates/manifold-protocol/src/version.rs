//! Protocol versions Manifold speaks and their negotiation (mcp-spec.md §1.1).

/// Legacy-era versions, oldest first.
pub const SUPPORTED: &[&str] = &["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

/// The newest version Manifold speaks.
pub const LATEST: &str = "2025-11-25";

/// The version to answer a client that asked for `requested`: the same one if supported,
/// otherwise the latest (the spec's rule for servers).
pub fn negotiate(requested: &str) -> &'static str {
    SUPPORTED
        .iter()
        .copied()
        .find(|v| *v == requested)
        .unwrap_or(LATEST)
}

/// Whether `version` is one Manifold speaks.
pub fn is_supported(version: &str) -> bool {
    SUPPORTED.contains(&version)
}

/// JSON-RPC batches exist only in 2025-03-26 (added there, removed in 2025-06-18).
pub fn allows_batches(version: &str) -> bool {
    version == "2025-03-26"
}
