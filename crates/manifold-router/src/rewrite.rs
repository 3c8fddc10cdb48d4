//! Rewriting upstream URIs to their namespaced form inside results: `resource_link` and embedded
//! `resource` content blocks (tool results, prompt messages) and `resources/read` contents.
//! Each URI is spliced into the result's own bytes ([`manifold_protocol::splice`]): every other
//! byte — `structuredContent`, numbers as written, escapes, `_meta` — arrives exactly as the
//! upstream sent it. Results that cannot contain a URI to rewrite are not parsed at all.

use manifold_protocol::splice::{json_string, Splice};
use manifold_protocol::{RawObject, RawValue};

use crate::naming::downstream_uri;

/// Rewrites URIs in a `tools/call` or `prompts/get` result for `namespace`.
pub fn content_result(raw: Box<RawValue>, namespace: &str) -> Box<RawValue> {
    // Both block types contain the text `"resource`; anything without it is returned untouched.
    if namespace.is_empty() || !raw.get().contains("\"resource") {
        return raw;
    }
    edit(raw, |root, splice| {
        let Ok(result) = RawObject::parse(root) else {
            return;
        };
        for block in items(result.get_borrowed("content")) {
            block_uris(block, namespace, splice);
        }
        for message in items(result.get_borrowed("messages")) {
            if let Ok(message) = RawObject::parse(message) {
                if let Some(block) = message.get_borrowed("content") {
                    block_uris(block, namespace, splice);
                }
            }
        }
    })
}

/// Rewrites `contents[].uri` of a `resources/read` result.
pub fn read_result(raw: Box<RawValue>, namespace: &str) -> Box<RawValue> {
    if namespace.is_empty() {
        return raw;
    }
    edit(raw, |root, splice| {
        let Ok(result) = RawObject::parse(root) else {
            return;
        };
        for contents in items(result.get_borrowed("contents")) {
            prefix_uri(contents, namespace, splice);
        }
    })
}

/// The elements of a JSON array, borrowed from its text; none if it is not an array.
fn items(array: Option<&RawValue>) -> Vec<&RawValue> {
    array
        .and_then(|a| serde_json::from_str(a.get()).ok())
        .unwrap_or_default()
}

fn block_uris<'a>(block: &'a RawValue, namespace: &str, splice: &mut Splice<'a>) {
    let Ok(obj) = RawObject::parse(block) else {
        return;
    };
    match obj.get_str("type").as_deref() {
        Some("resource_link") => prefix_uri(block, namespace, splice),
        Some("resource") => {
            if let Some(inner) = obj.get_borrowed("resource") {
                prefix_uri(inner, namespace, splice);
            }
        }
        _ => {}
    }
}

/// Prefixes the string at `uri` in `object` with the namespace.
fn prefix_uri<'a>(object: &'a RawValue, namespace: &str, splice: &mut Splice<'a>) {
    let Ok(obj) = RawObject::parse(object) else {
        return;
    };
    let Some(raw) = obj.get_borrowed("uri") else {
        return;
    };
    if let Ok(uri) = serde_json::from_str::<String>(raw.get()) {
        splice.replace(raw.get(), json_string(&downstream_uri(namespace, &uri)));
    }
}

/// Runs `find` over the result, which records the edits to make; the edited result, or the
/// original when nothing changed.
fn edit(
    raw: Box<RawValue>,
    find: impl for<'a> FnOnce(&'a RawValue, &mut Splice<'a>),
) -> Box<RawValue> {
    let edited = {
        let mut splice = Splice::new(raw.get());
        find(&raw, &mut splice);
        splice.apply_raw()
    };
    edited.unwrap_or(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_string()).unwrap()
    }

    #[test]
    fn rewrites_links_and_embedded_resources() {
        let out = content_result(
            raw(
                r#"{"content":[{"type":"text","text":"a"},{"type":"resource_link","uri":"file:///x","name":"x"},{"type":"resource","resource":{"uri":"mem://y","text":"t"}}],"isError":false}"#,
            ),
            "fs",
        );
        assert_eq!(
            out.get(),
            r#"{"content":[{"type":"text","text":"a"},{"type":"resource_link","uri":"fs+file:///x","name":"x"},{"type":"resource","resource":{"uri":"fs+mem://y","text":"t"}}],"isError":false}"#
        );
    }

    #[test]
    fn every_byte_but_the_uri_is_kept() {
        let text = r#"{"content":[{"type":"resource_link","uri":"file:///x","name":"caf\u00e9"},{"type":"resource", "resource" : {"uri":"mem://y","text":"t"}}],"structuredContent":{"big":12345678901234567890123,"price":2.50,"e":1.0e3,"s":"\u00e9"},"_meta":{"k":[1.10]}}"#;
        let out = content_result(raw(text), "fs");
        let expected = text
            .replace("\"file:///x\"", "\"fs+file:///x\"")
            .replace("\"mem://y\"", "\"fs+mem://y\"");
        assert_eq!(out.get(), expected);
        let text = r#"{"contents":[{"uri":"a://b","text":"x","_meta":{"n":1e400}},{"uri":"c://d","blob":"AA=="}],"n":-0.0}"#;
        let out = read_result(raw(text), "n");
        assert_eq!(
            out.get(),
            text.replace("\"a://b\"", "\"n+a://b\"")
                .replace("\"c://d\"", "\"n+c://d\"")
        );
    }

    #[test]
    fn untouched_without_resources_or_namespace() {
        let text = r#"{"content":[{"type":"text","text":"a"}]}"#;
        assert_eq!(content_result(raw(text), "fs").get(), text);
        let text = r#"{"content":[{"type":"resource_link","uri":"u"}]}"#;
        assert_eq!(content_result(raw(text), "").get(), text);
    }

    #[test]
    fn prompt_messages_and_read_contents() {
        let out = content_result(
            raw(
                r#"{"messages":[{"role":"user","content":{"type":"resource","resource":{"uri":"a://b"}}}]}"#,
            ),
            "n",
        );
        assert!(out.get().contains("n+a://b"));
        let out = read_result(raw(r#"{"contents":[{"uri":"a://b","text":"x"}]}"#), "n");
        assert_eq!(out.get(), r#"{"contents":[{"uri":"n+a://b","text":"x"}]}"#);
    }
}
