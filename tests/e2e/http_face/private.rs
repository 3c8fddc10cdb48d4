//! Per-session upstreams: each client's identity upstream, sampling relayed on the call's stream.

use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{common, start};
use crate::common::eventually;
use crate::common::http::sse_messages;

#[tokio::test(flavor = "multi_thread")]
async fn per_session_upstreams_carry_each_clients_identity_and_relay_sampling() {
    let face = start(
        "",
        &common::testkit_server("alpha", &["--name", "alpha"], "sharing = \"per-session\""),
    )
    .await;
    // A client that declares sampling, and one that does not.
    let init = |caps: Value, name: &str| {
        face.post(json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": caps, "clientInfo": {"name": name, "version": "1"}}}))
    };
    let mut sids = Vec::new();
    for (caps, name) in [(json!({"sampling": {}}), "sampler"), (json!({}), "plain")] {
        let r = init(caps, name).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let sid = r.headers()["mcp-session-id"].to_str().unwrap().to_string();
        let r = face
            .post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .header("mcp-session-id", &sid)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        sids.push(sid);
    }
    // Each session's upstream was initialized with that client's identity and capabilities.
    for (sid, name, sampling) in [(&sids[0], "sampler", true), (&sids[1], "plain", false)] {
        let r = face.tool(sid, 1, "alpha__whoami", json!({})).await;
        let seen = &r["result"]["structuredContent"];
        assert_eq!(seen["clientInfo"]["name"], name, "{r}");
        assert_eq!(
            seen["capabilities"].get("sampling").is_some(),
            sampling,
            "{r}"
        );
        let (_, list) = face.call(sid, 2, "tools/list", json!({})).await;
        let has_sample =
            common::names(&list["result"], "tools", "name").contains(&"alpha__sample".into());
        assert_eq!(
            has_sample, sampling,
            "sample is listed only for the client that can sample"
        );
    }
    // The sampling request travels on the call's own SSE stream; the answer goes back by POST.
    let r = face
        .post(json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                      "params": {"name": "alpha__sample", "arguments": {"prompt": "hello"}}}))
        .header("mcp-session-id", &sids[0])
        .send()
        .await
        .unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut body = r.bytes_stream();
    let mut text = String::new();
    let mut answered = false;
    let outcome = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = body.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            for m in sse_messages(&text) {
                if m["method"] == "sampling/createMessage" && !answered {
                    common::schema::check("ServerRequest", &m);
                    answered = true;
                    let reply = json!({"jsonrpc": "2.0", "id": m["id"], "result": {
                        "role": "assistant", "content": {"type": "text", "text": "sampled!"}, "model": "test"}});
                    let r = face.post(&reply).header("mcp-session-id", &sids[0]).send().await.unwrap();
                    assert_eq!(r.status(), StatusCode::ACCEPTED);
                }
                if m["id"] == 9 {
                    return m;
                }
            }
        }
        panic!("stream ended without the response: {text}");
    })
    .await
    .expect("the sampled call completed");
    assert!(answered, "a sampling request came first");
    assert_eq!(
        outcome["result"]["content"][0]["text"], "sampled!",
        "{outcome}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn shared_and_per_session_servers_mix() {
    let dir = tempfile::tempdir().unwrap();
    let rec = |name: &str| dir.path().join(name).display().to_string();
    let (alpha_rec, beta_rec) = (rec("alpha.jsonl"), rec("beta.jsonl"));
    let servers = format!(
        "{}{}",
        common::testkit_server(
            "alpha",
            &["--name", "alpha", "--record", &alpha_rec],
            "sharing = \"shared\""
        ),
        common::testkit_server(
            "beta",
            &["--name", "beta", "--record", &beta_rec],
            "sharing = \"per-session\""
        ),
    );
    let face = start("", &servers).await;
    let (one, two) = (face.open_session().await, face.open_session().await);
    for sid in [&one, &two] {
        let (_, list) = face.call(sid, 1, "tools/list", json!({})).await;
        let names = common::names(&list["result"], "tools", "name");
        assert!(
            names.contains(&"alpha__echo".into()) && names.contains(&"beta__echo".into()),
            "{names:?}"
        );
    }
    // The per-session server was initialized with each client; the shared one with Manifold.
    let r = face.tool(&one, 2, "beta__whoami", json!({})).await;
    assert_eq!(
        r["result"]["structuredContent"]["clientInfo"]["name"], "http-e2e",
        "{r}"
    );
    let r = face.tool(&one, 3, "alpha__whoami", json!({})).await;
    assert_eq!(
        r["result"]["structuredContent"]["clientInfo"]["name"], "manifold",
        "{r}"
    );
    let inits = |path: &str| {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("\"method\":\"initialize\""))
            .count()
    };
    assert_eq!(inits(&alpha_rec), 1, "one shared alpha");
    assert_eq!(inits(&beta_rec), 2, "a beta per session");
    // A change of the shared server's list reaches the other session's catalog too.
    let r = face.tool(&one, 4, "alpha__toggle", json!({})).await;
    assert!(r["result"].is_object(), "{r}");
    let what = "the shared list change in session two's list";
    eventually(what, Duration::from_secs(10), async || {
        let (_, list) = face.call(&two, 5, "tools/list", json!({})).await;
        let names = common::names(&list["result"], "tools", "name");
        names.contains(&"alpha__toggled".into()).then_some(())
    })
    .await;
    // Ending one session ends its own upstream, not the shared one.
    let r = face.delete(&one).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = face
        .tool(&two, 6, "alpha__echo", json!({"text": "still"}))
        .await;
    assert_eq!(r["result"]["content"][0]["text"], "still", "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn ending_a_session_deletes_its_upstream_http_session() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("up.jsonl").display().to_string();
    let mut upstream = tokio::process::Command::new(common::testkit_bin());
    upstream.args(["--name", "up", "--http", "127.0.0.1:0", "--record", &record]);
    let (_up, up_url, _) = common::spawn_listening(upstream).await;
    let face = start("", &format!("[servers.up]\nurl = {up_url:?}\n")).await;
    let sid = face.open_session().await;
    let r = face.tool(&sid, 1, "up__echo", json!({"text": "x"})).await;
    assert_eq!(r["result"]["content"][0]["text"], "x", "{r}");
    let r = face.delete(&sid).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    eventually(
        "a DELETE at the upstream",
        Duration::from_secs(10),
        async || {
            let text = std::fs::read_to_string(&record).unwrap_or_default();
            let deleted = text
                .lines()
                .any(|l| l.starts_with("HEADERS") && l.contains("\"DELETE\""));
            if deleted {
                Ok(())
            } else {
                Err(format!("its record:\n{text}"))
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sampling_on_a_shared_upstream_is_refused_never_guessed() {
    // A server that asks for sampling although nobody declared it, shared by two sessions.
    let face = start(
        "",
        &common::testkit_server(
            "alpha",
            &["--name", "alpha", "--misbehave-sampling"],
            "sharing = \"shared\"",
        ),
    )
    .await;
    let (one, two) = (face.open_session().await, face.open_session().await);
    // Only one session has a call in flight: it is the one, but it did not declare sampling.
    let r = face
        .tool(&one, 1, "alpha__sample", json!({"prompt": "p"}))
        .await;
    assert_eq!(r["result"]["isError"], true, "{r}");
    assert!(r.to_string().contains("did not declare"), "{r}");
    // With calls of both sessions in flight there, the request cannot be attributed.
    let hang = face
        .post(json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                      "params": {"name": "alpha__hang", "arguments": {}}}))
        .header("mcp-session-id", &two)
        .send();
    let hang = tokio::spawn(hang);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = face
        .tool(&one, 2, "alpha__sample", json!({"prompt": "p"}))
        .await;
    assert_eq!(r["result"]["isError"], true, "{r}");
    assert!(r.to_string().contains("cannot tell which client"), "{r}");
    hang.abort();
}
