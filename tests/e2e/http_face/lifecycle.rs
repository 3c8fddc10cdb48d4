//! Lifecycle: in-flight calls drained on SIGTERM with no upstream left, calls outliving the drain
//! cancelled upstream before Manifold exits, and HTTPS.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{common, start, testkit};
use crate::common::eventually;

use std::process::Stdio;

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_in_flight_calls_and_ends_upstreams() {
    let mut face = start("", &testkit("alpha", &["--name", "alpha"])).await;
    let sid = face.open_session().await;
    let pid = face.child.id().unwrap();
    // Children of any of Manifold's threads (the HTTP face runs a multi-thread runtime).
    let upstreams: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("children")).ok())
        .flat_map(|c| {
            c.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect();
    assert!(
        !upstreams.is_empty(),
        "the testkit upstream runs as a child"
    );
    let slow = {
        let request = face
            .post(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                          "params": {"name": "alpha__sleep", "arguments": {"ms": 800}}}))
            .header("mcp-session-id", &sid);
        tokio::spawn(async move { request.send().await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap();
    let r = slow
        .await
        .unwrap()
        .expect("the in-flight call got its answer");
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(
        body["result"]["content"][0]["text"], "slept 800ms",
        "{body}"
    );
    let status = tokio::time::timeout(Duration::from_secs(15), face.child.wait())
        .await
        .expect("manifold exited after the drain")
        .unwrap();
    assert!(status.success(), "{status}");
    for p in upstreams {
        assert!(!common::pid_alive(p), "upstream {p} survived");
    }
}

/// A call still running at the drain deadline is one of the face's tasks: shutdown cancels it,
/// so its upstream hears `notifications/cancelled` before the upstream is stopped.
#[tokio::test(flavor = "multi_thread")]
async fn calls_outliving_the_drain_are_cancelled_upstream_before_exit() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("alpha.jsonl").display().to_string();
    let mut face = start(
        "[listen]\ndrain_ms = 200",
        &testkit("alpha", &["--name", "alpha", "--record", &record]),
    )
    .await;
    let sid = face.open_session().await;
    let hung = face
        .post(
            json!({"jsonrpc": "2.0", "id": "never", "method": "tools/call",
                      "params": {"name": "alpha__hang", "arguments": {}}}),
        )
        .header("mcp-session-id", &sid)
        .send();
    let hung = tokio::spawn(hung);
    let recorded = || std::fs::read_to_string(&record).unwrap_or_default();
    let what = "the call reached the upstream";
    eventually(what, Duration::from_secs(10), async || {
        recorded().contains("tools/call").then_some(())
    })
    .await;
    let pid = face.child.id().unwrap();
    std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(15), face.child.wait())
        .await
        .expect("manifold exited after the drain deadline")
        .unwrap();
    assert!(status.success(), "{status}");
    let log = recorded();
    let cancel = log
        .lines()
        .find(|l| l.contains("notifications/cancelled"))
        .unwrap_or_else(|| panic!("no cancellation reached the upstream:\n{log}"));
    let call_id = log
        .lines()
        .find(|l| l.contains("tools/call"))
        .and_then(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| v["id"].clone())
        .expect("the upstream recorded the call");
    let cancel: Value = serde_json::from_str(cancel).unwrap();
    assert_eq!(cancel["params"]["requestId"], call_id, "{cancel}");
    hung.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn https_with_a_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let (cert, key, ca) = (path("cert.pem"), path("key.pem"), path("ca.pem"));
    std::fs::write(path("ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n").unwrap();
    // A throwaway CA and a leaf certificate for localhost signed by it.
    for args in [
        vec![
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=manifold-test-ca",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
            "-keyout",
            &path("ca.key"),
            "-out",
            &ca,
        ],
        vec![
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            &key,
            "-out",
            &path("leaf.csr"),
        ],
        vec![
            "x509",
            "-req",
            "-in",
            &path("leaf.csr"),
            "-CA",
            &ca,
            "-CAkey",
            &path("ca.key"),
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            &path("ext.cnf"),
            "-out",
            &cert,
        ],
    ] {
        let made = std::process::Command::new("openssl")
            .args(&args)
            .stderr(Stdio::null())
            .status()
            .expect("openssl");
        assert!(made.success(), "openssl {args:?}");
    }
    let tls = format!("[listen]\ntls_cert = {cert:?}\ntls_key = {key:?}\n");
    let mut face = start(&tls, &testkit("alpha", &["--name", "alpha"])).await;
    assert!(face.url.starts_with("https://127.0.0.1:"), "{}", face.url);
    let port = face
        .url
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches("/mcp")
        .to_string();
    face.url = format!("https://localhost:{port}/mcp");
    let root = reqwest::Certificate::from_pem(&std::fs::read(&ca).unwrap()).unwrap();
    face.http = reqwest::Client::builder()
        .add_root_certificate(root)
        .build()
        .unwrap();
    let sid = face.open_session().await;
    let (status, r) = face
        .call(
            &sid,
            1,
            "tools/call",
            json!({"name": "alpha__echo", "arguments": {"text": "tls"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(r["result"]["content"][0]["text"], "tls", "{r}");
    // Plain HTTP to the TLS port gets no MCP answer.
    let plain = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/mcp"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
}
