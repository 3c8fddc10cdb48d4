//! The cost of the policy stack: `tools/call echo` over Streamable HTTP through two
//! `manifold serve --listen` gateways in front of a shared stdio testkit, in one run,
//! - **policy off**: no `[auth]`, no `[[access]]`, no `[[limits]]`, `validate_arguments = false`,
//!   `[audit] enabled = false` (metrics cannot be switched off and stay on);
//! - **policy on**: a static bearer token, an `[[access]]` rule that filters, a `[[limits]]` rule
//!   matching every call (never refusing), argument validation, the audit log to a file (full
//!   arguments, redaction on), and metrics;
//!
//! each for `POLICY_N` sequential calls and `POLICY_C` concurrent callers on one session,
//! interleaved for `POLICY_ROUNDS` rounds (median round reported); `POLICY_WITHOUT=audit,auth,
//! access,limits,validation` leaves those parts out of "policy on" to see what each costs. Prints calls/s, p50/p99, the
//! throughput ratio on/off, and the gateway's CPU time per call read from `/proc/<pid>/stat`.
//!
//! ```text
//! cargo build --release --workspace --bins && cargo bench --bench policy
//! ```

#[path = "../support/mod.rs"]
mod support;
use support::{bin, env_usize, gateway, measure, Latency, Session};

#[path = "../load/procfs.rs"]
#[allow(dead_code)]
mod procfs;

use std::sync::Arc;

use serde_json::json;

const TOKEN: &str = "bench-token-0123456789";

/// One measurement: calls/s and latency, plus the gateway's CPU time per call (µs).
#[derive(Clone, Copy)]
struct Stats {
    latency: Latency,
    cpu: f64,
}

/// [`measure`]s `n` calls by `c` callers, reading the gateway's CPU time around them.
async fn measure_cpu(session: Arc<Session>, pid: u32, tick: f64, n: usize, c: usize) -> Stats {
    let cpu = || {
        procfs::cpu_of(pid, tick)
            .map(|(u, s)| (u + s).as_secs_f64())
            .unwrap_or(0.0)
    };
    let before = cpu();
    let arguments = Arc::new(json!({"text": "hello, manifold", "api_key": "k"}));
    let latency = measure(session, "t__echo", arguments, n, c).await;
    Stats {
        latency,
        cpu: (cpu() - before) * 1e6 / n as f64,
    }
}

fn median(mut runs: Vec<Stats>) -> Stats {
    runs.sort_by(|a, b| a.latency.per_sec.total_cmp(&b.latency.per_sec));
    runs[runs.len() / 2]
}

fn main() {
    support::block_on(run());
}

async fn run() {
    let n = env_usize("POLICY_N", 5_000);
    let c = env_usize("POLICY_C", 32);
    let rounds = env_usize("POLICY_ROUNDS", 3).max(1);
    let tick = procfs::clock_ticks();
    let http = support::client(c);
    let server = format!(
        "[servers.t]\ncommand = {:?}\nargs = [\"--name\", \"t\"]\nsharing = \"shared\"\n",
        bin("manifold-testkit").display().to_string()
    );
    let off = format!("[audit]\nenabled = false\n{server}validate_arguments = false\n");
    // `POLICY_WITHOUT=audit,auth,...` leaves parts out of "policy on", to see what each costs.
    let without = std::env::var("POLICY_WITHOUT").unwrap_or_default();
    let part = |name: &str, toml: &str| {
        if without.split(',').any(|w| w == name) {
            eprintln!("policy on: without {name}");
            String::new()
        } else {
            toml.to_string()
        }
    };
    let on = [
        part(
            "auth",
            "[[auth.tokens]]\nprincipal = \"bench\"\nfile = \"bench.token\"\n",
        ),
        part(
            "access",
            "[[access]]\nprincipal = \"bench\"\ntools = { deny = [\"t__crash\", \"t__hang\"] }\n",
        ),
        part(
            "limits",
            "[[limits]]\nname = \"everything\"\nrate = 1000000000\nburst = 1000000000\n",
        ),
        part("audit", "[audit]\nfile = \"audit.jsonl\"\n"),
        if without.split(',').any(|w| w == "audit") {
            "[audit]\nenabled = false\n".to_string()
        } else {
            String::new()
        },
        server.clone(),
        if without.split(',').any(|w| w == "validation") {
            "validate_arguments = false\n".to_string()
        } else {
            String::new()
        },
    ]
    .concat();
    let (off_child, off_url, _d1) = gateway(&off, &[("bench.token", TOKEN)]).await;
    let (on_child, on_url, _d2) = gateway(&on, &[("bench.token", TOKEN)]).await;
    let modes = [
        (
            "policy off",
            Arc::new(Session::open(&http, &off_url, Some(TOKEN)).await),
            off_child.id().unwrap(),
        ),
        (
            "policy on",
            Arc::new(Session::open(&http, &on_url, Some(TOKEN)).await),
            on_child.id().unwrap(),
        ),
    ];
    for (_, session, pid) in &modes {
        measure_cpu(session.clone(), *pid, tick, 500.min(n), 1).await; // warm-up
    }
    println!("policy: N={n} C={c} rounds={rounds} (median round by throughput)\n");
    println!("| mode | pattern | calls/s | p50 (µs) | p99 (µs) | gateway CPU/call (µs) |");
    println!("|---|---|---:|---:|---:|---:|");
    let mut results = Vec::new();
    for (pattern, conc) in [("sequential", 1), ("concurrent", c)] {
        let mut runs: [Vec<Stats>; 2] = Default::default();
        for _ in 0..rounds {
            for (m, (_, session, pid)) in modes.iter().enumerate() {
                runs[m].push(measure_cpu(session.clone(), *pid, tick, n, conc).await);
            }
        }
        let [off, on] = runs.map(median);
        for ((label, _, _), s) in modes.iter().zip([off, on]) {
            println!(
                "| {label} | {pattern} (C={conc}) | {:.0} | {:.1} | {:.1} | {:.1} |",
                s.latency.per_sec, s.latency.p50, s.latency.p99, s.cpu
            );
        }
        results.push((pattern, conc, off, on));
    }
    println!(
        "\n| pattern | throughput on/off | added p50 (µs) | added gateway CPU per call (µs) |"
    );
    println!("|---|---:|---:|---:|");
    for (pattern, conc, off, on) in results {
        println!(
            "| {pattern} (C={conc}) | {:.3} | {:+.1} | {:+.1} |",
            on.latency.per_sec / off.latency.per_sec,
            on.latency.p50 - off.latency.p50,
            on.cpu - off.cpu
        );
    }
}
