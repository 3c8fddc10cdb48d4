//! Helpers the HTTP load generators share: numeric settings from the environment, and the
//! release binaries they run.

use std::path::{Path, PathBuf};

/// `name` from the environment as a number, else `default`.
pub(crate) fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The binary `name` from `LOAD_BIN_DIR`, else from the bench's own `target/<profile>/`; exits
/// with a hint when it is not built.
pub(crate) fn bin(name: &str) -> PathBuf {
    let dir = std::env::var_os("LOAD_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let exe = std::env::current_exe().expect("current_exe");
            exe.parent()
                .and_then(Path::parent)
                .expect("target/<profile>/deps")
                .to_path_buf()
        });
    let path = dir.join(name);
    if !path.is_file() {
        eprintln!(
            "error: {} is missing; run `cargo build --release --workspace --bins` first",
            path.display()
        );
        std::process::exit(2);
    }
    path
}
