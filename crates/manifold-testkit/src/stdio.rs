//! The stdio transport: newline-delimited JSON-RPC over any byte stream pair.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncWrite, AsyncWriteExt as _, BufReader};
use tokio::sync::mpsc;

use crate::options::Options;
use crate::rpc;
use crate::session::{Handled, Out, Reply, Session};
use crate::shared::Shared;
use crate::Crashed;

/// How long requests still in flight at end of input may take to finish.
const EOF_GRACE: Duration = Duration::from_millis(200);

/// Serves one MCP client over newline-delimited JSON-RPC until `reader` reaches EOF.
///
/// Returns `Ok(())` on EOF, an error if `fail_start` is set, and a [`Crashed`] error
/// (check with `err.downcast_ref::<Crashed>()`) when the `crash` tool or `crash_after`
/// fires; the binary turns that into exit code 3.
pub async fn serve_stdio<R, W>(opts: Options, reader: R, writer: W) -> anyhow::Result<()>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    if opts.fail_start {
        anyhow::bail!(
            "testkit {}: failing at start as requested (--fail-start)",
            opts.name
        );
    }
    let grace = EOF_GRACE + Duration::from_millis(opts.latency_ms);
    let shared = Shared::new(opts)?;
    let (tx, rx) = mpsc::unbounded_channel();
    let writer_task = tokio::spawn(write_loop(writer, rx));
    let session = Session::new(shared.clone(), Some(tx.clone()));
    let reply = Reply::direct(tx.clone());
    let mut reader = BufReader::new(reader);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let read = tokio::select! {
            read = reader.read_until(b'\n', &mut buf) => read,
            () = shared.wait_crash() => {
                session.close();
                writer_task.abort();
                return Err(Crashed.into());
            }
        };
        if read? == 0 {
            break;
        }
        let line = trim_line(&buf);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        shared.record(&String::from_utf8_lossy(line));
        let handled = match rpc::parse_message(line) {
            Ok(msg) => session.handle(msg, &reply),
            Err(error) => Handled::Rejected(error),
        };
        match handled {
            Handled::Rejected(error) => {
                let _ = tx.send(Out::Response(error.to_string()));
            }
            Handled::Crashed => {
                session.close();
                writer_task.abort();
                return Err(Crashed.into());
            }
            Handled::Request | Handled::Accepted => {}
        }
    }
    session.wait_idle(grace).await;
    session.close();
    let _ = tx.send(Out::Close);
    writer_task.await??;
    Ok(())
}

fn trim_line(buf: &[u8]) -> &[u8] {
    let buf = buf.strip_suffix(b"\n").unwrap_or(buf);
    buf.strip_suffix(b"\r").unwrap_or(buf)
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut writer: W,
    mut rx: mpsc::UnboundedReceiver<Out>,
) -> anyhow::Result<()> {
    while let Some(out) = rx.recv().await {
        let line = match out {
            Out::Message(line) | Out::Response(line) => line,
            Out::Detach => continue,
            Out::Close => break,
        };
        let mut bytes = line.into_bytes();
        bytes.push(b'\n');
        if let Err(err) = async {
            writer.write_all(&bytes).await?;
            writer.flush().await
        }
        .await
        {
            eprintln!("testkit: cannot write to stdout: {err}");
            return Ok(());
        }
    }
    writer.flush().await?;
    Ok(())
}
