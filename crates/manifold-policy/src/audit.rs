//! The audit log (`[audit]`): one JSON line per tool call — time, principal, session, server,
//! tool, arguments (configured keys redacted, or a SHA-256 digest, or nothing), outcome,
//! duration, result size and the result itself (its `content` and `structuredContent`, redacted
//! the same way and cut at `result_max_bytes`, or a digest, or nothing), or the error — written
//! by a thread of its own to stderr or appended to a file.
//! Refused calls are audited too. The writer wakes every 10 ms and writes what queued up, so a
//! call never pays for a thread wake-up or a syscall; the queue is bounded, so a slow disk slows
//! calls rather than losing lines. [`AuditLog::flush`] writes everything out at shutdown.

use std::io::Write;
use std::path::Path;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use manifold_config::{Audit, AuditArguments, AuditResults};
use manifold_protocol::{RawObject, RawValue};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tower::{Layer, Service};

use crate::call::{outcome, BoxReply, Call, Failure, Infallible, ItemKind, Reply};

/// Lines waiting for the writer before calls wait for it.
const QUEUE: usize = 4096;
/// How often the writer writes what queued up.
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(10);

/// What the writer is sent.
enum Entry {
    /// One whole line, newline included.
    Line(Vec<u8>),
    /// Write everything before this, then say so.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// What replaces a redacted value.
pub const REDACTED: &str = "[redacted]";

/// Where audit lines go, and how arguments are recorded.
#[derive(Debug, Clone)]
pub struct AuditLog {
    lines: mpsc::Sender<Entry>,
    arguments: AuditArguments,
    results: AuditResults,
    result_max_bytes: usize,
    redact: std::sync::Arc<[String]>,
}

impl AuditLog {
    /// Opens the log of `audit` (its file is created or appended to now) and starts its writer,
    /// a thread of its own: file writes never run on (or hop through) the async runtime.
    /// `None` when auditing is off.
    pub fn open(audit: &Audit) -> std::io::Result<Option<AuditLog>> {
        if !audit.enabled {
            return Ok(None);
        }
        let (lines, rx) = mpsc::channel(QUEUE);
        let out = match &audit.file {
            Some(path) => Sink::File(std::io::BufWriter::new(open_append(path)?)),
            None => Sink::Stderr,
        };
        std::thread::Builder::new()
            .name("manifold-audit".into())
            .spawn(move || write_lines(rx, out))?;
        Ok(Some(AuditLog {
            lines,
            arguments: audit.arguments,
            results: audit.results,
            result_max_bytes: audit.result_max_bytes,
            redact: audit.redact.clone().into(),
        }))
    }

    /// Starts a call's line, written straight into its buffer as it is known: time, principal,
    /// session, server (`null` when no upstream owns the name), tool (`null` when none can be
    /// told), arguments.
    fn begin(
        &self,
        principal: &str,
        session: u64,
        server: Option<&str>,
        tool: Option<&str>,
        arguments: Option<&RawValue>,
    ) -> Vec<u8> {
        let mut line = Vec::with_capacity(256);
        line.extend_from_slice(b"{\"time\":\"");
        write_rfc3339(&mut line, SystemTime::now());
        line.extend_from_slice(b"\",\"principal\":");
        let _ = serde_json::to_writer(&mut line, principal);
        let _ = write!(line, ",\"session\":{session},\"server\":");
        let _ = serde_json::to_writer(&mut line, &server);
        line.extend_from_slice(b",\"tool\":");
        let _ = serde_json::to_writer(&mut line, &tool);
        self.write_arguments(&mut line, arguments);
        line
    }

    /// Audits a call of a tool name no upstream serves (answered with `error` before any policy
    /// layer ran): probing for names is on the record too.
    pub async fn unknown_tool(
        &self,
        principal: &str,
        session: u64,
        tool: &str,
        arguments: Option<&RawValue>,
        error: Failure,
    ) {
        let mut line = self.begin(principal, session, None, Some(tool), arguments);
        self.end(&mut line, "error", 0, &Err(error));
        let _ = self.lines.send(Entry::Line(line)).await;
    }

    /// Audits a `tools/call` refused before routing because no single call could be read from it
    /// (a key repeated in its params): no server or tool is recorded, since which of the two
    /// values would have counted is exactly what cannot be told; `reason` says why.
    pub async fn refused(&self, principal: &str, session: u64, reason: &str, error: Failure) {
        let mut line = self.begin(principal, session, None, None, None);
        line.extend_from_slice(b",\"refused\":");
        let _ = serde_json::to_writer(&mut line, reason);
        self.end(&mut line, error.outcome, 0, &Err(error));
        let _ = self.lines.send(Entry::Line(line)).await;
    }

    /// Whether lines carry the arguments (in full or as a digest).
    pub fn records_arguments(&self) -> bool {
        self.arguments != AuditArguments::None
    }

    /// Waits until every line queued so far is written.
    pub async fn flush(&self) {
        let (ack, done) = tokio::sync::oneshot::channel();
        if self.lines.send(Entry::Flush(ack)).await.is_ok() {
            let _ = done.await;
        }
    }

    /// Appends the `arguments` (or `argumentsDigest`) member of a call's line, if any.
    fn write_arguments(&self, line: &mut Vec<u8>, arguments: Option<&RawValue>) {
        let Some(args) = arguments else { return };
        match self.arguments {
            AuditArguments::None => {}
            AuditArguments::Full => {
                line.extend_from_slice(b",\"arguments\":");
                line.extend_from_slice(redact_raw(args, &self.redact).get().as_bytes());
            }
            AuditArguments::Digest => {
                let digest = Sha256::digest(args.get().as_bytes());
                line.extend_from_slice(b",\"argumentsDigest\":\"sha256:");
                for b in digest {
                    let _ = write!(line, "{b:02x}");
                }
                line.push(b'"');
            }
        }
    }
}

fn open_append(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("audit file {}: {e}", path.display())))
}

/// Every [`FLUSH_EVERY`], writes what queued up (one flush per batch), until every sender is gone.
fn write_lines(mut rx: mpsc::Receiver<Entry>, mut out: Sink) {
    loop {
        // Polled, not waited on: a sender never has a waiting thread to wake.
        std::thread::sleep(FLUSH_EVERY);
        let mut done = Vec::new();
        let mut batch = out.batch();
        let closed = loop {
            match rx.try_recv() {
                Ok(Entry::Line(line)) => {
                    if batch.write_all(&line).is_err() {
                        tracing::error!("cannot write the audit log");
                    }
                }
                Ok(Entry::Flush(ack)) => done.push(ack),
                Err(mpsc::error::TryRecvError::Empty) => break false,
                Err(mpsc::error::TryRecvError::Disconnected) => break true,
            }
        };
        let _ = batch.flush();
        drop(batch);
        for ack in done {
            let _ = ack.send(());
        }
        if closed {
            return;
        }
    }
}

/// Where audit lines go.
enum Sink {
    /// Unbuffered: each line is one `write_all`, which holds stderr's lock throughout, so log
    /// lines from the rest of the process never land inside an audit line.
    Stderr,
    /// Buffered; Manifold is its only writer.
    File(std::io::BufWriter<std::fs::File>),
}

impl Sink {
    /// A writer for one batch of lines.
    fn batch(&mut self) -> Box<dyn Write + '_> {
        match self {
            Sink::Stderr => Box::new(std::io::stderr()),
            Sink::File(file) => Box::new(file),
        }
    }
}

/// `raw` with the value of every member whose key contains any of `keys` (lowercase) replaced
/// by `"[redacted]"`, at any depth; every other byte as it came (numbers as written, escapes).
pub fn redact_raw(raw: &RawValue, keys: &[String]) -> Box<RawValue> {
    redacted(raw, keys).unwrap_or_else(|| raw.to_owned())
}

/// What [`redact_raw`] makes of `raw`; `None` when nothing in it is redacted.
fn redacted(raw: &RawValue, keys: &[String]) -> Option<Box<RawValue>> {
    match raw.get().as_bytes().first() {
        Some(b'{') => {
            let mut obj = RawObject::parse(raw).ok()?;
            let members: Vec<(String, &RawValue)> = obj
                .keys()
                .filter_map(|k| Some((k.to_string(), obj.get_borrowed(k)?)))
                .collect();
            for (key, value) in members {
                let lower = key.to_lowercase();
                if keys.iter().any(|s| lower.contains(s.as_str())) {
                    obj.set_str(&key, REDACTED);
                } else if let Some(inner) = redacted(value, keys) {
                    obj.set(&key, inner);
                }
            }
            obj.is_changed().then(|| obj.to_raw())
        }
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_str(raw.get()).ok()?;
            let mut splice = manifold_protocol::splice::Splice::new(raw.get());
            for item in items {
                if let Some(inner) = redacted(item, keys) {
                    splice.replace(item.get(), inner.get().to_string());
                }
            }
            splice.apply_raw()
        }
        _ => None,
    }
}

/// A copy of `value` with the members whose key contains any of `keys` (lowercase) replaced by
/// `"[redacted]"`, at any depth.
pub fn redact(value: &Value, keys: &[String]) -> Value {
    let raw = serde_json::value::to_raw_value(value).ok();
    raw.and_then(|r| serde_json::from_str(redact_raw(&r, keys).get()).ok())
        .unwrap_or(Value::Null)
}

/// RFC 3339 UTC time with milliseconds.
pub fn rfc3339(t: SystemTime) -> String {
    let mut out = Vec::with_capacity(24);
    write_rfc3339(&mut out, t);
    String::from_utf8(out).unwrap_or_default()
}

/// Writes `t` as RFC 3339 UTC time with milliseconds.
fn write_rfc3339(out: &mut Vec<u8>, t: SystemTime) {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    );
}

/// Writes one line per tool call.
#[derive(Debug, Clone)]
pub struct AuditLayer {
    log: AuditLog,
}

impl AuditLayer {
    /// A layer writing to `log`.
    pub fn new(log: AuditLog) -> AuditLayer {
        AuditLayer { log }
    }
}

impl<S> Layer<S> for AuditLayer {
    type Service = Audited<S>;
    fn layer(&self, inner: S) -> Audited<S> {
        Audited {
            inner,
            log: self.log.clone(),
        }
    }
}

/// The service of [`AuditLayer`].
#[derive(Debug, Clone)]
pub struct Audited<S> {
    inner: S,
    log: AuditLog,
}

impl<S> Service<Call> for Audited<S>
where
    S: Service<Call, Response = Reply, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Reply;
    type Error = Infallible;
    type Future = futures::future::Either<S::Future, BoxReply>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, call: Call) -> Self::Future {
        if call.kind != ItemKind::Tool {
            return futures::future::Either::Left(self.inner.call(call));
        }
        let started = Instant::now();
        let mut line = self.log.begin(
            &call.principal,
            call.session,
            Some(&call.server.alias),
            Some(&call.name),
            call.arguments_text.as_deref(),
        );
        let log = self.log.clone();
        let future = self.inner.call(call);
        futures::future::Either::Right(Box::pin(async move {
            let reply = future.await?;
            log.end(
                &mut line,
                outcome(&reply),
                started.elapsed().as_micros(),
                &reply,
            );
            let _ = log.lines.send(Entry::Line(line)).await;
            Ok(reply)
        }))
    }
}

impl AuditLog {
    /// Ends a line begun by [`AuditLog::begin`]: outcome, duration, and the result (its size, and
    /// as `results` says) or the error.
    fn end(&self, line: &mut Vec<u8>, outcome: &str, micros: u128, reply: &Reply) {
        let _ = write!(
            line,
            ",\"outcome\":\"{outcome}\",\"durationMs\":{}.{:03}",
            micros / 1000,
            micros % 1000
        );
        match reply {
            Ok(result) => {
                let _ = write!(line, ",\"resultBytes\":{}", result.get().len());
                self.write_result(line, result);
            }
            Err(f) => {
                let _ = write!(line, ",\"errorCode\":{},\"errorMessage\":", f.error.code);
                let message = Capped::text(&f.error.message, self.result_max_bytes);
                let _ = serde_json::to_writer(&mut *line, &message);
            }
        }
        line.extend_from_slice(b"}\n");
    }

    /// Appends the `result` (or `resultDigest`) member of a call's line, if any.
    fn write_result(&self, line: &mut Vec<u8>, result: &RawValue) {
        match self.results {
            AuditResults::None => {}
            AuditResults::Digest => {
                line.extend_from_slice(b",\"resultDigest\":\"sha256:");
                for b in Sha256::digest(result.get().as_bytes()) {
                    let _ = write!(line, "{b:02x}");
                }
                line.push(b'"');
            }
            AuditResults::Full => {
                let mut recorded = Capped::new(self.result_max_bytes);
                recorded_result(result, &self.redact, &mut recorded);
                line.extend_from_slice(b",\"result\":");
                match recorded.finish() {
                    Ok(whole) => line.extend_from_slice(&whole),
                    Err(cut) => {
                        let _ = serde_json::to_writer(&mut *line, &cut);
                    }
                }
            }
        }
    }
}

/// A tool result as the audit log records it: `content`, `structuredContent` and `isError`,
/// with redacted keys replaced at any depth and every other byte as the upstream sent it.
fn recorded_result(result: &RawValue, keys: &[String], out: &mut impl Write) {
    let _ = out.write_all(b"{");
    if let Ok(obj) = RawObject::parse(result) {
        let mut first = true;
        for key in ["content", "structuredContent", "isError"] {
            let Some(raw) = obj.get(key) else { continue };
            let _ = write!(out, "{}\"{key}\":", if first { "" } else { "," });
            let _ = out.write_all(redact_raw(raw, keys).get().as_bytes());
            first = false;
        }
    }
    let _ = out.write_all(b"}");
}

/// A writer keeping at most `cap` bytes and counting the rest.
struct Capped {
    kept: Vec<u8>,
    cap: usize,
    total: usize,
}

impl Capped {
    fn new(cap: usize) -> Capped {
        Capped {
            kept: Vec::with_capacity(cap.min(1024)),
            cap,
            total: 0,
        }
    }

    /// The whole text if it fitted; else its first bytes (whole characters) with a marker
    /// saying how much there was.
    fn finish(self) -> Result<Vec<u8>, String> {
        if self.total <= self.cap {
            return Ok(self.kept);
        }
        let text = String::from_utf8_lossy(&self.kept);
        Err(marked(&text, self.cap, self.total))
    }

    /// `text`, cut to `cap` bytes with the same marker.
    fn text(text: &str, cap: usize) -> std::borrow::Cow<'_, str> {
        if text.len() <= cap {
            return text.into();
        }
        marked(text, cap, text.len()).into()
    }
}

fn marked(text: &str, cap: usize, total: usize) -> String {
    let mut keep = cap.min(text.len());
    while !text.is_char_boundary(keep) {
        keep -= 1;
    }
    format!(
        "{}… [truncated by Manifold: {keep} of {total} bytes]",
        &text[..keep]
    )
}

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = self.cap.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&buf[..room.min(buf.len())]);
        self.total += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redaction_reaches_every_depth_and_keeps_the_rest() {
        let keys: Vec<String> = manifold_config::DEFAULT_REDACT
            .iter()
            .map(|s| s.to_string())
            .collect();
        let v = json!({
            "query": "cats",
            "GitHub_Token": "ghp_x",
            "nested": [{"password": "p", "ok": 1}],
            "headers": {"Authorization": "Bearer y"}
        });
        let r = redact(&v, &keys);
        assert_eq!(r["query"], "cats");
        assert_eq!(r["GitHub_Token"], REDACTED);
        assert_eq!(r["nested"][0]["password"], REDACTED);
        assert_eq!(r["nested"][0]["ok"], 1);
        assert_eq!(r["headers"]["Authorization"], REDACTED);
        assert!(!r.to_string().contains("ghp_x"));
    }

    #[test]
    fn raw_redaction_keeps_every_other_byte() {
        let keys = vec!["secret".to_string()];
        let raw = RawValue::from_string(
            r#"{"n":12345678901234567890123,"a":[{"Secret":"x"},2.50, {"k" : 1e3}],"my_secret":{"deep":1}}"#
                .to_string(),
        )
        .unwrap();
        assert_eq!(
            redact_raw(&raw, &keys).get(),
            r#"{"n":12345678901234567890123,"a":[{"Secret":"[redacted]"},2.50, {"k" : 1e3}],"my_secret":"[redacted]"}"#
        );
        let plain = RawValue::from_string("[1.0, 2]".to_string()).unwrap();
        assert_eq!(redact_raw(&plain, &keys).get(), "[1.0, 2]");
    }

    #[test]
    fn capped_output_is_whole_or_marked() {
        let mut capped = Capped::new(8);
        capped.write_all(b"0123456789abc").unwrap();
        assert_eq!(
            capped.finish().unwrap_err(),
            "01234567… [truncated by Manifold: 8 of 13 bytes]"
        );
        let mut capped = Capped::new(8);
        capped.write_all(b"short").unwrap();
        assert_eq!(capped.finish().unwrap(), b"short");
    }

    #[test]
    fn time_format() {
        let t = UNIX_EPOCH + std::time::Duration::from_millis(1_795_757_000_123);
        assert_eq!(rfc3339(t), "2026-11-27T05:23:20.123Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }
}
