//! The SSE decoder on arbitrary bytes, cut at arbitrary points: it never panics, never emits an
//! event with more data than its bound, and decodes every chunking exactly as the whole stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use manifold_protocol::sse::{Event, SseDecoder};

const MAX: usize = 128;

fn events(chunks: &[&[u8]]) -> (Vec<Event>, Option<String>, Option<u64>) {
    let mut decoder = SseDecoder::new(MAX);
    let mut out = Vec::new();
    for chunk in chunks {
        decoder.feed(chunk, &mut out);
    }
    let last = decoder.last_event_id().map(str::to_string);
    (out, last, decoder.retry())
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, bytes)) = data.split_first() else {
        return;
    };
    let whole = events(&[bytes]);
    let at = usize::from(cut) % (bytes.len() + 1);
    let (a, b) = bytes.split_at(at);
    assert_eq!(events(&[a, b]), whole);
    let byte_by_byte: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(events(&byte_by_byte), whole);
    for event in &whole.0 {
        assert!(event.data.len() <= MAX);
    }
});
