//! Property tests of the URI rewrite on generated results: for any tool, prompt or read result —
//! numbers in every spelling, escaped strings, odd whitespace, links and embedded resources at
//! any position — the rewrite changes exactly the URIs it must, each to `<namespace>+<uri>`, and
//! not one other byte ([`crate::rewrite_check`]).

use proptest::prelude::*;
use serde_json::Value;

use crate::rewrite::{content_result, read_result};
use crate::rewrite_check::{content_uris, only_uris_changed, read_uris};
use manifold_protocol::RawValue;

/// Whitespace as a sender might put it between tokens.
fn ws() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["", "", "", " ", "\n", " \t ", "\r\n  "]).prop_map(String::from)
}

/// Numbers a re-encoding would change.
fn number() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "0",
        "-0.0",
        "2.50",
        "1.0e3",
        "1E+2",
        "12345678901234567890123",
        "-9223372036854775809",
        "0.1000000000000000055511151231257827",
        "3",
    ])
    .prop_map(String::from)
}

/// JSON strings with escapes.
fn string() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        r#""plain""#,
        r#""caf\u00e9""#,
        r#""\ud83d\ude00""#,
        r#""a\"b\\c\/d""#,
        r#""line\nbreak""#,
        r#""""#,
        r#""file:///x y""#,
        r#""x://a+b""#,
    ])
    .prop_map(String::from)
}

/// An object with `members` (unique keys), each `"key":value`, with whitespace around tokens.
fn object(members: Vec<(String, String)>, spaces: Vec<String>) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in members.iter().enumerate() {
        let s = |n: usize| {
            spaces
                .get((i * 3 + n) % spaces.len().max(1))
                .cloned()
                .unwrap_or_default()
        };
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!("{}\"{k}\"{}:{}{v}", s(0), s(1), s(2)));
    }
    out.push('}');
    out
}

/// Any JSON value, up to a small depth, as text.
fn any_json() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        number(),
        string(),
        Just("true".to_string()),
        Just("null".to_string())
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4)
                .prop_map(|items| format!("[{}]", items.join(" , "))),
            (
                prop::collection::vec(inner, 0..4),
                prop::collection::vec(ws(), 1..6)
            )
                .prop_map(|(values, spaces)| {
                    let members = values
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| (format!("k{i}"), v))
                        .collect();
                    object(members, spaces)
                }),
        ]
    })
}

/// A content block: a link, an embedded resource, text, or something else, with extra members.
fn block() -> impl Strategy<Value = String> {
    let kind = prop::sample::select(vec![
        "resource_link",
        "resource",
        "text",
        "image",
        "resource",
    ]);
    (
        kind,
        string(),
        any_json(),
        prop::collection::vec(ws(), 1..6),
        any::<bool>(),
    )
        .prop_map(|(kind, uri, extra, spaces, uri_first)| {
            let mut members = vec![("type".to_string(), format!("\"{kind}\""))];
            let uri_member = match kind {
                "resource" => (
                    "resource".to_string(),
                    object(
                        vec![("uri".into(), uri), ("_meta".into(), extra.clone())],
                        spaces.clone(),
                    ),
                ),
                _ => ("uri".to_string(), uri),
            };
            if uri_first {
                members.insert(0, uri_member);
            } else {
                members.push(uri_member);
            }
            members.push(("_meta".into(), extra));
            object(members, spaces)
        })
}

/// A whole `tools/call` or `prompts/get` result.
fn content_result_text() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(block(), 0..5),
        prop::collection::vec(block(), 0..3),
        any_json(),
        prop::collection::vec(ws(), 1..6),
    )
        .prop_map(|(blocks, prompt_blocks, extra, spaces)| {
            let messages: Vec<String> = prompt_blocks
                .into_iter()
                .map(|b| {
                    object(
                        vec![("role".into(), "\"user\"".into()), ("content".into(), b)],
                        spaces.clone(),
                    )
                })
                .collect();
            object(
                vec![
                    ("content".into(), format!("[{}]", blocks.join(","))),
                    ("structuredContent".into(), extra.clone()),
                    ("messages".into(), format!("[{}]", messages.join(" ,"))),
                    ("_meta".into(), extra),
                ],
                spaces,
            )
        })
}

/// A `resources/read` result.
fn read_result_text() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((string(), any_json(), any::<bool>()), 0..5),
        prop::collection::vec(ws(), 1..6),
    )
        .prop_map(|(contents, spaces)| {
            let items: Vec<String> = contents
                .into_iter()
                .map(|(uri, extra, with_uri)| {
                    let mut m = vec![
                        ("text".to_string(), "\"t\"".to_string()),
                        ("_meta".into(), extra),
                    ];
                    if with_uri {
                        m.push(("uri".into(), uri));
                    }
                    object(m, spaces.clone())
                })
                .collect();
            object(
                vec![("contents".into(), format!("[{}]", items.join(",")))],
                spaces,
            )
        })
}

fn raw(text: &str) -> Box<RawValue> {
    RawValue::from_string(text.to_string()).expect("generated JSON is valid")
}

proptest! {
    #[test]
    fn content_rewrites_change_exactly_the_uris(text in content_result_text()) {
        let value: Value = serde_json::from_str(&text).unwrap();
        let out = content_result(raw(&text), "ns");
        prop_assert_eq!(only_uris_changed(&text, out.get(), "ns", content_uris(&value)), Ok(()));
        // Without a namespace nothing changes at all.
        let unchanged = content_result(raw(&text), "");
        prop_assert_eq!(unchanged.get(), text.as_str());
    }

    #[test]
    fn read_rewrites_change_exactly_the_uris(text in read_result_text()) {
        let value: Value = serde_json::from_str(&text).unwrap();
        let out = read_result(raw(&text), "ns");
        prop_assert_eq!(only_uris_changed(&text, out.get(), "ns", read_uris(&value)), Ok(()));
    }
}

/// Inputs the `rewrite` fuzz target once failed on (`fuzz/regressions/rewrite/`), replayed with
/// the same property.
#[test]
fn fuzz_regressions_keep_the_property() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/regressions/rewrite"
    );
    let mut replayed = 0;
    for entry in std::fs::read_dir(dir).expect("fuzz/regressions/rewrite") {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        let Ok(raw) = RawValue::from_string(text.to_string()) else {
            continue;
        };
        let before = raw.get().to_string();
        let Ok(value) = serde_json::from_str::<Value>(&before) else {
            continue;
        };
        let out = content_result(raw.clone(), "ns");
        assert_eq!(
            only_uris_changed(&before, out.get(), "ns", content_uris(&value)),
            Ok(())
        );
        let out = read_result(raw, "ns");
        assert_eq!(
            only_uris_changed(&before, out.get(), "ns", read_uris(&value)),
            Ok(())
        );
        replayed += 1;
    }
    assert!(replayed > 0, "no regression input in {dir}");
}
