//! The tools and prompts of `--profile conformance` in the 2026-07-28 era: the legacy fixture's
//! (`test_reconnection` is a plain delayed answer here: this era has no resumable stream to
//! close), the MRTR ones, the diagnostic
//! tools of the stateless scenarios (`test_missing_capability`, `test_logging_tool`,
//! `test_trigger_tool_change`, `test_trigger_prompt_change`), and `test_dynamic_tool` /
//! `test_dynamic_prompt`, listed after an odd number of triggers.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::conformance::{self, user};
use crate::conformance_tools::{self, no_args};
use crate::listen::{Change, Hub};
use crate::methods::{str_param, LOG_LEVELS};
use crate::modern::Meta;
use crate::mrtr_tools;
use crate::rpc::{self, RpcError};
use crate::session::{Out, Reply, Session};
use crate::tools::ok_text;

/// The tool that appears and disappears with `test_trigger_tool_change`.
const DYNAMIC_TOOL: &str = "test_dynamic_tool";
/// The prompt that appears and disappears with `test_trigger_prompt_change`.
const DYNAMIC_PROMPT: &str = "test_dynamic_prompt";

/// Diagnostic tools: name and description (no arguments).
const DIAGNOSTIC: [(&str, &str); 4] = [
    (
        "test_missing_capability",
        "Needs the sampling capability: -32021 when the client did not declare it",
    ),
    (
        "test_logging_tool",
        "Logs at info and debug, only when the request's _meta asks for a log level",
    ),
    (
        "test_trigger_tool_change",
        "Adds or removes test_dynamic_tool; open listens asking toolsListChanged are told",
    ),
    (
        "test_trigger_prompt_change",
        "Adds or removes test_dynamic_prompt; open listens asking promptsListChanged are told",
    ),
];

fn tool(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "description": description, "inputSchema": schema })
}

/// Every tool of this era, in a stable order.
pub(crate) fn tools(hub: &Hub) -> Vec<Value> {
    let mut list = conformance_tools::tools();
    for (name, description) in mrtr_tools::TOOLS.iter().chain(DIAGNOSTIC.iter()) {
        list.push(tool(name, description, no_args()));
    }
    if hub.tool_added() {
        list.push(tool(
            DYNAMIC_TOOL,
            "Listed after an odd number of test_trigger_tool_change calls",
            no_args(),
        ));
    }
    list
}

/// Runs `tools/call`: unknown tools are `-32602`.
pub(crate) async fn call(
    session: &Arc<Session>,
    meta: &Meta,
    params: &Value,
    reply: &Reply,
) -> Result<Value, RpcError> {
    let name = str_param(params, "name")?;
    let hub = &session.shared.hub;
    if mrtr_tools::handles(name) {
        return mrtr_tools::call(session, meta, name, params, reply).await;
    }
    Ok(match name {
        "test_missing_capability" => {
            meta.require(&["sampling"])?;
            ok_text("Success: the client declared the sampling capability")
        }
        "test_logging_tool" => {
            for (level, text) in [("debug", "Diagnostic detail"), ("info", "Diagnostic trace")] {
                let index = LOG_LEVELS.iter().position(|l| *l == level).unwrap_or(0);
                if meta.logs_at(index) {
                    let params = json!({ "level": level, "logger": "conformance", "data": text });
                    let note = rpc::notification("notifications/message", params);
                    session.deliver(reply, Out::Message(note.to_string()));
                }
            }
            ok_text("Logging evaluated")
        }
        "test_tool_with_logging" => {
            conformance_tools::with_logging(session, reply, |level| meta.logs_at(level)).await
        }
        "test_trigger_tool_change" => {
            let present = hub.toggle_tool();
            if !session.opts().unannounced_changes {
                hub.notify(&Change::Tools);
            }
            ok_text(format!(
                "Mutation triggered: {DYNAMIC_TOOL} {}",
                if present { "added" } else { "removed" }
            ))
        }
        "test_trigger_prompt_change" => {
            let present = hub.toggle_prompt();
            if !session.opts().unannounced_changes {
                hub.notify(&Change::Prompts);
            }
            ok_text(format!(
                "Mutation triggered: {DYNAMIC_PROMPT} {}",
                if present { "added" } else { "removed" }
            ))
        }
        DYNAMIC_TOOL if hub.tool_added() => ok_text("The dynamic tool was called"),
        other if tools(hub).iter().any(|t| t["name"] == other) => {
            conformance_tools::call(session, params, reply).await?
        }
        other => return Err(RpcError::invalid_params(format!("unknown tool {other:?}"))),
    })
}

/// Every prompt of this era: the legacy fixture's, the MRTR one, and the dynamic one.
pub(crate) fn prompts(hub: &Hub) -> Vec<Value> {
    let mut list = conformance::prompts();
    list.push(mrtr_tools::prompt_entry());
    if hub.prompt_added() {
        list.push(json!({
            "name": DYNAMIC_PROMPT,
            "description": "Listed after an odd number of test_trigger_prompt_change calls",
            "arguments": [],
        }));
    }
    list
}

/// `prompts/get`: unknown prompts and missing arguments are `-32602`.
pub(crate) fn get_prompt(hub: &Hub, meta: &Meta, params: &Value) -> Result<Value, RpcError> {
    match str_param(params, "name")? {
        mrtr_tools::PROMPT => mrtr_tools::get_prompt(meta, params),
        DYNAMIC_PROMPT if hub.prompt_added() => Ok(json!({
            "description": "The dynamic prompt",
            "messages": [user(json!({ "type": "text", "text": "This prompt was added at run time." }))],
        })),
        _ => conformance::get_prompt(params),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[Value]) -> Vec<String> {
        list.iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn lists_follow_the_triggers() {
        let hub = Hub::default();
        let before = names(&tools(&hub));
        assert!(before.contains(&"test_simple_text".to_string()));
        assert!(before.contains(&"test_input_required_result_multi_round".to_string()));
        assert!(!before.contains(&DYNAMIC_TOOL.to_string()));
        hub.toggle_tool();
        assert!(names(&tools(&hub)).contains(&DYNAMIC_TOOL.to_string()));
        assert!(names(&prompts(&hub)).contains(&mrtr_tools::PROMPT.to_string()));
        hub.toggle_prompt();
        assert!(names(&prompts(&hub)).contains(&DYNAMIC_PROMPT.to_string()));
    }
}
