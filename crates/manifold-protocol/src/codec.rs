//! Newline-delimited framing for stdio (mcp-spec.md §5.1) with a maximum message size: an
//! oversized line is discarded as it streams in, never buffered whole.

/// How many leading bytes of an oversized line are kept, enough to find its `id`.
const OVERSIZED_PREFIX: usize = 256;

/// One frame cut from the byte stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A complete line, without its `\n` (and without a trailing `\r`).
    Line(Vec<u8>),
    /// A line longer than the maximum: only its first bytes and its length are kept.
    Oversized {
        /// The first bytes of the line.
        prefix: Vec<u8>,
        /// Its full length in bytes.
        len: usize,
    },
}

/// Splits a byte stream into lines of at most `max` bytes. Blank lines are skipped.
#[derive(Debug)]
pub struct LineDecoder {
    buf: Vec<u8>,
    max: usize,
    /// Set while the rest of an oversized line is being skipped.
    discarding: Option<(Vec<u8>, usize)>,
}

impl LineDecoder {
    /// A decoder for lines of at most `max` bytes.
    pub fn new(max: usize) -> Self {
        LineDecoder {
            buf: Vec::new(),
            max,
            discarding: None,
        }
    }

    /// Feeds bytes; complete frames are appended to `out`.
    pub fn feed(&mut self, mut data: &[u8], out: &mut Vec<Frame>) {
        while !data.is_empty() {
            let newline = data.iter().position(|b| *b == b'\n');
            let (chunk, rest, ends) = match newline {
                Some(i) => (&data[..i], &data[i + 1..], true),
                None => (data, &data[data.len()..], false),
            };
            data = rest;
            if let Some((prefix, len)) = &mut self.discarding {
                *len += chunk.len();
                let room = OVERSIZED_PREFIX.saturating_sub(prefix.len());
                prefix.extend_from_slice(&chunk[..room.min(chunk.len())]);
                if ends {
                    let (prefix, len) = self.discarding.take().unwrap_or_default();
                    out.push(Frame::Oversized { prefix, len });
                }
                continue;
            }
            if self.buf.len() + chunk.len() > self.max {
                let mut prefix = std::mem::take(&mut self.buf);
                let len = prefix.len() + chunk.len();
                let room = OVERSIZED_PREFIX.saturating_sub(prefix.len());
                prefix.extend_from_slice(&chunk[..room.min(chunk.len())]);
                prefix.truncate(OVERSIZED_PREFIX);
                if ends {
                    out.push(Frame::Oversized { prefix, len });
                } else {
                    self.discarding = Some((prefix, len));
                }
                continue;
            }
            self.buf.extend_from_slice(chunk);
            if ends {
                self.emit(out);
            }
        }
    }

    /// At end of stream: the last line if it had no trailing newline.
    pub fn finish(&mut self, out: &mut Vec<Frame>) {
        if let Some((prefix, len)) = self.discarding.take() {
            out.push(Frame::Oversized { prefix, len });
        }
        self.emit(out);
    }

    fn emit(&mut self, out: &mut Vec<Frame>) {
        let mut line = std::mem::take(&mut self.buf);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.iter().any(|b| !b.is_ascii_whitespace()) {
            out.push(Frame::Line(line));
        }
    }
}

/// Makes `text` safe as one stdio line: a raw newline can only be JSON whitespace (inside strings
/// it must be escaped), so it is replaced by a space. Returns the text with `\n` appended.
pub fn to_line(mut text: String) -> String {
    if text.contains(['\n', '\r']) {
        text = text.replace(['\n', '\r'], " ");
    }
    text.push('\n');
    text
}

/// Best effort: the integer or string `"id"` near the start of a (truncated) message, used to
/// fail the right pending request when an oversized response is discarded.
pub fn sniff_id(prefix: &[u8]) -> Option<crate::Id> {
    let text = String::from_utf8_lossy(prefix);
    let at = text.find("\"id\"")?;
    let rest = text[at + 4..].trim_start().strip_prefix(':')?.trim_start();
    if let Some(s) = rest.strip_prefix('"') {
        let end = s.find('"')?;
        return Some(crate::Id::from(&s[..end]));
    }
    let digits: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '-')
        .collect();
    let end_ok = rest[digits.len()..]
        .chars()
        .next()
        .is_some_and(|c| c == ',' || c == '}' || c.is_whitespace());
    if end_ok {
        digits.parse().ok().map(crate::Id::Num)
    } else {
        None
    }
}
