//! Server-Sent Events decoding (the `text/event-stream` format used by Streamable HTTP), pure and
//! incremental: bytes in, complete events out.

/// One SSE event.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Event {
    /// `event:` field (empty means "message").
    pub event: String,
    /// `data:` lines joined by `\n`.
    pub data: String,
    /// `id:` field, if any.
    pub id: Option<String>,
    /// `retry:` field in milliseconds, if any.
    pub retry: Option<u64>,
}

/// Incremental SSE parser with a maximum event size.
#[derive(Debug)]
pub struct SseDecoder {
    line: Vec<u8>,
    current: Event,
    has_data: bool,
    max: usize,
}

impl SseDecoder {
    /// A decoder that drops events whose data exceeds `max` bytes.
    pub fn new(max: usize) -> Self {
        SseDecoder {
            line: Vec::new(),
            current: Event::default(),
            has_data: false,
            max,
        }
    }

    /// Feeds bytes; complete events are appended to `out`.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<Event>) {
        for &b in data {
            if b == b'\n' {
                let mut line = std::mem::take(&mut self.line);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.line_done(&line, out);
            } else if self.line.len() <= self.max {
                self.line.push(b);
            }
        }
    }

    fn line_done(&mut self, line: &[u8], out: &mut Vec<Event>) {
        if line.is_empty() {
            let event = std::mem::take(&mut self.current);
            if self.has_data && event.data.len() <= self.max {
                out.push(event);
            } else if let Some(id) = event.id {
                // An event without data still moves the last event id.
                self.current.id = Some(id);
            }
            self.has_data = false;
            return;
        }
        if line[0] == b':' {
            return;
        }
        let text = String::from_utf8_lossy(line);
        let (field, value) = match text.find(':') {
            Some(i) => (
                &text[..i],
                text[i + 1..].strip_prefix(' ').unwrap_or(&text[i + 1..]),
            ),
            None => (&text[..], ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.current.data.push('\n');
                }
                self.current.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.current.event = value.to_string(),
            "id" => self.current.id = Some(value.to_string()),
            "retry" => self.current.retry = value.parse().ok(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks() {
        let mut d = SseDecoder::new(1024);
        let mut out = Vec::new();
        d.feed(
            b": comment\r\nevent: message\r\nid: 1\r\ndata: {\"a\"",
            &mut out,
        );
        d.feed(b":1}\r\n\r\ndata: x\ndata: y\n\nid: 9\n\n", &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].data, "{\"a\":1}");
        assert_eq!(out[0].id.as_deref(), Some("1"));
        assert_eq!(out[1].data, "x\ny");
    }
}
