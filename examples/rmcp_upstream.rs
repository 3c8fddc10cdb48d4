//! A small MCP server written with `rmcp` (the official Rust SDK), used as a real-world upstream
//! in Manifold's end-to-end tests (`tests/e2e/routing/`): the tests serve it in-process over
//! Streamable HTTP and run this example binary as a stdio upstream.
//!
//! Tools `sum`, `shout`, `reflect`, `client_info` and `note_link`; prompts `haiku` and `summary`;
//! resources `memo://notes/1..=3` and the template `memo://notes/{id}`; completions for
//! `haiku.topic` and the template's `id`. Every list is paginated (`--page-size`, default 2).
//!
//! ```text
//! cargo run --example rmcp_upstream -- [--page-size N] [--label TEXT]
//! ```
#![allow(dead_code, unreachable_pub)]

use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CompleteRequestParams, CompleteResult,
    GetPromptRequestParams, GetPromptResponse, ListPromptsResult, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, Reference, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};

/// Topics offered by completion of `haiku.topic`.
pub const TOPICS: [&str; 4] = ["rain", "river", "rust", "snow"];
/// Number of resources `memo://notes/1..=NOTES`.
pub const NOTES: usize = 3;
/// The resource template.
pub const NOTE_TEMPLATE: &str = "memo://notes/{id}";

/// The rmcp upstream server: stateless apart from its options.
#[derive(Debug, Clone)]
pub struct RmcpUpstream {
    /// Items per page of every list (0 = one page).
    pub page_size: usize,
    /// Shown in `instructions` and in `serverInfo.name` (`rmcp-<label>`).
    pub label: String,
}

impl RmcpUpstream {
    pub fn new(page_size: usize, label: &str) -> RmcpUpstream {
        RmcpUpstream {
            page_size,
            label: label.to_string(),
        }
    }

    /// Names of the tools, in list order.
    pub fn tool_names() -> Vec<&'static str> {
        vec!["sum", "shout", "reflect", "client_info", "note_link"]
    }

    fn tools() -> Vec<Value> {
        let number = json!({ "type": "number" });
        vec![
            json!({
                "name": "sum",
                "description": "Adds a and b",
                "inputSchema": { "type": "object", "properties": { "a": number, "b": number },
                                 "required": ["a", "b"] },
                "outputSchema": { "type": "object", "properties": { "sum": number },
                                  "required": ["sum"] },
            }),
            json!({
                "name": "shout",
                "description": "Upper-cases text",
                "inputSchema": { "type": "object", "properties": { "text": { "type": "string" } },
                                 "required": ["text"] },
            }),
            json!({
                "name": "reflect",
                "description": "Returns its arguments as structured content",
                "inputSchema": { "type": "object" },
            }),
            json!({
                "name": "client_info",
                "description": "Returns what the client sent in initialize",
                "inputSchema": { "type": "object", "properties": {} },
            }),
            json!({
                "name": "note_link",
                "description": "Returns a resource link to note n",
                "inputSchema": { "type": "object", "properties": { "n": { "type": "integer" } } },
            }),
        ]
    }

    /// Names of the prompts, in list order.
    pub fn prompt_names() -> Vec<&'static str> {
        vec!["haiku", "summary"]
    }

    fn prompts() -> Vec<Value> {
        vec![
            json!({
                "name": "haiku",
                "description": "Writes a haiku",
                "arguments": [
                    { "name": "topic", "description": "What about", "required": true },
                    { "name": "style", "description": "How", "required": false },
                ],
            }),
            json!({ "name": "summary", "description": "Summarises the notes" }),
        ]
    }

    /// URI of note `n`.
    pub fn note_uri(n: usize) -> String {
        format!("memo://notes/{n}")
    }

    /// Text of note `n`.
    pub fn note_text(n: usize) -> String {
        format!("note number {n}")
    }

    fn resources() -> Vec<Value> {
        (1..=NOTES)
            .map(|n| json!({ "uri": Self::note_uri(n), "name": format!("note-{n}"), "mimeType": "text/plain" }))
            .collect()
    }

    fn templates() -> Vec<Value> {
        vec![json!({ "uriTemplate": NOTE_TEMPLATE, "name": "note", "mimeType": "text/plain" })]
    }

    /// The page of `items` selected by the request's cursor (`p<start>`), and the next cursor.
    fn page<T: DeserializeOwned>(
        &self,
        items: Vec<Value>,
        request: Option<PaginatedRequestParams>,
    ) -> Result<(Vec<T>, Option<String>), ErrorData> {
        let start = match request.and_then(|r| r.cursor) {
            None => 0,
            Some(c) => c
                .strip_prefix('p')
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|&n| n > 0 && n < items.len())
                .ok_or_else(|| ErrorData::invalid_params(format!("bad cursor {c:?}"), None))?,
        };
        let end = if self.page_size == 0 {
            items.len()
        } else {
            (start + self.page_size).min(items.len())
        };
        let next = (end < items.len()).then(|| format!("p{end}"));
        let page = items[start..end].iter().cloned().map(from_json).collect();
        Ok((page, next))
    }

    fn tool_result(&self, name: &str, args: Map<String, Value>, peer: Option<Value>) -> Value {
        match name {
            "sum" => match (
                args.get("a").and_then(Value::as_f64),
                args.get("b").and_then(Value::as_f64),
            ) {
                (Some(a), Some(b)) => {
                    let sum = a + b;
                    let sum = if sum.fract() == 0.0 && sum.abs() < 1e15 {
                        json!(sum as i64)
                    } else {
                        json!(sum)
                    };
                    json!({ "content": [{ "type": "text", "text": sum.to_string() }],
                            "structuredContent": { "sum": sum } })
                }
                _ => json!({ "content": [{ "type": "text", "text": "a and b must be numbers" }],
                             "isError": true }),
            },
            "shout" => {
                let text = args.get("text").and_then(Value::as_str).unwrap_or_default();
                json!({ "content": [{ "type": "text", "text": text.to_uppercase() }] })
            }
            "reflect" => json!({
                "content": [{ "type": "text", "text": Value::Object(args.clone()).to_string() }],
                "structuredContent": { "arguments": args, "server": format!("rmcp-{}", self.label) },
            }),
            "client_info" => {
                let peer = peer.unwrap_or(Value::Null);
                json!({ "content": [{ "type": "text", "text": peer.to_string() }],
                        "structuredContent": peer })
            }
            _ => {
                let n = args.get("n").and_then(Value::as_u64).unwrap_or(1) as usize;
                json!({ "content": [
                    { "type": "text", "text": format!("see note {n}") },
                    { "type": "resource_link", "uri": Self::note_uri(n), "name": format!("note-{n}"),
                      "mimeType": "text/plain" },
                ] })
            }
        }
    }
}

/// Builds an rmcp model value from its JSON form (the wire format is the contract).
pub fn from_json<T: DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("not a valid {}: {value}: {e}", std::any::type_name::<T>()))
}

impl ServerHandler for RmcpUpstream {
    fn get_info(&self) -> ServerConfig {
        from_json(json!({
            "protocolVersion": "2025-11-25",
            "capabilities": { "tools": {}, "prompts": {}, "resources": {}, "completions": {} },
            "serverInfo": { "name": format!("rmcp-{}", self.label), "version": "0.1.0" },
            "instructions": format!("rmcp upstream {}", self.label),
        }))
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let (tools, next) = self.page(Self::tools(), request)?;
        let mut result = ListToolsResult::with_all_items(tools);
        result.next_cursor = next;
        Ok(result)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if !Self::tool_names().contains(&request.name.as_ref()) {
            return Err(ErrorData::invalid_params(
                format!("Unknown tool: {}", request.name),
                None,
            ));
        }
        // A 2026-07-28 client never initializes: who it is comes with each request.
        let stateless = serde_json::to_value(&context.meta).ok().and_then(|meta| {
            Some(json!({
                "clientInfo": meta.get("io.modelcontextprotocol/clientInfo")?,
                "capabilities": meta.get("io.modelcontextprotocol/clientCapabilities"),
                "protocolVersion": meta.get("io.modelcontextprotocol/protocolVersion"),
            }))
        });
        let peer = stateless.or_else(|| {
            context
                .peer
                .peer_info()
                .map(|info| serde_json::to_value(&*info).expect("client info serializes"))
        });
        let args = request.arguments.unwrap_or_default();
        let result: rmcp::model::CallToolResult =
            from_json(self.tool_result(&request.name, args, peer));
        Ok(result.into())
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let (prompts, next) = self.page(Self::prompts(), request)?;
        let mut result = ListPromptsResult::with_all_items(prompts);
        result.next_cursor = next;
        Ok(result)
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let args = request.arguments.unwrap_or_default();
        let arg = |k: &str| args.get(k).and_then(Value::as_str).map(str::to_string);
        let result = match request.name.as_str() {
            "haiku" => {
                let topic = arg("topic")
                    .ok_or_else(|| ErrorData::invalid_params("topic is required", None))?;
                let style = arg("style").unwrap_or_else(|| "plain".to_string());
                json!({
                    "description": format!("A {style} haiku"),
                    "messages": [
                        { "role": "user", "content": { "type": "text",
                          "text": format!("Write a {style} haiku about {topic}") } },
                        { "role": "assistant", "content": { "type": "resource_link",
                          "uri": Self::note_uri(1), "name": "note-1" } },
                    ],
                })
            }
            "summary" => json!({
                "messages": [{ "role": "user", "content": { "type": "text", "text": "Summarise the notes" } }],
            }),
            other => {
                return Err(ErrorData::invalid_params(
                    format!("Unknown prompt: {other}"),
                    None,
                ))
            }
        };
        let result: rmcp::model::GetPromptResult = from_json(result);
        Ok(result.into())
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let (resources, next) = self.page(Self::resources(), request)?;
        let mut result = ListResourcesResult::with_all_items(resources);
        result.next_cursor = next;
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let (templates, next) = self.page(Self::templates(), request)?;
        let mut result = ListResourceTemplatesResult::with_all_items(templates);
        result.next_cursor = next;
        Ok(result)
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let n = request
            .uri
            .strip_prefix("memo://notes/")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| (1..=99).contains(n))
            .ok_or_else(|| {
                ErrorData::resource_not_found(format!("no resource {}", request.uri), None)
            })?;
        let result: rmcp::model::ReadResourceResult = from_json(json!({
            "contents": [{ "uri": request.uri, "mimeType": "text/plain", "text": Self::note_text(n) }],
        }));
        Ok(result.into())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let prefix = request.argument.value.as_str();
        let candidates: Vec<String> = match (&request.r#ref, request.argument.name.as_str()) {
            (Reference::Prompt(p), "topic") if p.name == "haiku" => {
                TOPICS.iter().map(|t| t.to_string()).collect()
            }
            (Reference::Resource(r), "id") if r.uri == NOTE_TEMPLATE => {
                (1..=NOTES).map(|n| n.to_string()).collect()
            }
            _ => Vec::new(),
        };
        let values: Vec<String> = candidates
            .into_iter()
            .filter(|c| c.starts_with(prefix))
            .collect();
        Ok(from_json(json!({
            "completion": { "values": values, "total": values.len(), "hasMore": false },
        })))
    }
}

/// Serves `RmcpUpstream` on stdin/stdout until the client goes away.
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut page_size = 2;
    let mut label = "stdio".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--page-size" => page_size = args.next().unwrap_or_default().parse()?,
            "--label" => label = args.next().unwrap_or_default(),
            other => {
                anyhow::bail!("unknown argument {other:?} (expected --page-size N, --label TEXT)")
            }
        }
    }
    let service = RmcpUpstream::new(page_size, &label)
        .serve(rmcp::transport::stdio())
        .await?;
    service.waiting().await?;
    Ok(())
}
