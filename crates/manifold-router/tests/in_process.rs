//! The router's unit tier: dispatch and forwarding through a [`Gateway`] whose upstream is an
//! rmcp server in this process (`manifold_testpeer::TestServer` on a duplex pipe, given to the
//! gateway with [`Gateway::start_in_process`]), driven through the public [`Session`] API like a
//! face drives it, under paused time: no process, no socket, no wall clock.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use manifold_config::Format;
use manifold_metrics::Metrics;
use manifold_policy::Policy;
use manifold_protocol::{code, ErrorObject, Id, Request};
use manifold_router::downstream::SinkReceiver;
use manifold_router::{Clients, Face, Gateway, Session};
use manifold_testpeer::{Seen, TestServer};
use manifold_upstream::Connector;
use serde_json::{json, Value};
use tokio::time::Instant;

/// A client session on a gateway in front of in-process servers.
struct Client {
    gateway: Gateway,
    session: Session,
    /// The servers, by alias.
    servers: BTreeMap<String, TestServer>,
    next_id: i64,
    /// What the gateway sends the client on its own (kept open).
    _out: SinkReceiver,
}

/// A gateway whose servers, each an alias with the settings of its `[servers.<alias>]` table,
/// are [`TestServer`]s of that name; and an initialized stdio session on it.
async fn connect(servers: &[(&str, &str)]) -> Client {
    let mut text = "[audit]\nenabled = false\n".to_string();
    let mut in_process = BTreeMap::new();
    let mut peers = BTreeMap::new();
    for (alias, settings) in servers {
        // The command is never run: the connector replaces the configured transport.
        text += &format!("\n[servers.{alias}]\ncommand = \"unused-in-process\"\n{settings}\n");
        let server = TestServer::new(alias);
        let peer = server.clone();
        in_process.insert(
            alias.to_string(),
            Connector::new(move || Ok(peer.connect())),
        );
        peers.insert(alias.to_string(), server);
    }
    let config = manifold_config::load_str(&text, Format::Toml).expect("config");
    let metrics = Arc::new(Metrics::new());
    let policy = Arc::new(Policy::new(&config, metrics.clone()).expect("policy"));
    let gateway = Gateway::start_in_process(&config, metrics, policy, Clients::One, &in_process);
    let (sink, out) = manifold_router::downstream::sink(64, 1 << 20);
    let session = Session::open(&gateway, sink, Face::Stdio);
    let mut client = Client {
        gateway,
        session,
        servers: peers,
        next_id: 1,
        _out: out,
    };
    let init = client
        .send(
            "initialize",
            json!({ "protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": { "name": "router-unit", "version": "1.0.0" } }),
        )
        .await
        .expect("initialize");
    // Answered once the upstreams were up: their instructions are merged in.
    let instructions = init["instructions"].as_str().unwrap_or_default();
    for (alias, _) in servers {
        let own = format!("\nthe {alias} test server");
        assert!(instructions.contains(&own), "{init}");
    }
    client.session.client_ready().await;
    client
}

impl Client {
    fn server(&self, alias: &str) -> &TestServer {
        &self.servers[alias]
    }

    /// Sends one request through the session, as a face does.
    async fn send(&mut self, method: &str, params: Value) -> Result<Value, ErrorObject> {
        let request = Request {
            id: Id::Num(self.next_id),
            method: method.to_string(),
            params: Some(serde_json::value::to_raw_value(&params).expect("JSON")),
        };
        self.next_id += 1;
        let result = manifold_testpeer::within(method, self.session.handle(&request)).await?;
        Ok(serde_json::from_str(result.get()).expect("a result is JSON"))
    }

    async fn call(&mut self, tool: &str, arguments: Value) -> Result<Value, ErrorObject> {
        self.send(
            "tools/call",
            json!({ "name": tool, "arguments": arguments }),
        )
        .await
    }

    /// `manifold_requests_total` for `tools/call` by `server` with `outcome`.
    fn calls_counted(&self, server: &str, outcome: &str) -> u64 {
        self.gateway
            .metrics()
            .requests
            .with_label_values(&["tools/call", server, outcome])
            .get()
    }

    async fn close(self) {
        self.session.close();
        self.gateway.shutdown().await;
    }
}

fn data(error: &ErrorObject) -> Value {
    let data = error.data.as_ref().expect("error data");
    serde_json::from_str(data.get()).expect("JSON")
}

#[tokio::test(start_paused = true)]
async fn tools_list_shows_the_upstream_tools_under_its_namespace() {
    let mut client = connect(&[("alpha", "")]).await;
    let list = client
        .send("tools/list", json!({}))
        .await
        .expect("tools/list");
    let names: Vec<&str> = list["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["alpha__echo", "alpha__slow", "alpha__fail", "alpha__crash"]
    );
    assert_eq!(
        list["tools"][0]["inputSchema"]["properties"]["text"]["type"],
        "string"
    );
    client.close().await;
}

#[tokio::test(start_paused = true)]
async fn a_namespaced_call_reaches_the_upstream_under_its_own_name_and_its_result_comes_back() {
    let mut client = connect(&[("alpha", "")]).await;
    let result = client
        .call("alpha__echo", json!({ "text": "hi" }))
        .await
        .expect("alpha__echo");
    assert_eq!(result["content"][0]["text"], "hi");
    assert_eq!(
        result["structuredContent"],
        json!({ "text": "hi", "server": "alpha" })
    );
    let seen: Vec<(String, Value)> = client
        .server("alpha")
        .record()
        .seen()
        .into_iter()
        .filter_map(|s| match s {
            Seen::Call {
                name, arguments, ..
            } => Some((name, arguments)),
            _ => None,
        })
        .collect();
    assert_eq!(seen, [("echo".to_string(), json!({ "text": "hi" }))]);
    assert_eq!(client.calls_counted("alpha", "ok"), 1);

    let failed = client
        .call("alpha__fail", json!({}))
        .await
        .expect("a result");
    assert_eq!(failed["isError"], true);
    assert_eq!(client.calls_counted("alpha", "tool_error"), 1);
    client.close().await;
}

#[tokio::test(start_paused = true)]
async fn an_unknown_tool_is_an_invalid_params_error_and_reaches_no_upstream() {
    let mut client = connect(&[("alpha", "")]).await;
    for name in ["alpha__nope", "beta__echo", "echo"] {
        let error = client
            .call(name, json!({}))
            .await
            .expect_err("no such tool");
        assert_eq!(error.code, code::INVALID_PARAMS, "{name}");
        assert_eq!(error.message, format!("Unknown tool: {name}"));
    }
    assert!(client.server("alpha").record().calls().is_empty());
    assert_eq!(client.calls_counted("manifold", "error"), 3);
    client.close().await;
}

#[tokio::test(start_paused = true)]
async fn a_call_past_the_servers_timeout_fails_with_the_timeout_error() {
    let mut client = connect(&[("alpha", "timeout_ms = 250")]).await;
    let began = Instant::now();
    let error = client
        .call("alpha__slow", json!({ "ms": 10_000 }))
        .await
        .expect_err("past its timeout");
    assert_eq!(began.elapsed(), Duration::from_millis(250));
    assert_eq!(error.code, code::INTERNAL_ERROR);
    assert_eq!(
        data(&error),
        json!({ "server": "alpha", "reason": "timeout", "timeoutMs": 250 })
    );
    assert_eq!(client.calls_counted("alpha", "timeout"), 1);

    // The upstream was told, for the request it received.
    let seen = client
        .server("alpha")
        .record()
        .until("the upstream was told of the cancellation", |s| {
            s.iter().any(|s| matches!(s, Seen::Cancelled { .. }))
        })
        .await;
    let calls = client.server("alpha").record().calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(
        seen.contains(&Seen::Cancelled {
            request_id: calls[0].0.clone(),
            reason: Some("timeout".into()),
        }),
        "{seen:?}"
    );
    client.close().await;
}

#[tokio::test(start_paused = true)]
async fn each_name_is_routed_to_the_server_that_owns_it() {
    let mut client = connect(&[("alpha", ""), ("beta", "namespace = \"b\"")]).await;
    let list = client
        .send("tools/list", json!({}))
        .await
        .expect("tools/list");
    let names: Vec<&str> = list["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .filter(|n| n.ends_with("echo"))
        .collect();
    assert_eq!(names, ["alpha__echo", "b__echo"]);

    let result = client
        .call("b__echo", json!({ "text": "to beta" }))
        .await
        .expect("b__echo");
    assert_eq!(result["structuredContent"]["server"], "beta");
    let beta: Vec<String> = client
        .server("beta")
        .record()
        .calls()
        .into_iter()
        .map(|c| c.1)
        .collect();
    assert_eq!(beta, ["echo"]);
    assert!(client.server("alpha").record().calls().is_empty());
    assert_eq!(client.calls_counted("beta", "ok"), 1);
    client.close().await;
}
