//! Manifold in front of the official MCP reference servers from npm (`server-memory`,
//! `server-everything`, pinned in tests/npm/package.json and installed by `scripts/test`).

use crate::common;

use std::path::PathBuf;
use std::process::Stdio;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn npm_server(package: &str) -> PathBuf {
    let path = common::repo_root()
        .join("tests/npm/node_modules/@modelcontextprotocol")
        .join(package)
        .join("dist/index.js");
    assert!(
        path.exists(),
        "{} is missing: run `scripts/test` (it runs `npm ci --prefix tests/npm`)",
        path.display()
    );
    path
}

pub(crate) fn node_server(alias: &str, package: &str, args: &[&str], extra: &str) -> String {
    let mut all = vec![npm_server(package).display().to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    let args: Vec<String> = all.iter().map(|a| format!("{a:?}")).collect();
    format!(
        "[servers.{alias}]\ncommand = \"node\"\nargs = [{}]\n{extra}\n",
        args.join(", ")
    )
}

fn text_of(response: &Value) -> String {
    let result = &response["result"];
    assert!(result.is_object(), "expected a result, got {response}");
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_server_memory_tool_works_through_manifold() {
    let store = tempfile::tempdir().unwrap();
    let memory_file = store.path().join("memory.jsonl");
    let (_dir, config) = common::write_config(&node_server(
        "memory",
        "server-memory",
        &[],
        &format!(
            "env = {{ MEMORY_FILE_PATH = {:?} }}",
            memory_file.display().to_string()
        ),
    ));
    let mut gw = common::Gateway::spawn(&config);
    gw.initialize().await;
    let tools = gw.request(1, "tools/list", json!({})).await;
    let mut listed = common::names(&tools["result"], "tools", "name");
    listed.sort();
    let mut expected: Vec<String> = [
        "add_observations",
        "create_entities",
        "create_relations",
        "delete_entities",
        "delete_observations",
        "delete_relations",
        "open_nodes",
        "read_graph",
        "search_nodes",
    ]
    .iter()
    .map(|n| format!("memory__{n}"))
    .collect();
    expected.sort();
    assert_eq!(listed, expected);

    let r = gw
        .call_tool(2, "memory__create_entities", json!({"entities": [
            {"name": "Ada", "entityType": "person", "observations": ["wrote the first program"]},
            {"name": "Engine", "entityType": "machine", "observations": ["analytical"]}
        ]}))
        .await;
    assert!(text_of(&r).contains("Ada"), "{r}");
    let r = gw
        .call_tool(
            3,
            "memory__create_relations",
            json!({"relations": [
                {"from": "Ada", "to": "Engine", "relationType": "programmed"}
            ]}),
        )
        .await;
    assert!(text_of(&r).contains("programmed"), "{r}");
    let r = gw
        .call_tool(
            4,
            "memory__add_observations",
            json!({"observations": [
                {"entityName": "Ada", "contents": ["born 1815"]}
            ]}),
        )
        .await;
    assert!(text_of(&r).contains("born 1815"), "{r}");
    let r = gw
        .call_tool(5, "memory__search_nodes", json!({"query": "1815"}))
        .await;
    assert!(text_of(&r).contains("Ada"), "{r}");
    let r = gw
        .call_tool(6, "memory__open_nodes", json!({"names": ["Engine"]}))
        .await;
    assert!(text_of(&r).contains("analytical"), "{r}");
    let r = gw.call_tool(7, "memory__read_graph", json!({})).await;
    let graph = text_of(&r);
    assert!(
        graph.contains("Engine") && graph.contains("programmed"),
        "{r}"
    );
    let r = gw
        .call_tool(
            8,
            "memory__delete_observations",
            json!({"deletions": [
                {"entityName": "Ada", "observations": ["born 1815"]}
            ]}),
        )
        .await;
    assert!(r["result"].is_object(), "{r}");
    let r = gw
        .call_tool(
            9,
            "memory__delete_relations",
            json!({"relations": [
                {"from": "Ada", "to": "Engine", "relationType": "programmed"}
            ]}),
        )
        .await;
    assert!(r["result"].is_object(), "{r}");
    let r = gw
        .call_tool(
            10,
            "memory__delete_entities",
            json!({"entityNames": ["Engine"]}),
        )
        .await;
    assert!(r["result"].is_object(), "{r}");
    let graph = text_of(&gw.call_tool(11, "memory__read_graph", json!({})).await);
    assert!(
        graph.contains("Ada") && !graph.contains("Engine") && !graph.contains("1815"),
        "{graph}"
    );
    // The server really persisted through the env Manifold passed it.
    let stored = std::fs::read_to_string(&memory_file).expect("memory file written");
    assert!(stored.contains("Ada"));
    assert!(gw.close().await.success());
}

/// A minimal direct client for the comparison listing.
async fn direct_listing(method: &str, field: &str) -> Vec<Value> {
    let mut child = tokio::process::Command::new("node")
        .arg(npm_server("server-everything"))
        .arg("stdio")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("node");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next_id = 1;
    let mut call = |method: &str, params: Value| {
        next_id += 1;
        (
            next_id,
            json!({"jsonrpc": "2.0", "id": next_id, "method": method, "params": params})
                .to_string()
                + "\n",
        )
    };
    let (id, line) = call(
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "direct", "version": "1"}}),
    );
    stdin.write_all(line.as_bytes()).await.unwrap();
    let mut items = Vec::new();
    let mut wait = Some(id);
    let mut cursor: Option<String> = None;
    let mut initialized = false;
    loop {
        let line = tokio::time::timeout(common::RECV_TIMEOUT, lines.next_line())
            .await
            .expect("direct server answered")
            .unwrap()
            .expect("direct server closed");
        let m: Value = serde_json::from_str(&line).unwrap();
        if m.get("method").is_some() || m["id"].as_i64() != wait {
            continue;
        }
        if initialized {
            items.extend(m["result"][field].as_array().cloned().unwrap_or_default());
            cursor = m["result"]["nextCursor"].as_str().map(str::to_string);
            if cursor.is_none() {
                return items;
            }
        } else {
            initialized = true;
            stdin
                .write_all(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n")
                .await
                .unwrap();
        }
        let params = match &cursor {
            Some(c) => json!({"cursor": c}),
            None => json!({}),
        };
        let (id, line) = call(method, params);
        wait = Some(id);
        stdin.write_all(line.as_bytes()).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn server_everything_lists_completely_through_manifold() {
    let (_dir, config) = common::write_config(&format!(
        "[gateway]\npage_size = 2\n{}",
        node_server(
            "everything",
            "server-everything",
            &["stdio"],
            "namespace = \"ev\""
        )
    ));
    let mut gw = common::Gateway::spawn(&config);
    gw.initialize().await;
    for (method, field, key) in [
        ("resources/list", "resources", "uri"),
        (
            "resources/templates/list",
            "resourceTemplates",
            "uriTemplate",
        ),
        ("tools/list", "tools", "name"),
        ("prompts/list", "prompts", "name"),
    ] {
        let direct = direct_listing(method, field).await;
        assert!(!direct.is_empty(), "server-everything lists some {field}");
        // Through Manifold, page by page with Manifold's own cursors.
        let mut through = Vec::new();
        let mut cursor: Option<String> = None;
        for page in 0.. {
            assert!(page < 1000, "pagination does not end");
            let params = cursor.as_ref().map_or(json!({}), |c| json!({"cursor": c}));
            let r = gw.request(100 + page, method, params).await;
            through.extend(r["result"][field].as_array().cloned().unwrap_or_default());
            cursor = r["result"]["nextCursor"].as_str().map(str::to_string);
            if cursor.is_none() {
                break;
            }
        }
        let prefix = if key == "name" { "ev__" } else { "ev+" };
        let expected: Vec<String> = direct
            .iter()
            .map(|i| format!("{prefix}{}", i[key].as_str().unwrap()))
            .collect();
        let got: Vec<String> = through
            .iter()
            .map(|i| i[key].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            got, expected,
            "{method}: every item, in order, exactly once"
        );
        // Everything but the rewritten key is byte-for-byte what the server said.
        for (d, t) in direct.iter().zip(&through) {
            let (mut d, mut t) = (d.clone(), t.clone());
            d[key] = Value::Null;
            t[key] = Value::Null;
            assert_eq!(d, t, "{method}: item fields preserved");
        }
    }
    // Every listed resource reads through Manifold, contents under the namespaced URI.
    let resources = direct_listing("resources/list", "resources").await;
    for (n, resource) in resources.iter().enumerate() {
        let uri = format!("ev+{}", resource["uri"].as_str().unwrap());
        let r = gw
            .request(500 + n as i64, "resources/read", json!({"uri": uri}))
            .await;
        assert_eq!(r["result"]["contents"][0]["uri"], json!(uri), "{r}");
    }
    let r = gw
        .call_tool(900, "ev__echo", json!({"message": "through manifold"}))
        .await;
    assert!(text_of(&r).contains("through manifold"), "{r}");
    let r = gw
        .call_tool(901, "ev__get-sum", json!({"a": 2, "b": 40}))
        .await;
    assert!(text_of(&r).contains("42"), "{r}");
    assert!(gw.close().await.success());
}

/// `server-everything` in its HTTP+SSE mode on a free loopback port; returns it and its /sse URL.
async fn everything_over_sse() -> (tokio::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = tokio::process::Command::new("node")
        .arg(npm_server("server-everything"))
        .arg("sse")
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    tokio::time::timeout(common::RECV_TIMEOUT, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("running on port") {
                return;
            }
        }
        panic!("server-everything did not start");
    })
    .await
    .expect("server-everything started");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, format!("http://127.0.0.1:{port}/sse"))
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_http_sse_upstreams_configured_or_by_fallback() {
    let (_everything, url) = everything_over_sse().await;
    // `transport = "sse"` speaks HTTP+SSE at once; without `transport`, Manifold first tries
    // Streamable HTTP, gets a 4xx, and falls back (the spec's backwards-compatibility rule).
    for (alias, transport) in [("legacy", "transport = \"sse\""), ("auto", "")] {
        let (_dir, config) =
            common::write_config(&format!("[servers.{alias}]\nurl = {url:?}\n{transport}\n"));
        let mut gw = common::Gateway::spawn(&config);
        gw.initialize().await;
        let tools = gw.request(1, "tools/list", json!({})).await;
        let names = common::names(&tools["result"], "tools", "name");
        assert!(
            names.contains(&format!("{alias}__echo")),
            "{alias}: {names:?}"
        );
        let r = gw
            .call_tool(2, &format!("{alias}__echo"), json!({"message": "over sse"}))
            .await;
        assert!(text_of(&r).contains("over sse"), "{alias}: {r}");
        let r = gw
            .call_tool(3, &format!("{alias}__get-sum"), json!({"a": 19, "b": 23}))
            .await;
        assert!(text_of(&r).contains("42"), "{alias}: {r}");
        assert!(gw.close().await.success());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn server_everything_logging_and_subscriptions_through_manifold() {
    let (_dir, config) = common::write_config(&node_server(
        "everything",
        "server-everything",
        &["stdio"],
        "namespace = \"ev\"",
    ));
    let mut gw = common::Gateway::spawn(&config);
    let init = gw.initialize().await;
    assert_eq!(
        init["capabilities"]["resources"]["subscribe"], true,
        "{init}"
    );
    // Simulated logging sends one message at once: it arrives with the namespaced logger.
    let r = gw
        .call_tool(1, "ev__toggle-simulated-logging", json!({}))
        .await;
    assert!(r["result"].is_object(), "{r}");
    let message = wait_for(&mut gw, "notifications/message").await;
    let logger = message["params"]["logger"].as_str().unwrap_or_default();
    assert!(logger == "ev" || logger.starts_with("ev/"), "{message}");
    // A subscribed resource's updates arrive under its namespaced URI.
    let resources = direct_listing("resources/list", "resources").await;
    let uri = format!("ev+{}", resources[0]["uri"].as_str().unwrap());
    let r = gw
        .request(2, "resources/subscribe", json!({"uri": uri}))
        .await;
    assert!(r["result"].is_object(), "{r}");
    let r = gw
        .call_tool(3, "ev__toggle-subscriber-updates", json!({}))
        .await;
    assert!(r["result"].is_object(), "{r}");
    let update = wait_for(&mut gw, "notifications/resources/updated").await;
    assert_eq!(update["params"]["uri"], json!(uri), "{update}");
    assert!(gw.close().await.success());
}

/// The first notification `method` seen (already collected, or arriving within the deadline).
async fn wait_for(gw: &mut common::Gateway, method: &str) -> Value {
    if let Some(i) = gw.seen.iter().position(|m| m["method"] == method) {
        return gw.seen.remove(i);
    }
    loop {
        let m = gw.recv().await;
        if m["method"] == method {
            return m;
        }
    }
}
