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
    /// The stream's last event id: set by every `id:` field as it is read, dispatched or not
    /// (the SSE spec's "last event ID buffer"), so a priming event without data counts.
    last_id: Option<String>,
    /// The latest `retry:` advice, in milliseconds.
    retry: Option<u64>,
}

impl SseDecoder {
    /// A decoder that drops events whose data exceeds `max` bytes.
    pub fn new(max: usize) -> Self {
        SseDecoder {
            line: Vec::new(),
            current: Event::default(),
            has_data: false,
            max,
            last_id: None,
            retry: None,
        }
    }

    /// The id a reconnection sends as `Last-Event-ID`, if the stream gave one.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_id.as_deref().filter(|id| !id.is_empty())
    }

    /// How long the server asked clients to wait before reconnecting, in milliseconds.
    pub fn retry(&self) -> Option<u64> {
        self.retry
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
            // An id containing NUL is ignored (SSE spec, "id" field).
            "id" if !value.contains('\0') => {
                self.current.id = Some(value.to_string());
                self.last_id = Some(value.to_string());
            }
            "retry" => {
                if let Ok(ms) = value.parse::<u64>() {
                    self.current.retry = Some(ms);
                    self.retry = Some(ms);
                }
            }
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
        assert_eq!(d.last_event_id(), Some("9"));
    }

    #[test]
    fn a_priming_event_sets_the_last_id_and_retry() {
        let mut d = SseDecoder::new(1024);
        let mut out = Vec::new();
        d.feed(b"id: 7-0\nretry: 250\ndata: \n\n", &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].data, "");
        assert_eq!((d.last_event_id(), d.retry()), (Some("7-0"), Some(250)));
        d.feed(b"id: 7-1\nretry: x\n\n", &mut out);
        assert_eq!((d.last_event_id(), d.retry()), (Some("7-1"), Some(250)));
    }
}
