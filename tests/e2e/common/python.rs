//! The official Python SDK's scripts (tests/python; `mcp` pinned in requirements.txt, installed
//! in tests/python/.venv by `scripts/test`), run with the venv's interpreter: a file under
//! tests/python, and one script run to its one JSON summary.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;

/// `rel` under tests/python, which must exist.
pub fn python_path(rel: &str) -> PathBuf {
    let path = super::repo_root().join("tests/python").join(rel);
    assert!(
        path.exists(),
        "{} is missing: run `scripts/test`",
        path.display()
    );
    path
}

/// The venv's interpreter, which has the pinned SDK.
pub fn interpreter() -> PathBuf {
    python_path(".venv/bin/python")
}

/// Runs tests/python/`script` with `target` and `plan` (as JSON) as its arguments, within
/// `limit`; the one JSON object it prints.
pub async fn run_script(script: &str, target: &str, plan: &Value, limit: Duration) -> Value {
    let output = Command::new(interpreter())
        .arg(python_path(script))
        .arg(target)
        .arg(plan.to_string())
        .current_dir(python_path(""))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(limit, output)
        .await
        .unwrap_or_else(|_| panic!("{script} finished within {limit:?}"))
        .expect("python ran");
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
