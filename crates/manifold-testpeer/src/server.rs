//! [`TestServer`], an MCP server written with `rmcp`: tools `echo`, `slow` (sleeps on Tokio's
//! clock), `fail` (a result with `isError`) and `crash` (its connection dies mid-call, as if its
//! process exited), and a [`Record`] of what it saw.

use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CancelledNotificationParam,
    ListToolsResult, PaginatedRequestParams, ServerConfig,
};
use rmcp::service::{NotificationContext, RequestContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::record::{Record, Seen};

/// A small rmcp server. Clones share one [`Record`]; each connection ([`TestServer::connect`])
/// is a new life of it, with a peer of its own.
#[derive(Debug, Clone)]
pub struct TestServer {
    /// `serverInfo.name`, also returned by `echo`.
    pub(crate) name: String,
    pub(crate) record: Record,
    /// Cuts the current life's pipe (the `crash` tool cancels it).
    pub(crate) cut: CancellationToken,
    /// Cancelled once the current life's pipe is gone: ends the server's side of it.
    pub(crate) life: CancellationToken,
}

impl TestServer {
    /// The tools, in list order.
    pub const TOOLS: [&'static str; 4] = ["echo", "slow", "fail", "crash"];

    /// A server calling itself `name`.
    pub fn new(name: &str) -> TestServer {
        TestServer {
            name: name.to_string(),
            record: Record::default(),
            cut: CancellationToken::new(),
            life: CancellationToken::new(),
        }
    }

    /// What every life of this server saw.
    pub fn record(&self) -> &Record {
        &self.record
    }

    fn tools() -> Value {
        let object = |properties: Value| json!({ "type": "object", "properties": properties });
        json!([
            { "name": "echo", "description": "Returns its text",
              "inputSchema": object(json!({ "text": { "type": "string" } })) },
            { "name": "slow", "description": "Answers after `ms` milliseconds",
              "inputSchema": object(json!({ "ms": { "type": "integer" } })) },
            { "name": "fail", "description": "A result with isError",
              "inputSchema": object(json!({})) },
            { "name": "crash", "description": "Its connection dies mid-call",
              "inputSchema": object(json!({})) },
        ])
    }

    /// The answer to tool `name`, once it is ready.
    async fn run(
        &self,
        name: &str,
        arguments: &Value,
        context: &RequestContext<RoleServer>,
    ) -> Result<Value, ErrorData> {
        let text = |t: String| json!({ "content": [{ "type": "text", "text": t }] });
        match name {
            "echo" => {
                let said = arguments["text"].as_str().unwrap_or_default().to_string();
                let mut result = text(said.clone());
                result["structuredContent"] = json!({ "text": said, "server": self.name });
                Ok(result)
            }
            "slow" => {
                let ms = arguments["ms"].as_u64().unwrap_or(0);
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(ms)) => {
                        Ok(text(format!("slept {ms} ms")))
                    }
                    () = context.ct.cancelled() => {
                        self.record.push(Seen::Abandoned { id: to_value(&context.id) });
                        Err(ErrorData::internal_error("cancelled", None))
                    }
                }
            }
            "fail" => {
                let mut result = text("failed on purpose".to_string());
                result["isError"] = json!(true);
                Ok(result)
            }
            "crash" => {
                // The pipe is cut before this returns (see `serve`): the answer goes nowhere.
                self.cut.cancel();
                self.life.cancelled().await;
                Err(ErrorData::internal_error("crashed", None))
            }
            other => Err(ErrorData::invalid_params(
                format!("no tool {other:?}"),
                None,
            )),
        }
    }
}

impl ServerHandler for TestServer {
    fn get_info(&self) -> ServerConfig {
        from_json(json!({
            "protocolVersion": "2025-06-18",
            "capabilities": { "tools": {} },
            "serverInfo": { "name": self.name, "version": "1.0.0" },
            "instructions": format!("the {} test server", self.name),
        }))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(from_json(json!({ "tools": Self::tools() })))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let arguments = request.arguments.map_or(Value::Null, Value::Object);
        self.record.push(Seen::Call {
            id: to_value(&context.id),
            name: request.name.to_string(),
            arguments: arguments.clone(),
        });
        let result = self.run(&request.name, &arguments, &context).await?;
        Ok(from_json::<CallToolResult>(result).into())
    }

    async fn on_cancelled(
        &self,
        notification: CancelledNotificationParam,
        _context: NotificationContext<RoleServer>,
    ) {
        self.record.push(Seen::Cancelled {
            request_id: notification
                .request_id
                .as_ref()
                .map_or(Value::Null, to_value),
            reason: notification.reason,
        });
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        let info = context.peer.peer_info().map(|i| to_value(&*i));
        let client = info
            .as_ref()
            .and_then(|i| i["clientInfo"]["name"].as_str())
            .unwrap_or_default()
            .to_string();
        self.record.push(Seen::Initialized { client });
    }
}

/// An rmcp model value from its wire form; the forms here are fixed, so a failure is a bug in
/// this file and fails the test at once.
fn from_json<T: DeserializeOwned>(value: Value) -> T {
    match serde_json::from_value(value.clone()) {
        Ok(v) => v,
        Err(e) => panic!("not a valid {}: {value}: {e}", std::any::type_name::<T>()),
    }
}

fn to_value<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}
