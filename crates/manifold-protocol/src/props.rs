//! Property tests of the codecs and the decode, on generated input, run with the normal tests
//! (the `fuzz/` targets check the same properties on arbitrary bytes): the line codec frames any
//! chunking of a stream the same way and never lets a frame past its bound; the SSE decoder
//! reads any chunking of a stream of events back exactly; the repeated-key scan agrees with an
//! independent serde-based check; and a client message decodes if and only if no key repeats.

use std::collections::HashSet;

use proptest::prelude::*;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::codec::{Frame, LineDecoder};
use crate::dupes::find_duplicate;
use crate::sse::{Event, SseDecoder};
use crate::{decode_client, DecodeError, Decoded, Message};

/// Splits `bytes` at the given cut points (taken modulo its length).
fn chunks(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    let mut out = Vec::new();
    let mut at = 0;
    for p in points.into_iter().chain([bytes.len()]) {
        out.push(bytes[at..p].to_vec());
        at = p;
    }
    out
}

/// Any JSON value, accepting only objects whose keys (decoded) are unique: serde's own reading
/// of the text, independent of [`find_duplicate`].
struct Unique;

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Unique;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Unique, M::Error> {
        let mut keys = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !keys.insert(key) {
                return Err(serde::de::Error::custom("repeated key"));
            }
            map.next_value::<Unique>()?;
        }
        Ok(Unique)
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Unique, S::Error> {
        while seq.next_element::<Unique>()?.is_some() {}
        Ok(Unique)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_str<E>(self, _: &str) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_unit<E>(self) -> Result<Unique, E> {
        Ok(Unique)
    }
}

/// A key drawn from a small set, in one of several spellings of the same text.
fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        r#""name""#,
        r#""n\u0061me""#,
        r#""arguments""#,
        r#""uri""#,
        r#""\u00e9""#,
        r#""é""#,
        r#""a\"b""#,
        r#""a\\b""#,
        r#""k""#,
        r#""K""#,
    ])
    .prop_map(String::from)
}

/// JSON text built from those keys, so that repeats happen at every depth.
fn json_with_keys() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(vec![
        "1",
        "2.50",
        "\"s\"",
        "\"{\\\"k\\\":1,\\\"k\\\":2}\"",
        "null",
        "[]",
        "{}",
    ])
    .prop_map(String::from);
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((key(), inner), 0..5).prop_map(|members| {
                let body: Vec<String> = members
                    .into_iter()
                    .map(|(k, v)| format!("{k} : {v}"))
                    .collect();
                format!("{{{}}}", body.join(" ,"))
            }),
        ]
    })
}

/// An SSE event's fields: event name, data lines, id.
fn sse_event() -> impl Strategy<Value = (String, Vec<String>, Option<String>)> {
    (
        prop::sample::select(vec!["", "message", "endpoint"]).prop_map(String::from),
        prop::collection::vec("[a-z{}\":, 0-9]{0,12}", 1..4),
        prop::option::of("[0-9]{1,3}-[0-9]{1,3}"),
    )
}

proptest! {
    #[test]
    fn the_line_codec_frames_any_chunking_alike(
        lines in prop::collection::vec("[ -~]{0,40}", 0..12),
        cuts in prop::collection::vec(any::<usize>(), 0..10),
        crlf in any::<bool>(),
    ) {
        let max = 24;
        let end = if crlf { "\r\n" } else { "\n" };
        let stream: String = lines.iter().map(|l| format!("{l}{end}")).collect();
        let mut decoder = LineDecoder::new(max);
        let mut frames = Vec::new();
        for chunk in chunks(stream.as_bytes(), &cuts) {
            decoder.feed(&chunk, &mut frames);
        }
        decoder.finish(&mut frames);
        let expected: Vec<Frame> = lines
            .iter()
            .filter_map(|l| {
                // The bound counts the line's bytes as they arrive, a trailing \r included;
                // blank lines that fit are skipped.
                let arriving = l.len() + usize::from(crlf);
                if arriving > max {
                    let prefix = l.bytes().chain(crlf.then_some(b'\r')).take(256).collect();
                    Some(Frame::Oversized { prefix, len: arriving })
                } else {
                    l.bytes()
                        .any(|b| !b.is_ascii_whitespace())
                        .then(|| Frame::Line(l.as_bytes().to_vec()))
                }
            })
            .collect();
        prop_assert_eq!(frames, expected);
    }

    #[test]
    fn the_sse_decoder_reads_any_chunking_back(
        events in prop::collection::vec(sse_event(), 0..6),
        cuts in prop::collection::vec(any::<usize>(), 0..10),
    ) {
        let mut stream = String::new();
        for (name, data, id) in &events {
            if !name.is_empty() {
                stream.push_str(&format!("event: {name}\n"));
            }
            if let Some(id) = id {
                stream.push_str(&format!("id: {id}\n"));
            }
            for line in data {
                stream.push_str(&format!("data: {line}\n"));
            }
            stream.push_str(": a comment\n\n");
        }
        let mut decoder = SseDecoder::new(1 << 20);
        let mut out = Vec::new();
        for chunk in chunks(stream.as_bytes(), &cuts) {
            decoder.feed(&chunk, &mut out);
        }
        let expected: Vec<Event> = events
            .iter()
            .map(|(name, data, id)| Event {
                event: name.clone(),
                data: data.join("\n"),
                id: id.clone(),
                retry: None,
            })
            .collect();
        prop_assert_eq!(out, expected);
        let last_id = events.iter().rev().find_map(|(_, _, id)| id.as_deref());
        prop_assert_eq!(decoder.last_event_id(), last_id);
    }

    #[test]
    fn the_repeated_key_scan_agrees_with_serde(text in json_with_keys()) {
        let unique = serde_json::from_str::<Unique>(&text).is_ok();
        prop_assert_eq!(find_duplicate(text.as_bytes()).is_none(), unique, "{}", text);
    }

    #[test]
    fn a_client_message_decodes_iff_no_key_repeats(params in json_with_keys(), id in 0i64..1000) {
        prop_assume!(params.starts_with('{'));
        let text = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{params}}}"#);
        let unique = serde_json::from_str::<Unique>(&text).is_ok();
        match decode_client(text.as_bytes()) {
            Ok(Decoded::Single(Message::Request(r))) => {
                prop_assert!(unique, "{}", text);
                prop_assert_eq!(r.params.map(|p| p.get().to_string()), Some(params));
            }
            Err(DecodeError::Duplicate { id: got, path, .. }) => {
                prop_assert!(!unique, "{}", text);
                prop_assert_eq!(got, Some(crate::Id::Num(id)));
                prop_assert!(path.starts_with("/params"), "{}", path);
            }
            other => prop_assert!(false, "{:?} for {}", other, text),
        }
    }
}
