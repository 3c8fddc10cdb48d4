//! The in-process transport against the raw other end of a `tokio::io::duplex` pipe: the same
//! framing and decoding as stdio, messages out as lines, and end of input for the peer on close.

use std::time::Duration;

use manifold_protocol::Message;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream};

use crate::{connect_duplex, Connection, DuplexParams, Inbound};

/// A connection over one end of a fresh pipe, and the pipe's other end.
fn pipe() -> (Connection, DuplexStream) {
    let (ours, theirs) = tokio::io::duplex(4096);
    let (reader, writer) = tokio::io::split(ours);
    let params = DuplexParams {
        alias: "t".into(),
        max_message_bytes: 1024,
        queue_bytes: 1 << 20,
    };
    (connect_duplex(reader, writer, &params), theirs)
}

async fn next(conn: &mut Connection) -> Inbound {
    tokio::time::timeout(Duration::from_secs(10), conn.inbound.recv())
        .await
        .expect("the peer wrote in time")
        .expect("the peer's output is still open")
}

#[tokio::test(start_paused = true)]
async fn frames_messages_and_reports_garbage_and_oversized_lines() {
    let (mut conn, mut peer) = pipe();
    let big = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{{\"x\":\"{}\"}}}}\n",
        "0".repeat(2000)
    );
    let script = [
        "{\"jsonrpc\":\"2.0\",\"method\":\"hello\",\"params\":{\"v\":1}}\n",
        "not json\n",
        big.as_str(),
        "{\"jsonrpc\":\"2.0\",\"id\":8,\"result\":{}}",
    ];
    for part in script {
        peer.write_all(part.as_bytes()).await.expect("write");
    }
    // The last line has no newline: it is framed at end of input.
    drop(peer);

    match next(&mut conn).await {
        Inbound::Message(Message::Notification(n)) => assert_eq!(n.method, "hello"),
        other => panic!("expected the notification, got {other:?}"),
    }
    assert!(matches!(next(&mut conn).await, Inbound::Invalid { .. }));
    match next(&mut conn).await {
        Inbound::Oversized { len, id } => {
            assert_eq!(len, big.len() - 1);
            assert_eq!(id, Some(manifold_protocol::Id::Num(7)));
        }
        other => panic!("expected the oversized line, got {other:?}"),
    }
    match next(&mut conn).await {
        Inbound::Message(Message::Response(r)) => {
            assert_eq!(r.id, Some(manifold_protocol::Id::Num(8)))
        }
        other => panic!("expected the response, got {other:?}"),
    }
    assert!(
        conn.inbound.recv().await.is_none(),
        "end of the peer's output"
    );
}

#[tokio::test(start_paused = true)]
async fn sends_one_line_per_message_and_closing_ends_the_peers_input() {
    let (conn, peer) = pipe();
    let (peer_reader, _peer_writer) = tokio::io::split(peer);
    let mut lines = BufReader::new(peer_reader);
    conn.sender
        .send(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#.into(), None)
        .await
        .expect("send");
    conn.sender
        .send(r#"{"jsonrpc":"2.0","method":"x"}"#.into(), None)
        .await
        .expect("send");
    let mut line = String::new();
    lines.read_line(&mut line).await.expect("read");
    assert_eq!(line, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n");
    line.clear();
    lines.read_line(&mut line).await.expect("read");
    assert_eq!(line, "{\"jsonrpc\":\"2.0\",\"method\":\"x\"}\n");

    // Our read half is still alive (in `conn.inbound`): closing must end the stream anyway.
    let inbound = conn.inbound;
    conn.closer.close(Duration::from_secs(1)).await;
    let mut rest = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(10), lines.read_to_end(&mut rest))
        .await
        .expect("end of input reached the peer")
        .expect("read");
    assert_eq!(n, 0, "nothing after the two lines");
    assert!(conn.sender.send("{}".into(), None).await.is_err());
    drop(inbound);
}
