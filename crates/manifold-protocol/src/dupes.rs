//! Duplicate keys: finds a key that appears twice in one JSON object, at any depth, in one pass
//! over the text. Parsers disagree on which of two equal keys counts (serde keeps the first, most
//! others the last), so a client message carrying one could be checked on one value and acted on
//! with the other; Manifold refuses it instead (mcp-spec.md §3.1, RFC 8259 §4: names SHOULD be
//! unique). Keys are compared decoded: `"name"` and `"na\u006de"` are the same key.

use std::cell::RefCell;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// An object's keys are compared one by one (by hash first) up to this many; past it, through a
/// hash set, so an object with many keys costs linear time, not quadratic.
const LINEAR_KEYS: usize = 32;

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
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut scratch) => scratch.scan(text),
        // Re-entered on this thread (it is not): scan with fresh buffers.
        Err(_) => Scratch::default().scan(text),
    })
}

thread_local! {
    /// Buffers reused by every scan on a thread: a scan allocates nothing once they have grown.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// What a byte means to the scan outside strings.
const OTHER: u8 = 0;
const OPEN_OBJECT: u8 = 1;
const OPEN_ARRAY: u8 = 2;
const CLOSE: u8 = 3;
const COMMA: u8 = 4;
const QUOTE: u8 = 5;

static CLASS: [u8; 256] = {
    let mut t = [OTHER; 256];
    t[b'{' as usize] = OPEN_OBJECT;
    t[b'[' as usize] = OPEN_ARRAY;
    t[b'}' as usize] = CLOSE;
    t[b']' as usize] = CLOSE;
    t[b',' as usize] = COMMA;
    t[b'"' as usize] = QUOTE;
    t
};

/// A key of an open object: its hash and where its decoded bytes are.
#[derive(Debug, Clone, Copy)]
struct Key {
    hash: u64,
    /// In the text (raw, no escapes), or in [`Scratch::decoded`] (it had escapes).
    start: usize,
    end: usize,
    decoded: bool,
}

/// One open object or array.
#[derive(Debug)]
enum Frame {
    Object {
        /// Where this object's keys start in [`Scratch::keys`].
        start: usize,
        /// Whether `Scratch::sets` holds a set of this object's key hashes (many keys).
        many: bool,
        /// The key whose value is being read (for the path of a nested duplicate).
        current: Option<Key>,
    },
    Array {
        index: usize,
    },
}

/// The state of scans, kept between them.
#[derive(Default)]
struct Scratch {
    /// The keys of every open object, innermost last.
    keys: Vec<Key>,
    frames: Vec<Frame>,
    /// Decoded bytes of keys that had escapes.
    decoded: Vec<u8>,
    /// Hash sets of objects with many keys, innermost last.
    sets: Vec<HashSet<u64, BuildHasherDefault<Prehashed>>>,
}

impl Scratch {
    /// The first repeated key; its path is worked out by a second scan, only when there is one,
    /// so that the scan every message gets tracks no path.
    fn scan(&mut self, text: &[u8]) -> Option<Duplicate> {
        self.reset();
        let found = self.run::<false>(text)?;
        self.reset();
        Some(self.run::<true>(text).unwrap_or(found))
    }

    fn reset(&mut self) {
        self.keys.clear();
        self.frames.clear();
        self.decoded.clear();
        self.sets.clear();
    }

    /// Scans `text`; with `PATH`, keeps what [`Self::pointer`] needs (the current key of each
    /// open object, the index in each open array).
    fn run<const PATH: bool>(&mut self, text: &[u8]) -> Option<Duplicate> {
        let mut pos = 0;
        // Whether the next string in the innermost object is a key.
        let mut expect_key = false;
        loop {
            // Numbers, literals, whitespace and colons are skipped in a tight loop.
            while pos < text.len() && CLASS[text[pos] as usize] == OTHER {
                pos += 1;
            }
            let byte = *text.get(pos)?;
            pos += 1;
            match CLASS[byte as usize] {
                OPEN_OBJECT => {
                    self.frames.push(Frame::Object {
                        start: self.keys.len(),
                        many: false,
                        current: None,
                    });
                    expect_key = true;
                }
                OPEN_ARRAY => {
                    self.frames.push(Frame::Array { index: 0 });
                    expect_key = false;
                }
                CLOSE => {
                    if let Some(Frame::Object { start, many, .. }) = self.frames.pop() {
                        self.keys.truncate(start);
                        if many {
                            self.sets.pop();
                        }
                    }
                    expect_key = false;
                    if self.frames.is_empty() {
                        return None;
                    }
                }
                COMMA => match self.frames.last_mut()? {
                    Frame::Object { .. } => expect_key = true,
                    Frame::Array { index } => {
                        if PATH {
                            *index += 1;
                        }
                    }
                },
                _ => {
                    // A string: find its end, stepping over escapes.
                    let start = pos;
                    let (end, escaped) = string_end(text, pos)?;
                    pos = end + 1;
                    if expect_key {
                        expect_key = false;
                        let key = self.key(text, start, end, escaped);
                        if let Some(found) = self.add_key::<PATH>(text, key) {
                            return Some(found);
                        }
                    } else if self.frames.is_empty() {
                        return None;
                    }
                }
            }
        }
    }

    /// The key whose content is `text[start..end]`.
    fn key(&mut self, text: &[u8], start: usize, end: usize, escaped: bool) -> Key {
        if !escaped {
            return Key {
                hash: fnv(&text[start..end]),
                start,
                end,
                decoded: false,
            };
        }
        let at = self.decoded.len();
        unescape_into(&text[start..end], &mut self.decoded);
        Key {
            hash: fnv(&self.decoded[at..]),
            start: at,
            end: self.decoded.len(),
            decoded: true,
        }
    }

    fn bytes<'a>(&'a self, text: &'a [u8], key: Key) -> &'a [u8] {
        if key.decoded {
            &self.decoded[key.start..key.end]
        } else {
            &text[key.start..key.end]
        }
    }

    /// Adds `key` to the innermost object; the duplicate it makes, if it repeats one.
    fn add_key<const PATH: bool>(&mut self, text: &[u8], key: Key) -> Option<Duplicate> {
        let Some(Frame::Object { start, many, .. }) = self.frames.last() else {
            return None;
        };
        let (start, many) = (*start, *many);
        let seen = &self.keys[start..];
        let maybe_seen = if many {
            !self.sets.last_mut()?.insert(key.hash)
        } else {
            seen.iter().any(|k| k.hash == key.hash)
        };
        if maybe_seen {
            let new = self.bytes(text, key);
            if seen
                .iter()
                .any(|k| k.hash == key.hash && self.bytes(text, *k) == new)
            {
                return Some(Duplicate {
                    key: String::from_utf8_lossy(new).into_owned(),
                    path: if PATH {
                        self.pointer(text)
                    } else {
                        String::new()
                    },
                });
            }
        }
        // Past LINEAR_KEYS keys, the object's hashes go into a set (the new key's included).
        let promote = !many && seen.len() >= LINEAR_KEYS;
        if promote {
            let mut set: HashSet<u64, BuildHasherDefault<Prehashed>> = HashSet::default();
            set.extend(seen.iter().map(|k| k.hash));
            set.insert(key.hash);
            self.sets.push(set);
        }
        self.keys.push(key);
        if let Some(Frame::Object { many, current, .. }) = self.frames.last_mut() {
            *many |= promote;
            if PATH {
                *current = Some(key);
            }
        }
        None
    }

    /// The JSON Pointer of the innermost object.
    fn pointer(&self, text: &[u8]) -> String {
        let mut path = String::new();
        let inner = self.frames.len().saturating_sub(1);
        for frame in &self.frames[..inner] {
            path.push('/');
            match frame {
                Frame::Object {
                    current: Some(key), ..
                } => {
                    let token = String::from_utf8_lossy(self.bytes(text, *key));
                    path.push_str(&token.replace('~', "~0").replace('/', "~1"));
                }
                Frame::Object { current: None, .. } => {}
                Frame::Array { index } => path.push_str(&index.to_string()),
            }
        }
        path
    }
}

/// Strings up to this long are stepped through byte by byte; longer ones through `memchr`,
/// whose call costs more than it saves on the short keys and values most messages have.
const SHORT_STRING: usize = 24;

/// Where the string whose content starts at `pos` ends (its closing quote), and whether it has
/// escapes; `None` if it does not end within `text`.
#[inline]
fn string_end(text: &[u8], mut pos: usize) -> Option<(usize, bool)> {
    let mut escaped = false;
    let short_until = text.len().min(pos + SHORT_STRING);
    while pos < short_until {
        match text[pos] {
            b'"' => return Some((pos, escaped)),
            b'\\' => {
                escaped = true;
                pos += 2;
            }
            _ => pos += 1,
        }
    }
    loop {
        let at = memchr::memchr2(b'"', b'\\', text.get(pos..)?)?;
        pos += at;
        if text[pos] == b'"' {
            return Some((pos, escaped));
        }
        escaped = true;
        pos += 2;
    }
}

/// FNV-1a: fast on the short keys JSON objects have; collisions are resolved by comparing bytes.
fn fnv(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// A hasher for values that are hashes already.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = fnv(bytes);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Decodes a JSON string's content (without quotes). `\uXXXX` escapes become UTF-8, a
/// surrogate pair one code point; a lone surrogate becomes its generalized UTF-8 (WTF-8)
/// bytes, so that two spellings of the same code units compare equal.
fn unescape_into(raw: &[u8], out: &mut Vec<u8>) {
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
        push_wtf8(out, code);
    }
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
