//! The 2026-07-28 Streamable HTTP client against a scripted local server: every POST carries
//! the version and mirrored headers and no session; an era error answered with 400 is the
//! request's answer; `notifications/cancelled` is never posted but closes the cancelled
//! request's POST, which the server sees as its client going away.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use manifold_protocol::{Id, Message};
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::{connect_http, HttpParams, HttpProtocol, Inbound, InboundStream};

/// What the scripted server saw.
#[derive(Default)]
struct Seen {
    /// The headers and body of each POST.
    posts: Mutex<Vec<(HeaderMap, String)>>,
    /// Told when the POST of `slow` is dropped (its client went away).
    gone: Notify,
}

/// Drops with the request it belongs to, and says so.
struct Gone(Arc<Seen>);

impl Drop for Gone {
    fn drop(&mut self) {
        self.0.gone.notify_one();
    }
}

/// `slow` never answers; `bad` gets 400 with a -32602 error under its id; anything else `{}`.
async fn scripted_server() -> (String, Arc<Seen>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let state = seen.clone();
    let post = move |headers: HeaderMap, body: String| {
        let seen = state.clone();
        async move {
            seen.posts.lock().push((headers, body.clone()));
            let message: serde_json::Value = serde_json::from_str(&body).unwrap();
            let id = message["id"].clone();
            let name = message["params"]["name"].as_str().unwrap_or_default();
            if name == "slow" {
                let _gone = Gone(seen.clone());
                std::future::pending::<()>().await;
            }
            let (status, answer) = if name == "bad" {
                let error = serde_json::json!({"code": -32602, "message": "missing _meta"});
                (
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({"jsonrpc": "2.0", "id": id, "error": error}),
                )
            } else {
                (
                    StatusCode::OK,
                    serde_json::json!({"jsonrpc": "2.0", "id": id, "result": {}}),
                )
            };
            (
                status,
                [("content-type", "application/json")],
                answer.to_string(),
            )
                .into_response()
        }
    };
    let app = axum::Router::new().route("/mcp", axum::routing::post(post));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/mcp"), seen)
}

async fn next(inbound: &mut InboundStream) -> Inbound {
    tokio::time::timeout(Duration::from_secs(5), inbound.recv())
        .await
        .expect("an inbound event")
        .expect("the stream is open")
}

fn call(id: i64, name: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{name}"}}}}"#)
}

#[tokio::test]
async fn a_modern_post_mirrors_its_body_and_a_cancellation_closes_it() {
    let (url, seen) = scripted_server().await;
    let mut conn = connect_http(&HttpParams {
        alias: "m".into(),
        url,
        headers: Vec::new(),
        max_message_bytes: 1 << 20,
        queue_bytes: 1 << 20,
        protocol: HttpProtocol::Auto,
    })
    .unwrap();
    conn.sender.set_modern(true);
    let params = vec![("mcp-param-region".to_string(), "eu".to_string())];
    conn.sender
        .send_with_headers(call(1, "echo"), Some(Id::Num(1)), params)
        .await
        .unwrap();
    match next(&mut conn.inbound).await {
        Inbound::Message(Message::Response(r)) => assert_eq!(r.id, Some(Id::Num(1))),
        other => panic!("{other:?}"),
    }
    {
        let posts = seen.posts.lock();
        let (headers, _) = &posts[0];
        assert_eq!(headers["mcp-protocol-version"], "2026-07-28");
        assert_eq!(headers["mcp-method"], "tools/call");
        assert_eq!(headers["mcp-name"], "echo");
        assert_eq!(headers["mcp-param-region"], "eu");
        assert!(!headers.contains_key("mcp-session-id"));
    }

    // An era error with its HTTP status answers the request.
    conn.sender
        .send(call(2, "bad"), Some(Id::Num(2)))
        .await
        .unwrap();
    match next(&mut conn.inbound).await {
        Inbound::Message(Message::Response(r)) => {
            assert_eq!(r.id, Some(Id::Num(2)));
            assert_eq!(r.outcome.unwrap_err().code, -32602);
        }
        other => panic!("{other:?}"),
    }

    // A cancellation closes the request's POST instead of being posted.
    conn.sender
        .send(call(3, "slow"), Some(Id::Num(3)))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), async {
        while seen.posts.lock().len() < 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the slow call arrived");
    let cancel = r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3}}"#;
    conn.sender.send(cancel.to_string(), None).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), seen.gone.notified())
        .await
        .expect("the server saw the client go away");
    assert_eq!(
        seen.posts.lock().len(),
        3,
        "the cancellation was not posted"
    );
}
