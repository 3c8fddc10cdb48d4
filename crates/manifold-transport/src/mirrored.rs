//! What a 2026-07-28 POST says in its headers about its body (mcp-spec.md §5.3): `Mcp-Method`
//! and, for the routed methods, `Mcp-Name` — read from the very text that is sent, so the two
//! cannot disagree — and which request a `notifications/cancelled` cancels (over HTTP that is
//! done by closing the request's stream, never by posting the notification).

use std::borrow::Cow;

use manifold_protocol::modern::header_value;
use manifold_protocol::Id;
use serde::Deserialize;

/// The `Mcp-Method` header.
pub(crate) const METHOD_HEADER: &str = "mcp-method";
/// The `Mcp-Name` header.
pub(crate) const NAME_HEADER: &str = "mcp-name";

/// The headers one outgoing message mirrors, or the request it cancels.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Mirrored {
    /// Its method, as `Mcp-Method` carries it.
    pub(crate) method: Option<String>,
    /// The name or URI it is routed by, as `Mcp-Name` carries it (encoded when it must be).
    pub(crate) name: Option<String>,
    /// The request a `notifications/cancelled` names.
    pub(crate) cancels: Option<Id>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    params: Option<Params<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Params<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    uri: Option<Cow<'a, str>>,
    #[serde(default)]
    request_id: Option<Id>,
}

impl Mirrored {
    /// What `text` (one JSON-RPC message) mirrors; nothing for text that is not one.
    pub(crate) fn of(text: &str) -> Mirrored {
        let Ok(message) = serde_json::from_str::<Message<'_>>(text) else {
            return Mirrored::default();
        };
        let Some(method) = message.method else {
            return Mirrored::default();
        };
        let params = message.params;
        if method == manifold_protocol::method::CANCELLED {
            return Mirrored {
                cancels: params.and_then(|p| p.request_id),
                ..Mirrored::default()
            };
        }
        let key = manifold_protocol::modern::name_key(&method);
        let name = params.and_then(|p| match key {
            Some("name") => p.name,
            Some("uri") => p.uri,
            _ => None,
        });
        Mirrored {
            name: name.map(|n| header_value(&n)),
            method: Some(header_value(&method)),
            cancels: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_mirrors_its_method_and_name_and_a_read_its_uri() {
        let call = Mirrored::of(
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"name":"x"}}}"#,
        );
        assert_eq!(call.method.as_deref(), Some("tools/call"));
        assert_eq!(call.name.as_deref(), Some("echo"));
        let read = Mirrored::of(
            r#"{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"name":"n","uri":"file:///a b"}}"#,
        );
        assert_eq!(read.name.as_deref(), Some("file:///a b"));
        let list =
            Mirrored::of(r#"{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"name":"n"}}"#);
        assert_eq!(
            (list.method.as_deref(), list.name),
            (Some("tools/list"), None)
        );
    }

    #[test]
    fn a_name_written_with_escapes_is_mirrored_as_meant() {
        let call = Mirrored::of(
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\u00e9t\u00e9"}}"#,
        );
        assert_eq!(call.name.as_deref(), Some("=?base64?w6l0w6k=?="));
    }

    #[test]
    fn a_cancellation_names_its_request() {
        let cancelled = Mirrored::of(
            r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7,"reason":"timeout"}}"#,
        );
        assert_eq!(cancelled.cancels, Some(Id::Num(7)));
        assert_eq!(cancelled.method, None);
    }
}
