//! Manifold's own end (`kill -9`, stdin EOF) takes every upstream process with it; upstream
//! processes are found through `/proc`.

use std::time::Duration;

use serde_json::json;
use tokio::time::timeout;

use super::support::{assert_echo, call_within};
use crate::common::{eventually, pid_alive, testkit_server, write_config, Gateway};

/// Pids of every live descendant of `root` (found through /proc's parent links).
fn descendants(root: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let ppid = rest
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parents.push((pid, ppid));
        }
    }
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for &(pid, ppid) in &parents {
            if ppid == p && !found.contains(&pid) {
                found.push(pid);
                frontier.push(pid);
            }
        }
    }
    found.retain(|&p| pid_alive(p));
    found
}

/// Waits (at most 5 s) until none of `pids` is alive.
async fn assert_all_gone(pids: &[u32]) {
    let what = "every upstream process gone after manifold ended";
    eventually(what, Duration::from_secs(5), async || {
        let alive: Vec<u32> = pids.iter().copied().filter(|&p| pid_alive(p)).collect();
        if alive.is_empty() {
            Ok(())
        } else {
            Err(format!("still alive: {alive:?}"))
        }
    })
    .await;
}

/// Waits until manifold has started `n` upstream processes and returns their pids.
async fn upstream_pids(gw: &Gateway, n: usize) -> Vec<u32> {
    let manifold = gw.child.id().expect("manifold pid");
    let what = format!("{n} upstream processes of manifold (pid {manifold})");
    eventually(&what, Duration::from_secs(10), async || {
        let pids = descendants(manifold);
        if pids.len() >= n {
            Ok(pids)
        } else {
            Err(format!("it has {}", pids.len()))
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_of_manifold_leaves_no_upstream_alive() {
    let (_dir, config) = write_config(&format!(
        "{}{}",
        testkit_server("a", &["--name", "a"], ""),
        testkit_server("b", &["--name", "b"], "")
    ));
    let mut gw = Gateway::spawn(&config);
    gw.initialize().await;
    let r = call_within(
        &mut gw,
        1,
        "a__echo",
        json!({"text": "up"}),
        Duration::from_secs(5),
    )
    .await;
    assert_echo(&r, "up");
    let pids = upstream_pids(&gw, 2).await;
    assert!(pids.iter().all(|&p| pid_alive(p)));

    // tokio's start_kill sends SIGKILL.
    gw.child.start_kill().expect("SIGKILL manifold");
    let status = timeout(Duration::from_secs(5), gw.child.wait())
        .await
        .expect("manifold did not die")
        .expect("wait");
    assert!(!status.success());
    assert_all_gone(&pids).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stdin_eof_exits_0_and_ends_every_upstream() {
    let (_dir, config) = write_config(&format!(
        "{}{}",
        testkit_server("a", &["--name", "a"], ""),
        testkit_server("b", &["--name", "b"], "")
    ));
    let mut gw = Gateway::spawn(&config);
    gw.initialize().await;
    let r = call_within(
        &mut gw,
        1,
        "b__echo",
        json!({"text": "up"}),
        Duration::from_secs(5),
    )
    .await;
    assert_echo(&r, "up");
    // One call still in flight when the client goes away.
    gw.send(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                    "params": {"name": "a__hang", "arguments": {}}}))
        .await;
    let pids = upstream_pids(&gw, 2).await;

    let status = gw.close().await;
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_all_gone(&pids).await;
}
