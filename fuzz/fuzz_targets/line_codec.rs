//! The stdio line codec on arbitrary bytes, cut at arbitrary points: it never panics, never
//! emits a line longer than its bound, and frames every chunking exactly as it frames the whole.
#![no_main]

use libfuzzer_sys::fuzz_target;
use manifold_protocol::{Frame, LineDecoder};

const MAX: usize = 64;

fn frames(chunks: &[&[u8]]) -> Vec<Frame> {
    let mut decoder = LineDecoder::new(MAX);
    let mut out = Vec::new();
    for chunk in chunks {
        decoder.feed(chunk, &mut out);
    }
    decoder.finish(&mut out);
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, bytes)) = data.split_first() else {
        return;
    };
    let whole = frames(&[bytes]);
    let at = usize::from(cut) % (bytes.len() + 1);
    let (a, b) = bytes.split_at(at);
    let byte_by_byte: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(frames(&[a, b]), whole);
    assert_eq!(frames(&byte_by_byte), whole);
    for frame in &whole {
        match frame {
            Frame::Line(line) => {
                assert!(line.len() <= MAX);
                assert!(!line.contains(&b'\n'));
            }
            Frame::Oversized { prefix, len } => {
                assert!(*len > MAX && prefix.len() <= 256 && prefix.len() <= *len);
            }
        }
    }
});
