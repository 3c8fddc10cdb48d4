//! The property every URI rewrite must keep, checked independently of how the rewrite is done
//! (by the property tests and by the `rewrite` fuzz target): the rewritten text is the original
//! token for token — whitespace, numbers and escapes included — except for the URI strings the
//! rewrite is meant to change, each of which becomes `<namespace>+<uri>`. The URIs expected to
//! change are found with `serde_json::Value`, a parser the rewrite does not use.

use serde_json::Value;

/// The exact tokens of a JSON text: strings (quotes and escapes as written), runs of whitespace,
/// punctuation, and numbers or literals.
fn tokens(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(bytes.len());
            }
            b' ' | b'\t' | b'\n' | b'\r' => {
                while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r') {
                    i += 1;
                }
            }
            b'{' | b'}' | b'[' | b']' | b':' | b',' => i += 1,
            _ => {
                while i < bytes.len() && !b"{}[]:,\" \t\n\r".contains(&bytes[i]) {
                    i += 1;
                }
            }
        }
        out.push(&text[start..i.min(text.len())]);
    }
    out
}

/// How many URIs of a `tools/call` or `prompts/get` result the rewrite must change.
pub(crate) fn content_uris(result: &Value) -> usize {
    let block = |b: &Value| match b.get("type").and_then(Value::as_str) {
        Some("resource_link") => usize::from(b.get("uri").is_some_and(Value::is_string)),
        Some("resource") => usize::from(
            b.get("resource")
                .and_then(|r| r.get("uri"))
                .is_some_and(Value::is_string),
        ),
        _ => 0,
    };
    let content: usize = result
        .get("content")
        .and_then(Value::as_array)
        .map_or(0, |items| items.iter().map(block).sum());
    let messages: usize = result
        .get("messages")
        .and_then(Value::as_array)
        .map_or(0, |items| {
            items
                .iter()
                .filter_map(|m| m.get("content"))
                .map(block)
                .sum()
        });
    content + messages
}

/// How many URIs of a `resources/read` result the rewrite must change.
pub(crate) fn read_uris(result: &Value) -> usize {
    result
        .get("contents")
        .and_then(Value::as_array)
        .map_or(0, |items| {
            items
                .iter()
                .filter(|c| c.get("uri").is_some_and(Value::is_string))
                .count()
        })
}

/// Checks that `after` is `before` with exactly `expected` string tokens changed, each from a
/// URI to `<namespace>+<uri>`.
pub(crate) fn only_uris_changed(
    before: &str,
    after: &str,
    namespace: &str,
    expected: usize,
) -> Result<(), String> {
    let (old, new) = (tokens(before), tokens(after));
    if old.len() != new.len() {
        return Err(format!("{} tokens became {}", old.len(), new.len()));
    }
    let mut changed = 0;
    for (a, b) in old.iter().zip(&new) {
        if a == b {
            continue;
        }
        let (Ok(a), Ok(b)) = (
            serde_json::from_str::<String>(a),
            serde_json::from_str::<String>(b),
        ) else {
            return Err(format!("a non-string token changed: {a} -> {b}"));
        };
        if b != crate::naming::downstream_uri(namespace, &a) {
            return Err(format!("{a:?} became {b:?}"));
        }
        changed += 1;
    }
    if changed != expected {
        return Err(format!("{changed} URIs changed, {expected} expected"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keep_every_byte() {
        let text = r#"{ "a\"b" :[1.0e3,true , "x"]}"#;
        assert_eq!(tokens(text).concat(), text);
        assert_eq!(tokens(text)[2], r#""a\"b""#);
    }

    #[test]
    fn a_changed_number_or_a_missed_uri_is_caught() {
        let before = r#"{"content":[{"type":"resource_link","uri":"u://1"}],"n":2.50}"#;
        let good = r#"{"content":[{"type":"resource_link","uri":"ns+u://1"}],"n":2.50}"#;
        let bad = r#"{"content":[{"type":"resource_link","uri":"ns+u://1"}],"n":2.5}"#;
        assert!(only_uris_changed(before, good, "ns", 1).is_ok());
        assert!(only_uris_changed(before, bad, "ns", 1).is_err());
        assert!(only_uris_changed(before, before, "ns", 1).is_err());
    }
}
