//! The advertised tools, prompts, resources and templates, plus list pagination.

use serde_json::{json, Map, Value};

use crate::options::Options;
use crate::rpc::RpcError;

/// Base names of the fixed tools (before `--tool-prefix` is applied).
const FIXED_TOOLS: [&str; 12] = [
    "echo", "add", "fail", "sleep", "hang", "crash", "garbage", "big", "link", "whoami", "toggle",
    "sample",
];

/// Name of the extra tool added by `--long-names` (60 characters).
pub(crate) fn long_name() -> String {
    format!("long_{}", "x".repeat(55))
}

/// The session-dependent part of the tool list.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ToolView {
    /// The client declared the `sampling` capability.
    pub(crate) sampling: bool,
    /// The `toggled` tool is currently present.
    pub(crate) toggled: bool,
}

/// Maps an advertised tool name back to its base name, if such a tool is listed.
pub(crate) fn resolve_tool<'a>(opts: &Options, view: ToolView, name: &'a str) -> Option<&'a str> {
    let base = name.strip_prefix(opts.tool_prefix.as_str())?;
    let listed = match base {
        "sample" => view.sampling,
        "toggled" => view.toggled,
        "raw" => opts.raw,
        "roots" => opts.roots_tool,
        b if FIXED_TOOLS.contains(&b) => true,
        b if opts.long_names && b == long_name() => true,
        b => b
            .strip_prefix("gen_")
            .and_then(|i| i.parse::<usize>().ok())
            .is_some_and(|i| i < opts.tools && b == format!("gen_{i}")),
    };
    listed.then_some(base)
}

fn object_schema(properties: Value, required: &[&str]) -> Value {
    let mut schema = json!({ "type": "object", "properties": properties });
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    schema
}

fn no_args() -> Value {
    json!({ "type": "object", "properties": {}, "additionalProperties": false })
}

fn text_arg(description: &str) -> Value {
    json!({ "text": { "type": "string", "description": description } })
}

fn tool(opts: &Options, base: &str, description: &str, mut input_schema: Value) -> Value {
    if opts.strict_schemas {
        input_schema["$schema"] = json!("http://json-schema.org/draft-07/schema#");
        input_schema["additionalProperties"] = json!(false);
    }
    json!({
        "name": format!("{}{}", opts.tool_prefix, base),
        "description": description,
        "inputSchema": input_schema,
    })
}

/// All tools listed for a session, in a stable order.
pub(crate) fn tools(opts: &Options, view: ToolView) -> Vec<Value> {
    let mut list = vec![
        tool(
            opts,
            "echo",
            "Returns the given text (first sending the notification `notify` with `notify_params`, if given)",
            object_schema(text_arg("Text to echo back"), &["text"]),
        ),
        {
            let number = |d: &str| json!({ "type": "number", "description": d });
            let props = json!({ "a": number("First addend"), "b": number("Second addend") });
            let mut t = tool(
                opts,
                "add",
                "Adds two numbers",
                object_schema(props, &["a", "b"]),
            );
            t["outputSchema"] = object_schema(json!({ "sum": { "type": "number" } }), &["sum"]);
            t
        },
        tool(
            opts,
            "fail",
            "Returns a tool execution error (isError: true)",
            object_schema(json!({ "message": { "type": "string" } }), &[]),
        ),
        tool(
            opts,
            "sleep",
            "Sleeps for ms milliseconds, reporting progress if asked to",
            object_schema(
                json!({ "ms": { "type": "integer", "minimum": 0 } }),
                &["ms"],
            ),
        ),
        tool(opts, "hang", "Never answers (until cancelled)", no_args()),
        tool(
            opts,
            "crash",
            "Makes the server exit with code 3",
            no_args(),
        ),
        tool(
            opts,
            "garbage",
            "Writes a non-JSON line, then answers",
            no_args(),
        ),
        tool(
            opts,
            "big",
            "Returns a text of the given size",
            object_schema(
                json!({ "bytes": { "type": "integer", "minimum": 0 } }),
                &["bytes"],
            ),
        ),
        tool(
            opts,
            "link",
            "Returns a resource link and an embedded resource",
            no_args(),
        ),
        tool(
            opts,
            "whoami",
            "Returns what the client sent in initialize",
            no_args(),
        ),
        tool(
            opts,
            "toggle",
            "Adds or removes the tool `toggled`",
            no_args(),
        ),
    ];
    if view.sampling {
        list.push(tool(
            opts,
            "sample",
            "Asks the client to sample an LLM with the prompt (with `cancel_after_ms`, cancels that request instead of waiting)",
            object_schema(json!({ "prompt": { "type": "string" } }), &["prompt"]),
        ));
    }
    if opts.roots_tool {
        list.push(tool(
            opts,
            "roots",
            "Asks the client for its roots and says what came back",
            no_args(),
        ));
    }
    if opts.raw {
        list.push(tool(
            opts,
            "raw",
            "Answers with its `result` argument verbatim, after its `notify` message if given",
            object_schema(
                json!({ "result": { "type": "string" }, "notify": { "type": "string" } }),
                &["result"],
            ),
        ));
    }
    if view.toggled {
        list.push(tool(
            opts,
            "toggled",
            "Present after an odd number of toggles",
            no_args(),
        ));
    }
    if opts.long_names {
        list.push(tool(
            opts,
            &long_name(),
            "A tool with a long name",
            echo_like(),
        ));
    }
    for i in 0..opts.tools {
        list.push(tool(
            opts,
            &format!("gen_{i}"),
            &format!("generated tool {i}"),
            echo_like(),
        ));
    }
    list
}

fn echo_like() -> Value {
    object_schema(text_arg("Text to echo back"), &[])
}

/// URI of resource `i`.
pub(crate) fn resource_uri(opts: &Options, i: usize) -> String {
    format!("testkit://{}/res/{i}", opts.name)
}

/// The resource template URI.
pub(crate) fn template_uri(opts: &Options) -> String {
    format!("testkit://{}/tpl/{{id}}", opts.name)
}

/// A `Resource` object for resource `i`.
pub(crate) fn resource(opts: &Options, i: usize) -> Value {
    json!({ "uri": resource_uri(opts, i), "name": format!("res-{i}"), "mimeType": "text/plain" })
}

/// All resources.
pub(crate) fn resources(opts: &Options) -> Vec<Value> {
    (0..opts.resources).map(|i| resource(opts, i)).collect()
}

/// All resource templates.
pub(crate) fn templates(opts: &Options) -> Vec<Value> {
    vec![json!({
        "uriTemplate": template_uri(opts),
        "name": "tpl",
        "description": "Any id",
        "mimeType": "text/plain",
    })]
}

/// Text of resource `i`.
pub(crate) fn resource_text(opts: &Options, i: usize) -> String {
    format!("resource {i} of {}", opts.name)
}

/// Reads a resource or template instance; `None` when the URI is unknown.
pub(crate) fn read_resource(opts: &Options, uri: &str) -> Option<String> {
    let base = format!("testkit://{}/", opts.name);
    let rest = uri.strip_prefix(&base)?;
    if let Some(i) = rest.strip_prefix("res/") {
        let n: usize = i.parse().ok()?;
        return (n < opts.resources && i == n.to_string()).then(|| resource_text(opts, n));
    }
    let id = rest.strip_prefix("tpl/")?;
    (!id.is_empty() && !id.contains('/')).then(|| format!("template {id} of {}", opts.name))
}

/// All prompts.
pub(crate) fn prompts(opts: &Options) -> Vec<Value> {
    let mut list = vec![json!({
        "name": "greet",
        "description": "Greets someone",
        "arguments": [{ "name": "name", "description": "Who to greet", "required": true }],
    })];
    for i in 0..opts.prompts {
        list.push(json!({ "name": format!("prompt_{i}"), "description": format!("generated prompt {i}") }));
    }
    list
}

/// Whether `name` is a listed prompt.
pub(crate) fn has_prompt(opts: &Options, name: &str) -> bool {
    name == "greet"
        || name
            .strip_prefix("prompt_")
            .and_then(|i| i.parse::<usize>().ok())
            .is_some_and(|i| i < opts.prompts && name == format!("prompt_{i}"))
}

const CURSOR_PREFIX: &str = "tk-page-";

/// Returns `{<key>: page, nextCursor?}` for the page selected by `params.cursor`.
pub(crate) fn paginate(
    items: Vec<Value>,
    params: &Value,
    page_size: usize,
    key: &str,
) -> Result<Value, RpcError> {
    let start = match params.get("cursor") {
        None | Some(Value::Null) => 0,
        Some(Value::String(c)) => c
            .strip_prefix(CURSOR_PREFIX)
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| n > 0 && n < items.len())
            .ok_or_else(|| RpcError::invalid_params(format!("invalid cursor {c:?}")))?,
        Some(other) => return Err(RpcError::invalid_params(format!("invalid cursor {other}"))),
    };
    let total = items.len();
    let end = if page_size == 0 {
        total
    } else {
        (start + page_size).min(total)
    };
    let page: Vec<Value> = items.into_iter().skip(start).take(end - start).collect();
    let mut result = Map::new();
    result.insert(key.to_string(), Value::Array(page));
    if end < total {
        result.insert("nextCursor".into(), json!(format!("{CURSOR_PREFIX}{end}")));
    }
    Ok(Value::Object(result))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: usize) -> Vec<Value> {
        (0..n).map(|i| json!(i)).collect()
    }

    #[test]
    fn pagination_walks_and_rejects_bad_cursors() {
        let first = paginate(items(5), &json!({}), 2, "x").unwrap();
        assert_eq!(first["x"], json!([0, 1]));
        let next = json!({ "cursor": first["nextCursor"] });
        let second = paginate(items(5), &next, 2, "x").unwrap();
        assert_eq!(second["x"], json!([2, 3]));
        let last = paginate(items(5), &json!({ "cursor": second["nextCursor"] }), 2, "x").unwrap();
        assert_eq!(last, json!({ "x": [4] }));
        assert_eq!(
            paginate(items(5), &json!({}), 0, "x").unwrap(),
            json!({ "x": [0, 1, 2, 3, 4] })
        );
        assert_eq!(
            paginate(items(4), &json!({}), 2, "x").unwrap()["nextCursor"],
            "tk-page-2"
        );
        assert!(paginate(items(4), &json!({}), 4, "x")
            .unwrap()
            .get("nextCursor")
            .is_none());
        for bad in [json!("tk-page-9"), json!("tk-page-0"), json!(3), json!("")] {
            let err = paginate(items(5), &json!({ "cursor": bad }), 2, "x").unwrap_err();
            assert_eq!(err.code, -32602);
        }
    }

    #[test]
    fn resource_uris_resolve_strictly() {
        let opts = Options::default();
        assert_eq!(
            read_resource(&opts, "testkit://testkit/res/2").as_deref(),
            Some("resource 2 of testkit")
        );
        assert_eq!(
            read_resource(&opts, "testkit://testkit/tpl/7").as_deref(),
            Some("template 7 of testkit")
        );
        for bad in [
            "testkit://testkit/res/3",
            "testkit://testkit/res/01",
            "testkit://other/res/0",
            "testkit://testkit/tpl/",
        ] {
            assert!(read_resource(&opts, bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn tool_resolution_respects_view_and_prefix() {
        let opts = Options {
            tool_prefix: "p.".into(),
            tools: 2,
            ..Options::default()
        };
        let view = ToolView {
            sampling: false,
            toggled: false,
        };
        assert_eq!(resolve_tool(&opts, view, "p.echo"), Some("echo"));
        assert_eq!(resolve_tool(&opts, view, "echo"), None);
        assert_eq!(resolve_tool(&opts, view, "p.sample"), None);
        assert_eq!(resolve_tool(&opts, view, "p.gen_1"), Some("gen_1"));
        assert_eq!(resolve_tool(&opts, view, "p.gen_01"), None);
        assert_eq!(resolve_tool(&opts, view, "p.toggled"), None);
        let view = ToolView {
            sampling: true,
            toggled: true,
        };
        assert_eq!(resolve_tool(&opts, view, "p.sample"), Some("sample"));
        assert_eq!(resolve_tool(&opts, view, "p.toggled"), Some("toggled"));
        assert_eq!(tools(&opts, view).len(), 12 + 1 + 2);
    }
}
