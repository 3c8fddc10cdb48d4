//! Resolving the program of a stdio upstream: `PATH` first, then next to the running executable
//! (so bundled helpers such as `manifold-testkit` are found from any working directory).

use std::path::{Path, PathBuf};

/// The path to run for `command`.
pub(crate) fn resolve(command: &str) -> PathBuf {
    if command.contains('/') {
        return PathBuf::from(command);
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join(command);
            if is_executable(&candidate) {
                return candidate;
            }
        }
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        let beside = dir.join(command);
        if is_executable(&beside) {
            return beside;
        }
    }
    PathBuf::from(command)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
