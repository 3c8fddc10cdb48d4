//! The stdio transport against real child processes (`sh`): framing and decoding of what a child
//! writes, and the shutdown sequence ending the child's whole process group.

use std::time::Duration;

use manifold_protocol::Message;

use crate::{spawn_stdio, Connection, Inbound, StdioParams};

fn sh(script: &str) -> Connection {
    spawn_stdio(&StdioParams {
        alias: "t".into(),
        command: "sh".into(),
        args: vec!["-c".into(), script.into()],
        env: vec![("GREETING".into(), "hi".into())],
        cwd: None,
        max_message_bytes: 1024,
        queue_bytes: 1 << 20,
    })
    .expect("spawn sh")
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}

async fn next(conn: &mut Connection) -> Inbound {
    tokio::time::timeout(Duration::from_secs(10), conn.inbound.recv())
        .await
        .expect("the child wrote in time")
        .expect("the child's output is still open")
}

/// Reads the `pid` notification a script prints as its first line.
async fn announced_pid(conn: &mut Connection) -> u32 {
    match next(conn).await {
        Inbound::Message(Message::Notification(n)) => {
            let v: serde_json::Value = serde_json::from_str(n.params.unwrap().get()).unwrap();
            v["pid"].as_u64().unwrap() as u32
        }
        other => panic!("expected the pid notification, got {other:?}"),
    }
}

#[tokio::test]
async fn frames_messages_and_reports_garbage_and_oversized_lines() {
    let script = r#"
        printf '%s\n' '{"jsonrpc":"2.0","method":"hello","params":{"v":"'"$GREETING"'"}}'
        echo 'not json'
        printf '{"jsonrpc":"2.0","id":7,"result":{"x":"%02000d"}}\n' 0
        printf '%s\n' '{"jsonrpc":"2.0","id":8,"result":{}}'
        cat > /dev/null
    "#;
    let mut conn = sh(script);
    match next(&mut conn).await {
        Inbound::Message(Message::Notification(n)) => {
            assert_eq!(n.method, "hello");
            assert_eq!(n.params.unwrap().get(), r#"{"v":"hi"}"#);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(next(&mut conn).await, Inbound::Invalid { .. }));
    match next(&mut conn).await {
        Inbound::Oversized { len, id } => {
            assert!(len > 1024);
            assert_eq!(id, Some(manifold_protocol::Id::Num(7)));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        next(&mut conn).await,
        Inbound::Message(Message::Response(_))
    ));
    conn.sender
        .send("{}".into(), None)
        .await
        .expect("stdin still open");
    // `cat` exits on stdin EOF: the first, polite step is enough.
    tokio::time::timeout(
        Duration::from_secs(10),
        conn.closer.close(Duration::from_secs(5)),
    )
    .await
    .expect("closed promptly");
}

#[tokio::test]
async fn close_ends_the_whole_process_group() {
    // A grandchild in the background, and a leader that ignores stdin.
    let script = r#"
        sleep 300 &
        printf '{"jsonrpc":"2.0","method":"pid","params":{"pid":%d}}\n' $!
        exec sleep 300
    "#;
    let mut conn = sh(script);
    let grandchild = announced_pid(&mut conn).await;
    assert!(alive(grandchild));
    tokio::time::timeout(
        Duration::from_secs(10),
        conn.closer.close(Duration::from_millis(200)),
    )
    .await
    .expect("closed");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while alive(grandchild) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "grandchild {grandchild} survived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_child_ignoring_sigterm_is_killed() {
    let script = r#"
        trap '' TERM
        printf '{"jsonrpc":"2.0","method":"pid","params":{"pid":%d}}\n' $$
        while :; do sleep 1; done
    "#;
    let mut conn = sh(script);
    let pid = announced_pid(&mut conn).await;
    tokio::time::timeout(
        Duration::from_secs(10),
        conn.closer.close(Duration::from_millis(200)),
    )
    .await
    .expect("SIGKILL ends it");
    assert!(!alive(pid), "the leader {pid} survived");
}

#[tokio::test]
async fn a_missing_program_is_a_spawn_error() {
    let err = spawn_stdio(&StdioParams {
        alias: "t".into(),
        command: "/nonexistent/manifold-test-program".into(),
        args: vec![],
        env: vec![],
        cwd: None,
        max_message_bytes: 1024,
        queue_bytes: 1 << 20,
    })
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("/nonexistent/manifold-test-program"),
        "{err}"
    );
}
