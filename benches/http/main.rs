//! HTTP load generator: `tools/call echo` over Streamable HTTP, in one run,
//! - **direct** to a `manifold-testkit --http` upstream,
//! - **HTTP→stdio**: through `manifold serve --listen` to a shared stdio testkit,
//! - **HTTP→HTTP**: through `manifold serve --listen` to the testkit over Streamable HTTP,
//!
//! each for `HTTP_N` sequential calls and `HTTP_C` concurrent callers on one session; then the
//! gateway's RSS with no session and with `HTTP_IDLE` idle sessions open. Binaries come from
//! `target/<profile>/` (build them first: `cargo build --release --workspace --bins`).
//!
//! ```text
//! cargo build --release --workspace --bins && cargo bench --bench http
//! ```

#[path = "../support/mod.rs"]
mod support;
use support::{bin, env_usize, gateway, measure, start, Session};

use std::sync::Arc;

use serde_json::json;
use tokio::process::Command;

/// Spawns a child that prints `listening on <url>` first; returns it and the URL.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn main() {
    support::block_on(run());
}

async fn run() {
    let n = env_usize("HTTP_N", 5_000);
    let c = env_usize("HTTP_C", 32);
    let idle = env_usize("HTTP_IDLE", 10_000);
    let http = support::client(c);
    let testkit = bin("manifold-testkit");
    let args = Arc::new(json!({"text": "hello, manifold"}));

    let mut upstream = Command::new(&testkit);
    upstream.args(["--name", "t", "--http", "127.0.0.1:0"]);
    let (_upstream, upstream_url) = start(upstream).await;
    let testkit_cmd = format!(
        "command = {:?}\nargs = [\"--name\", \"t\"]",
        testkit.display().to_string()
    );
    let shared = format!("[servers.t]\n{testkit_cmd}\nsharing = \"shared\"\n");
    let (_g1, via_stdio, _d1) = gateway(&shared, &[]).await;
    let (_g2, via_http, _d2) =
        gateway(&format!("[servers.t]\nurl = {upstream_url:?}\n"), &[]).await;

    let modes = [
        ("direct", upstream_url.as_str(), "echo"),
        ("manifold HTTP→stdio", via_stdio.as_str(), "t__echo"),
        ("manifold HTTP→HTTP", via_http.as_str(), "t__echo"),
    ];
    println!("http: N={n} C={c}\n");
    println!("| mode | pattern | calls/s | p50 (µs) | p99 (µs) |\n|---|---|---:|---:|---:|");
    let mut direct = Vec::new();
    for (label, url, tool) in modes {
        let session = Arc::new(Session::open(&http, url, None).await);
        measure(session.clone(), tool, args.clone(), 500.min(n), 1).await; // warm-up
        for (pattern, conc) in [("sequential", 1), ("concurrent", c)] {
            let s = measure(session.clone(), tool, args.clone(), n, conc).await;
            println!(
                "| {label} | {pattern} (C={conc}) | {:.0} | {:.1} | {:.1} |",
                s.per_sec, s.p50, s.p99
            );
            if label == "direct" {
                direct.push(s);
            } else {
                let d = &direct[usize::from(conc != 1)];
                eprintln!(
                    "  {label} {pattern}: throughput {:.3} of direct, p50 +{:.1} µs",
                    s.per_sec / d.per_sec,
                    s.p50 - d.p50
                );
            }
        }
    }

    // Memory per idle session, on the HTTP→stdio gateway (shared upstream: no process per session).
    let (g3, url, _d3) = gateway(&shared, &[]).await;
    let pid = g3.id().unwrap();
    let warm = Session::open(&http, &url, None).await;
    warm.echo(1, "t__echo", &args).await;
    let before = rss_kib(pid);
    let limit = Arc::new(tokio::sync::Semaphore::new(64));
    let mut tasks = Vec::new();
    for _ in 0..idle {
        let (http, url, limit) = (http.clone(), url.clone(), limit.clone());
        tasks.push(tokio::spawn(async move {
            let _p = limit.acquire_owned().await.unwrap();
            Session::open(&http, &url, None).await.id
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let after = rss_kib(pid);
    println!(
        "\nidle sessions: RSS {before} KiB with 1 session, {after} KiB with {} sessions: {:.1} KiB per idle session",
        idle + 1,
        (after.saturating_sub(before)) as f64 / idle.max(1) as f64
    );
}
