//! Protocol versions Manifold speaks and their negotiation (mcp-spec.md §1.1, §1.2).

/// Legacy-era versions (negotiated by `initialize`), oldest first.
pub const SUPPORTED: &[&str] = &["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

/// The newest legacy-era version.
pub const LATEST: &str = "2025-11-25";

/// The modern era's version: stateless requests carrying it in `_meta`.
pub const MODERN: &str = "2026-07-28";

/// Every version Manifold serves, both eras, oldest first (`server/discover`'s
/// `supportedVersions`, and `data.supported` of `-32022`).
pub const SERVED: &[&str] = &[
    "2024-11-05",
    "2025-03-26",
    "2025-06-18",
    "2025-11-25",
    MODERN,
];

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
