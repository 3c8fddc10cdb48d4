//! Rewriting upstream URIs to their namespaced form inside results: `resource_link` and embedded
//! `resource` content blocks (tool results, prompt messages) and `resources/read` contents.
//! Results that cannot contain one are passed through without being parsed.

use manifold_protocol::RawValue;
use serde_json::Value;

use crate::naming::downstream_uri;

/// Rewrites URIs in a `tools/call` or `prompts/get` result for `namespace`.
pub fn content_result(raw: Box<RawValue>, namespace: &str) -> Box<RawValue> {
    // Both block types contain the text `"resource`; anything without it is returned untouched.
    if namespace.is_empty() || !raw.get().contains("\"resource") {
        return raw;
    }
    rewrite(raw, |value| {
        for key in ["content", "messages"] {
            if let Some(Value::Array(items)) = value.get_mut(key) {
                for item in items {
                    if key == "messages" {
                        if let Some(block) = item.get_mut("content") {
                            block_uris(block, namespace);
                        }
                    } else {
                        block_uris(item, namespace);
                    }
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
    rewrite(raw, |value| {
        if let Some(Value::Array(contents)) = value.get_mut("contents") {
            for c in contents {
                prefix_field(c, "uri", namespace);
            }
        }
    })
}

fn block_uris(block: &mut Value, namespace: &str) {
    match block.get("type").and_then(Value::as_str) {
        Some("resource_link") => prefix_field(block, "uri", namespace),
        Some("resource") => {
            if let Some(inner) = block.get_mut("resource") {
                prefix_field(inner, "uri", namespace);
            }
        }
        _ => {}
    }
}

/// Prefixes the string at `key` with the namespace.
pub fn prefix_field(value: &mut Value, key: &str, namespace: &str) {
    if let Some(Value::String(uri)) = value.get_mut(key) {
        *uri = downstream_uri(namespace, uri);
    }
}

fn rewrite(raw: Box<RawValue>, edit: impl FnOnce(&mut Value)) -> Box<RawValue> {
    let Ok(mut value) = serde_json::from_str::<Value>(raw.get()) else {
        return raw;
    };
    edit(&mut value);
    serde_json::value::to_raw_value(&value).unwrap_or(raw)
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
