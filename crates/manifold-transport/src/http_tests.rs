//! The Streamable HTTP client against a scripted local server: a request that races a session's
//! re-initialization (sent with no session, after one existed) is reported for sending again,
//! and never mistaken for the spec's HTTP+SSE fallback, which only the first POST may trigger.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use manifold_protocol::{Id, Message};

use crate::{connect_http, HttpParams, HttpProtocol, Inbound, InboundStream};

/// Initialize opens session `s1`; any later request on it finds the session expired (404); a
/// request without a session gets 400. GETs (an HTTP+SSE client's stream) are counted.
async fn scripted_server() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let gets = Arc::new(AtomicUsize::new(0));
    let counter = gets.clone();
    let post = |headers: HeaderMap, body: String| async move {
        if headers.contains_key("mcp-session-id") {
            return StatusCode::NOT_FOUND.into_response();
        }
        if body.contains("\"initialize\"") {
            let result = r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-11-25","capabilities":{},"serverInfo":{"name":"s","version":"1"}}}"#;
            return (
                [
                    ("mcp-session-id", "s1"),
                    ("content-type", "application/json"),
                ],
                result,
            )
                .into_response();
        }
        StatusCode::BAD_REQUEST.into_response()
    };
    let app = axum::Router::new().route(
        "/mcp",
        axum::routing::post(post).get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { StatusCode::METHOD_NOT_ALLOWED }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/mcp"), gets)
}

async fn next(inbound: &mut InboundStream) -> Inbound {
    tokio::time::timeout(Duration::from_secs(5), inbound.recv())
        .await
        .expect("an inbound event")
        .expect("the stream is open")
}

fn request(id: i64, method: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{{}}}}"#)
}

#[tokio::test]
async fn a_request_sent_between_sessions_is_reported_for_resending_not_a_fallback() {
    let (url, gets) = scripted_server().await;
    let mut conn = connect_http(&HttpParams {
        alias: "s".into(),
        url,
        headers: Vec::new(),
        max_message_bytes: 1 << 20,
        queue_bytes: 1 << 20,
        protocol: HttpProtocol::Auto,
    })
    .unwrap();
    let send = |id: i64, method: &str| conn.sender.send(request(id, method), Some(Id::Num(id)));
    send(1, "initialize").await.unwrap();
    assert!(matches!(
        next(&mut conn.inbound).await,
        Inbound::Message(Message::Response(_))
    ));
    assert_eq!(conn.sender.session_id().as_deref(), Some("s1"));

    // The session expires: reported against the request it rejected, and forgotten.
    send(2, "tools/list").await.unwrap();
    match next(&mut conn.inbound).await {
        Inbound::SessionExpired { request_id, .. } => assert_eq!(request_id, Some(Id::Num(2))),
        other => panic!("{other:?}"),
    }
    assert_eq!(conn.sender.session_id(), None);

    // A request that goes out before the next session exists gets a 4xx: it is reported the
    // same way (to be sent again), and the client does not switch to HTTP+SSE.
    send(3, "tools/call").await.unwrap();
    match next(&mut conn.inbound).await {
        Inbound::SessionExpired { request_id, .. } => assert_eq!(request_id, Some(Id::Num(3))),
        other => panic!("{other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(gets.load(Ordering::SeqCst), 0, "fell back to HTTP+SSE");
}
