//! `x-mcp-header` (2026-07-28, mcp-spec.md §4.1, §5.3): the tool arguments a Streamable HTTP
//! request mirrors in `Mcp-Param-{name}` headers — which properties of a tool's `inputSchema`
//! are annotated (reached through `properties` only; primitive `string`, `integer` or `boolean`;
//! a non-empty token, unique regardless of case), the headers one call's arguments give, and
//! whether the headers a client sent agree with its arguments.

use serde_json::Value;

/// One mirrored argument: its path of property names, and the header's name after `Mcp-Param-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// The property names from the arguments object down to the value.
    pub path: Vec<String>,
    /// The `x-mcp-header` value.
    pub header: String,
}

/// The largest integer an annotated property may carry (±(2^53 − 1)).
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// The mirrored arguments of a tool whose input schema is `schema`, or why its annotations are
/// invalid (a client drops such a tool).
pub fn plan(schema: &Value) -> Result<Vec<Mirror>, String> {
    let mut mirrors = Vec::new();
    walk(schema, &mut Vec::new(), &mut mirrors)?;
    for (i, m) in mirrors.iter().enumerate() {
        if mirrors[..i]
            .iter()
            .any(|o| o.header.eq_ignore_ascii_case(&m.header))
        {
            return Err(format!("x-mcp-header `{}` appears twice", m.header));
        }
    }
    Ok(mirrors)
}

fn walk(schema: &Value, path: &mut Vec<String>, out: &mut Vec<Mirror>) -> Result<(), String> {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Ok(());
    };
    for (name, property) in properties {
        path.push(name.clone());
        if let Some(header) = property.get("x-mcp-header") {
            let header = header
                .as_str()
                .filter(|h| is_token(h))
                .ok_or_else(|| format!("x-mcp-header of `{}` is not a token", path.join(".")))?;
            let primitive = matches!(
                property.get("type").and_then(Value::as_str),
                Some("string" | "integer" | "boolean")
            );
            if !primitive {
                return Err(format!(
                    "x-mcp-header `{header}` is on `{}`, which is not a string, integer or boolean",
                    path.join(".")
                ));
            }
            out.push(Mirror {
                path: path.clone(),
                header: header.to_string(),
            });
        }
        walk(property, path, out)?;
        path.pop();
    }
    Ok(())
}

/// Whether `text` is an RFC 9110 token.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The `Mcp-Param-*` headers of a call with `arguments`: one per mirrored argument that is
/// present and not null, its value as the header carries it.
pub fn headers(mirrors: &[Mirror], arguments: &Value) -> Vec<(String, String)> {
    mirrors
        .iter()
        .filter_map(|m| {
            let value = m.path.iter().try_fold(arguments, |v, key| v.get(key))?;
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) if n.as_i64().is_some_and(|i| i.abs() <= MAX_SAFE_INTEGER) => {
                    n.to_string()
                }
                _ => return None,
            };
            Some((
                format!("mcp-param-{}", m.header.to_ascii_lowercase()),
                crate::modern::header_value(&text),
            ))
        })
        .collect()
}

/// The header prefix, lowercase.
pub const PREFIX: &str = "mcp-param-";

/// Checks the `Mcp-Param-*` headers a client sent (`given`: lowercase names, values as sent)
/// against its `arguments`: each mirrored argument present in the body needs its header, with
/// the same value (decoded from the base64 sentinel, which must be valid; integers compared as
/// numbers), and a header of a mirrored argument the body lacks is refused too. Headers that
/// name no mirrored argument are not this check's business (they are forwarded).
pub fn check(
    mirrors: &[Mirror],
    arguments: &Value,
    given: &[(String, String)],
) -> Result<(), String> {
    for mirror in mirrors {
        let name = format!("{PREFIX}{}", mirror.header.to_ascii_lowercase());
        let sent = given.iter().find(|(n, _)| *n == name).map(|(_, v)| v);
        let body = mirror
            .path
            .iter()
            .try_fold(arguments, |v, key| v.get(key))
            .filter(|v| !v.is_null());
        match (body, sent) {
            (None, None) => {}
            (Some(_), None) => {
                return Err(format!(
                    "the body carries `{}` but the Mcp-Param-{} header is missing",
                    mirror.path.join("."),
                    mirror.header
                ))
            }
            (None, Some(_)) => {
                return Err(format!(
                    "the Mcp-Param-{} header names `{}`, which the body does not carry",
                    mirror.header,
                    mirror.path.join(".")
                ))
            }
            (Some(body), Some(sent)) => {
                let sent = decode(sent).ok_or_else(|| {
                    format!("the Mcp-Param-{} header is not valid base64", mirror.header)
                })?;
                let agrees = match body {
                    Value::String(s) => *s == sent,
                    Value::Bool(b) => sent == b.to_string(),
                    Value::Number(n) => n.as_i64().is_some_and(|i| sent.parse::<i64>() == Ok(i)),
                    _ => false,
                };
                if !agrees {
                    return Err(format!(
                        "the Mcp-Param-{} header does not match the body's `{}`",
                        mirror.header,
                        mirror.path.join(".")
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A header value as the client meant it: the base64 sentinel `=?base64?…?=` decoded (strictly:
/// padding and alphabet must be right, and the text UTF-8; `None` otherwise), any other value
/// taken literally.
pub fn decode(value: &str) -> Option<String> {
    use base64::Engine as _;
    match value
        .strip_prefix("=?base64?")
        .and_then(|rest| rest.strip_suffix("?="))
    {
        Some(encoded) => base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok()),
        None => Some(value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "region": {"type": "string", "x-mcp-header": "Region"},
                "dry_run": {"type": "boolean", "x-mcp-header": "Dry-Run"},
                "options": {"type": "object", "properties": {
                    "tenant": {"type": "integer", "x-mcp-header": "Tenant"}
                }},
                "list": {"type": "array", "items": {"type": "string", "x-mcp-header": "Hidden"}},
                "plain": {"type": "string"}
            }
        })
    }

    #[test]
    fn annotated_properties_are_found_through_properties_only() {
        let mirrors = plan(&schema()).unwrap();
        let found: Vec<(String, String)> = mirrors
            .iter()
            .map(|m| (m.path.join("."), m.header.clone()))
            .collect();
        assert_eq!(
            found,
            [
                ("region".to_string(), "Region".to_string()),
                ("dry_run".to_string(), "Dry-Run".to_string()),
                ("options.tenant".to_string(), "Tenant".to_string()),
            ]
        );
    }

    #[test]
    fn a_call_mirrors_what_it_carries() {
        let mirrors = plan(&schema()).unwrap();
        let args = json!({"region": "eu-west", "dry_run": true, "options": {"tenant": 42}});
        assert_eq!(
            headers(&mirrors, &args),
            [
                ("mcp-param-region".to_string(), "eu-west".to_string()),
                ("mcp-param-dry-run".to_string(), "true".to_string()),
                ("mcp-param-tenant".to_string(), "42".to_string()),
            ]
        );
        let sparse = json!({"region": "Zürich", "dry_run": null});
        assert_eq!(
            headers(&mirrors, &sparse),
            [(
                "mcp-param-region".to_string(),
                "=?base64?WsO8cmljaA==?=".to_string()
            )]
        );
    }

    #[test]
    fn a_clients_headers_must_agree_with_its_arguments() {
        let mirrors = plan(&schema()).unwrap();
        let args = json!({"region": "Hello", "options": {"tenant": 42}});
        let given = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect()
        };
        let ok = given(&[("mcp-param-region", "Hello"), ("mcp-param-tenant", "42")]);
        assert_eq!(check(&mirrors, &args, &ok), Ok(()));
        let base64 = given(&[
            ("mcp-param-region", "=?base64?SGVsbG8=?="),
            ("mcp-param-tenant", "42"),
            ("mcp-param-other", "forwarded, not checked"),
        ]);
        assert_eq!(check(&mirrors, &args, &base64), Ok(()));
        for bad in [
            given(&[("mcp-param-tenant", "42")]),
            given(&[("mcp-param-region", "hello"), ("mcp-param-tenant", "42")]),
            given(&[
                ("mcp-param-region", "=?base64?SGVsbG8?="),
                ("mcp-param-tenant", "42"),
            ]),
            given(&[
                ("mcp-param-region", "=?base64?SGVs!!!bG8=?="),
                ("mcp-param-tenant", "42"),
            ]),
            given(&[("mcp-param-region", "Hello"), ("mcp-param-tenant", "43")]),
            given(&[
                ("mcp-param-region", "Hello"),
                ("mcp-param-tenant", "42"),
                ("mcp-param-dry-run", "true"),
            ]),
        ] {
            assert!(check(&mirrors, &args, &bad).is_err(), "{bad:?}");
        }
        // A value that merely looks like base64, without the whole sentinel, is literal.
        let literal = json!({"region": "=?base64?SGVsbG8="});
        assert_eq!(
            check(
                &mirrors,
                &literal,
                &given(&[("mcp-param-region", "=?base64?SGVsbG8=")])
            ),
            Ok(())
        );
    }

    #[test]
    fn invalid_annotations_are_reported() {
        let number = json!({"properties": {"n": {"type": "number", "x-mcp-header": "N"}}});
        assert!(plan(&number).is_err());
        let twice = json!({"properties": {
            "a": {"type": "string", "x-mcp-header": "Same"},
            "b": {"type": "string", "x-mcp-header": "same"}
        }});
        assert!(plan(&twice).is_err());
        let spaced = json!({"properties": {"a": {"type": "string", "x-mcp-header": "a b"}}});
        assert!(plan(&spaced).is_err());
    }
}
