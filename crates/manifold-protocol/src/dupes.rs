//! Duplicate keys: finds a key that appears twice in one JSON object, at any depth, in one pass
//! over the text. Parsers disagree on which of two equal keys counts (serde keeps the first, most
//! others the last), so a client message carrying one could be checked on one value and acted on
//! with the other; Manifold refuses it instead (mcp-spec.md §3.1, RFC 8259 §4: names SHOULD be
//! unique). Keys are compared decoded: `"name"` and `"na\u006de"` are the same key.

use std::borrow::Cow;
use std::collections::HashSet;

/// An object's keys are compared one by one up to this many; past it, through a hash set, so an
/// object with many keys costs linear time, not quadratic.
const LINEAR_KEYS: usize = 24;

/// A key found twice in one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// The key, decoded (lossy where it is not valid Unicode).
    pub key: String,
    /// The JSON Pointer (RFC 6901) of the object holding it, relative to the scanned text.
    pub path: String,
}

/// The first key repeated within one object anywhere in `text`, if any. `text` is expected to be
/// valid JSON (it has been parsed already); on anything else this returns `None` without
/// panicking, and never reads past the end.
pub fn find_duplicate(text: &[u8]) -> Option<Duplicate> {
    Scanner {
        text,
        pos: 0,
        keys: Vec::new(),
        frames: Vec::new(),
    }
    .run()
}

/// A key as written (no escapes: compared raw) or decoded (it had escapes).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key<'t>(Cow<'t, [u8]>);

/// One open object or array.
enum Frame<'t> {
    Object {
        /// Where this object's keys start in [`Scanner::keys`].
        start: usize,
        /// Its keys once there are more than [`LINEAR_KEYS`].
        many: Option<HashSet<Key<'t>>>,
        /// The key whose value is being read (for the path of a nested duplicate).
        current: Option<Key<'t>>,
    },
    Array {
        index: usize,
    },
}

struct Scanner<'t> {
    text: &'t [u8],
    pos: usize,
    /// The keys of every open object, innermost last.
    keys: Vec<Key<'t>>,
    frames: Vec<Frame<'t>>,
}

impl<'t> Scanner<'t> {
    fn run(mut self) -> Option<Duplicate> {
        // Whether the next string in the innermost object is a key.
        let mut expect_key = false;
        loop {
            self.skip_whitespace();
            let byte = *self.text.get(self.pos)?;
            match byte {
                b'{' => {
                    self.pos += 1;
                    self.frames.push(Frame::Object {
                        start: self.keys.len(),
                        many: None,
                        current: None,
                    });
                    expect_key = true;
                }
                b'[' => {
                    self.pos += 1;
                    self.frames.push(Frame::Array { index: 0 });
                    expect_key = false;
                }
                b'}' | b']' => {
                    self.pos += 1;
                    if let Some(Frame::Object { start, .. }) = self.frames.pop() {
                        self.keys.truncate(start);
                    }
                    expect_key = false;
                    if self.frames.is_empty() {
                        return None;
                    }
                }
                b',' => {
                    self.pos += 1;
                    match self.frames.last_mut()? {
                        Frame::Object { .. } => expect_key = true,
                        Frame::Array { index } => *index += 1,
                    }
                }
                b':' => {
                    self.pos += 1;
                    expect_key = false;
                }
                b'"' if expect_key => {
                    let key = self.string()?;
                    if let Some(found) = self.add_key(key) {
                        return Some(found);
                    }
                    expect_key = false;
                }
                b'"' => {
                    self.string()?;
                    if self.frames.is_empty() {
                        return None;
                    }
                }
                _ => {
                    self.scalar();
                    if self.frames.is_empty() {
                        return None;
                    }
                }
            }
        }
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.text.get(self.pos) {
            self.pos += 1;
        }
    }

    /// Skips a number, `true`, `false` or `null`.
    fn scalar(&mut self) {
        let start = self.pos;
        while let Some(&b) = self.text.get(self.pos) {
            if matches!(
                b,
                b',' | b'}' | b']' | b':' | b'"' | b' ' | b'\t' | b'\n' | b'\r'
            ) {
                break;
            }
            self.pos += 1;
        }
        if self.pos == start {
            // Not JSON at all (a stray byte): step over it rather than loop.
            self.pos += 1;
        }
    }

    /// Reads the string at `pos` (on its opening quote); returns its content as a key.
    fn string(&mut self) -> Option<Key<'t>> {
        let start = self.pos + 1;
        let mut i = start;
        let mut escaped = false;
        loop {
            let rest = self.text.get(i..)?;
            let at = memchr::memchr2(b'"', b'\\', rest)?;
            i += at;
            if self.text[i] == b'"' {
                break;
            }
            escaped = true;
            i += 2;
        }
        self.pos = i + 1;
        let raw = &self.text[start..i];
        Some(Key(if escaped {
            Cow::Owned(unescape(raw))
        } else {
            Cow::Borrowed(raw)
        }))
    }

    /// Adds `key` to the innermost object; the duplicate it makes, if it repeats one.
    fn add_key(&mut self, key: Key<'t>) -> Option<Duplicate> {
        let Some(Frame::Object {
            start,
            many,
            current,
        }) = self.frames.last_mut()
        else {
            return None;
        };
        let repeated = match many {
            Some(set) => !set.insert(key.clone()),
            None => {
                let seen = &self.keys[*start..];
                if seen.contains(&key) {
                    true
                } else if seen.len() >= LINEAR_KEYS {
                    let mut set: HashSet<Key<'t>> = self.keys.drain(*start..).collect();
                    set.insert(key.clone());
                    *many = Some(set);
                    false
                } else {
                    self.keys.push(key.clone());
                    false
                }
            }
        };
        if repeated {
            return Some(Duplicate {
                key: String::from_utf8_lossy(&key.0).into_owned(),
                path: self.pointer(),
            });
        }
        *current = Some(key);
        None
    }

    /// The JSON Pointer of the innermost object.
    fn pointer(&self) -> String {
        let mut path = String::new();
        let inner = self.frames.len().saturating_sub(1);
        for frame in &self.frames[..inner] {
            path.push('/');
            match frame {
                Frame::Object {
                    current: Some(key), ..
                } => {
                    let token = String::from_utf8_lossy(&key.0);
                    path.push_str(&token.replace('~', "~0").replace('/', "~1"));
                }
                Frame::Object { current: None, .. } => {}
                Frame::Array { index } => path.push_str(&index.to_string()),
            }
        }
        path
    }
}

/// Decodes a JSON string's content (without quotes). `\uXXXX` escapes become UTF-8, a
/// surrogate pair one code point; a lone surrogate becomes its generalized UTF-8 (WTF-8)
/// bytes, so that two spellings of the same code units compare equal.
fn unescape(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let Some(&kind) = raw.get(i + 1) else { break };
        i += 2;
        let simple = match kind {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            continue;
        }
        if kind != b'u' {
            out.push(kind);
            continue;
        }
        let Some(unit) = hex4(raw, i) else { break };
        i += 4;
        let mut code = u32::from(unit);
        if (0xD800..0xDC00).contains(&unit) && raw.get(i) == Some(&b'\\') {
            if let (Some(b'u'), Some(low)) = (raw.get(i + 1), hex4(raw, i + 2)) {
                if (0xDC00..0xE000).contains(&low) {
                    code = 0x10000 + ((code - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                    i += 6;
                }
            }
        }
        push_wtf8(&mut out, code);
    }
    out
}

fn hex4(raw: &[u8], at: usize) -> Option<u16> {
    let digits = raw.get(at..at + 4)?;
    let text = std::str::from_utf8(digits).ok()?;
    u16::from_str_radix(text, 16).ok()
}

/// Appends `code` (any value up to U+10FFFF, surrogates included) in UTF-8's byte pattern.
fn push_wtf8(out: &mut Vec<u8>, code: u32) {
    match code {
        0..=0x7F => out.push(code as u8),
        0x80..=0x7FF => {
            out.push(0xC0 | (code >> 6) as u8);
            out.push(0x80 | (code & 0x3F) as u8);
        }
        0x800..=0xFFFF => {
            out.push(0xE0 | (code >> 12) as u8);
            out.push(0x80 | ((code >> 6) & 0x3F) as u8);
            out.push(0x80 | (code & 0x3F) as u8);
        }
        _ => {
            out.push(0xF0 | (code >> 18) as u8);
            out.push(0x80 | ((code >> 12) & 0x3F) as u8);
            out.push(0x80 | ((code >> 6) & 0x3F) as u8);
            out.push(0x80 | (code & 0x3F) as u8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dup(text: &str) -> Option<(String, String)> {
        find_duplicate(text.as_bytes()).map(|d| (d.key, d.path))
    }

    #[test]
    fn unique_keys_pass_at_every_depth() {
        assert_eq!(
            dup(r#"{"a":1,"b":{"a":2,"c":[{"a":3},{"a":4}]},"c":"a"}"#),
            None
        );
        assert_eq!(dup(r#"[{"x":1},{"x":2}]"#), None);
        assert_eq!(dup(r#""just a string""#), None);
        assert_eq!(dup("{}"), None);
    }

    #[test]
    fn repeats_are_found_with_their_path() {
        assert_eq!(
            dup(r#"{"name":"a","arguments":{},"name":"b"}"#),
            Some(("name".into(), "".into()))
        );
        assert_eq!(
            dup(r#"{"arguments":{"q":{"deep":[0,{"k":1,"k":2}]}}}"#),
            Some(("k".into(), "/arguments/q/deep/1".into()))
        );
        assert_eq!(
            dup(r#"{"a/b~c":{"x":1, "x" :2}}"#),
            Some(("x".into(), "/a~1b~0c".into()))
        );
    }

    #[test]
    fn escaped_spellings_of_one_key_are_the_same_key() {
        assert!(dup(r#"{"name":1,"na\u006de":2}"#).is_some());
        assert!(dup(r#"{"\u00e9":1,"é":2}"#).is_some());
        assert!(dup(r#"{"\ud83d\ude00":1,"😀":2}"#).is_some());
        assert!(dup(r#"{"\ud800":1,"\uD800":2}"#).is_some());
        assert!(dup(r#"{"a\"b":1,"a\u0022b":2}"#).is_some());
        assert_eq!(dup(r#"{"a\"b":1,"a\\b":2}"#), None);
    }

    #[test]
    fn strings_that_look_like_structure_are_skipped() {
        assert_eq!(dup(r#"{"a":"{\"a\":1,\"a\":2}","b":"\\"}"#), None);
    }

    #[test]
    fn many_keys_switch_to_a_set_and_still_find_repeats() {
        let keys: Vec<String> = (0..1000).map(|i| format!("\"k{i}\":{i}")).collect();
        let unique = format!("{{{}}}", keys.join(","));
        assert_eq!(dup(&unique), None);
        let repeated = format!("{{{},\"k7\":0}}", keys.join(","));
        assert_eq!(dup(&repeated), Some(("k7".into(), "".into())));
        // Keys of a closed inner object do not count against the outer one.
        let nested = format!("{{\"inner\":{{{}}},\"k1\":1}}", keys.join(","));
        assert_eq!(dup(&nested), None);
    }

    #[test]
    fn garbage_never_panics() {
        for text in [
            "{",
            "{\"a",
            "{\"a\\",
            "[[[",
            "}}}",
            "{\"a\":\"\\u12",
            "\u{0}",
            "",
        ] {
            let _ = dup(text);
        }
    }
}
