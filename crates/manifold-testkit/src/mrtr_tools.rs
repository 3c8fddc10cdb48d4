//! The fixture's MRTR tools and prompt (2026-07-28): each answers a first call with an
//! `InputRequiredResult` and a retry carrying the answers with its complete result; a retry
//! whose answers are missing or malformed is asked again. They ask only for input kinds the
//! client declared (`-32021` otherwise). `test_sampling`, `test_elicitation` and the
//! SEP-1034/1330 forms, which send requests to the client in the legacy era, ask through MRTR
//! here.

use serde_json::{json, Map, Value};

use crate::conformance::user;
use crate::conformance_tools::{sep1034_schema, sep1330_schema, user_schema};
use crate::modern::Meta;
use crate::mrtr::{self, elicit, input_required, list_roots, one_field, sample, Retry};
use crate::rpc::{self, RpcError};
use crate::session::{Out, Reply, Session};
use crate::tools::{ok_text, tool_error};

/// The prompt that asks for input before it is rendered.
pub(crate) const PROMPT: &str = "test_input_required_result_prompt";

/// MRTR tools: name and description (none takes arguments).
pub(crate) const TOOLS: [(&str, &str); 9] = [
    (
        "test_input_required_result_elicitation",
        "MRTR: asks the user's name (elicitation), then greets them",
    ),
    (
        "test_input_required_result_sampling",
        "MRTR: asks a model the capital of France (sampling)",
    ),
    (
        "test_input_required_result_list_roots",
        "MRTR: asks the client's roots (roots/list)",
    ),
    (
        "test_input_required_result_request_state",
        "MRTR: asks for a confirmation with a sealed requestState, checked on the retry",
    ),
    (
        "test_input_required_result_multiple_inputs",
        "MRTR: asks an elicitation, a sampling and the roots at once",
    ),
    (
        "test_input_required_result_multi_round",
        "MRTR: asks a name, then a colour, in two rounds",
    ),
    (
        "test_input_required_result_tampered_state",
        "MRTR: HMAC-sealed requestState; a tampered one is -32602",
    ),
    (
        "test_input_required_result_capabilities",
        "MRTR: asks only for the input kinds the client declared",
    ),
    (
        "test_streaming_elicitation",
        "Reports progress (with a progressToken), then asks for a confirmation through MRTR",
    ),
];

/// Legacy tools that ask the client for input, served through MRTR in this era.
pub(crate) const LEGACY: [&str; 4] = [
    "test_sampling",
    "test_elicitation",
    "test_elicitation_sep1034_defaults",
    "test_elicitation_sep1330_enums",
];

/// Whether `name` is one of [`TOOLS`] or [`LEGACY`].
pub(crate) fn handles(name: &str) -> bool {
    TOOLS.iter().any(|(n, _)| *n == name) || LEGACY.contains(&name)
}

fn asking(pairs: Vec<(&str, Value)>, state: Option<String>) -> Value {
    let requests: Map<String, Value> = pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    input_required(requests, state)
}

/// Runs one of the tools [`handles`].
pub(crate) async fn call(
    session: &Session,
    meta: &Meta,
    name: &str,
    params: &Value,
    reply: &Reply,
) -> Result<Value, RpcError> {
    let retry = Retry::read(params)?;
    let args = params.get("arguments").unwrap_or(&Value::Null);
    let arg = |key: &str| args.get(key).and_then(Value::as_str);
    match name {
        "test_input_required_result_elicitation" => {
            meta.require(&["elicitation"])?;
            let ask = || elicit("What is your name?", one_field("name", "string"));
            Ok(match retry.elicited("user_name") {
                Some(e) if e.action != "accept" => ok_text(format!("No name given ({})", e.action)),
                _ => match retry.elicited_text("user_name", "name") {
                    Some(who) => ok_text(format!("Hello, {who}!")),
                    None => asking(vec![("user_name", ask())], None),
                },
            })
        }
        "test_input_required_result_sampling" => {
            meta.require(&["sampling"])?;
            Ok(match retry.sampled("capital_question") {
                Some(text) => ok_text(format!("The model answered: {text}")),
                None => asking(
                    vec![(
                        "capital_question",
                        sample("What is the capital of France?", 100),
                    )],
                    None,
                ),
            })
        }
        "test_input_required_result_list_roots" => {
            meta.require(&["roots"])?;
            Ok(match retry.roots("client_roots") {
                Some(roots) => ok_text(format!("Client roots: {}", roots.join(", "))),
                None => asking(vec![("client_roots", list_roots())], None),
            })
        }
        "test_input_required_result_request_state"
        | "test_input_required_result_tampered_state" => {
            meta.require(&["elicitation"])?;
            confirm_with_state(name, &retry)
        }
        "test_input_required_result_multiple_inputs" => {
            meta.require(&["elicitation", "sampling", "roots"])?;
            let asks = vec![
                (
                    "user_name",
                    elicit("What is your name?", one_field("name", "string")),
                ),
                ("greeting", sample("Generate a greeting", 50)),
                ("client_roots", list_roots()),
            ];
            gather(name, asks, &retry)
        }
        "test_input_required_result_capabilities" => {
            let mut asks = Vec::new();
            if meta.declared("elicitation") {
                let form = one_field("name", "string");
                asks.push(("user_name", elicit("What is your name?", form)));
            }
            if meta.declared("sampling") {
                asks.push(("summary", sample("Summarise the request", 50)));
            }
            if meta.declared("roots") {
                asks.push(("client_roots", list_roots()));
            }
            if asks.is_empty() {
                return Ok(ok_text(
                    "The client declared no input capability: nothing to ask",
                ));
            }
            gather(name, asks, &retry)
        }
        "test_input_required_result_multi_round" => {
            meta.require(&["elicitation"])?;
            multi_round(name, &retry)
        }
        "test_streaming_elicitation" => {
            meta.require(&["elicitation"])?;
            if let Some(token) = params.pointer("/_meta/progressToken") {
                let note = rpc::notification(
                    "notifications/progress",
                    json!({ "progressToken": token, "progress": 1, "total": 2, "message": "asking the user" }),
                );
                session.deliver(reply, Out::Message(note.to_string()));
            }
            Ok(match retry.elicited("confirm") {
                Some(e) => ok_text(format!(
                    "Streaming elicitation complete: action={}",
                    e.action
                )),
                None => asking(
                    vec![(
                        "confirm",
                        elicit("Please confirm", one_field("ok", "boolean")),
                    )],
                    None,
                ),
            })
        }
        "test_sampling" => {
            meta.require(&["sampling"])?;
            let Some(prompt) = arg("prompt") else {
                return Ok(tool_error("missing string argument \"prompt\""));
            };
            Ok(match retry.sampled("llm_response") {
                Some(text) => ok_text(format!("LLM response: {text}")),
                None => asking(vec![("llm_response", sample(prompt, 100))], None),
            })
        }
        "test_elicitation" => {
            meta.require(&["elicitation"])?;
            let Some(message) = arg("message") else {
                return Ok(tool_error("missing string argument \"message\""));
            };
            let ask = elicit(message, user_schema());
            Ok(elicited_form(&retry, ask, "User response"))
        }
        "test_elicitation_sep1034_defaults" | "test_elicitation_sep1330_enums" => {
            meta.require(&["elicitation"])?;
            let ask = if name.ends_with("defaults") {
                let message = "Please review and update the form fields with defaults";
                elicit(message, sep1034_schema())
            } else {
                elicit(
                    "Please select options from the enum fields",
                    sep1330_schema(),
                )
            };
            Ok(elicited_form(&retry, ask, "Elicitation completed"))
        }
        other => Err(RpcError::invalid_params(format!("unknown tool {other:?}"))),
    }
}

/// The answer to the form under `user_response`, or the form asked (again).
fn elicited_form(retry: &Retry, ask: Value, label: &str) -> Value {
    match retry.elicited("user_response") {
        Some(e) => ok_text(format!(
            "{label}: action={}, content={}",
            e.action,
            Value::Object(e.content)
        )),
        None => asking(vec![("user_response", ask)], None),
    }
}

/// A confirmation asked with a sealed `requestState`; the retry must bring both back.
fn confirm_with_state(name: &str, retry: &Retry) -> Result<Value, RpcError> {
    let ask = || {
        let request = elicit("Please confirm", one_field("ok", "boolean"));
        let state = mrtr::seal(name, json!({ "step": "confirm" }));
        asking(vec![("confirm", request)], Some(state))
    };
    let Some(state) = &retry.state else {
        return Ok(ask());
    };
    let data = mrtr::open(name, state)?;
    if data["step"] != "confirm" {
        return Err(RpcError::invalid_params("requestState of another step"));
    }
    Ok(match retry.elicited("confirm") {
        Some(e) => ok_text(format!(
            "state-ok: requestState verified; action={}, content={}",
            e.action,
            Value::Object(e.content)
        )),
        None => ask(),
    })
}

/// Several input requests at once under one sealed state naming their keys; a retry missing
/// some is asked for those again.
fn gather(name: &str, asks: Vec<(&str, Value)>, retry: &Retry) -> Result<Value, RpcError> {
    let keys: Vec<&str> = asks.iter().map(|(k, _)| *k).collect();
    let seal = |pending: Vec<(&str, Value)>| {
        let state = mrtr::seal(name, json!({ "asked": keys }));
        asking(pending, Some(state))
    };
    let Some(state) = &retry.state else {
        return Ok(seal(asks));
    };
    mrtr::open(name, state)?;
    let missing: Vec<(&str, Value)> = asks
        .into_iter()
        .filter(|(k, request)| !retry.answers(k, request))
        .collect();
    if !missing.is_empty() {
        return Ok(seal(missing));
    }
    let mut parts = Vec::new();
    if let Some(who) = retry.elicited_text("user_name", "name") {
        parts.push(format!("name={who}"));
    }
    for key in ["greeting", "summary"] {
        if let Some(text) = retry.sampled(key) {
            parts.push(format!("{key}={text}"));
        }
    }
    if let Some(roots) = retry.roots("client_roots") {
        parts.push(format!("roots={}", roots.join(",")));
    }
    Ok(ok_text(format!(
        "All inputs received: {}",
        parts.join("; ")
    )))
}

/// Round 1 asks a name, round 2 a colour (the state carries the round and the name).
fn multi_round(name: &str, retry: &Retry) -> Result<Value, RpcError> {
    let step1 = || {
        let request = elicit("Step 1: What is your name?", one_field("name", "string"));
        let state = mrtr::seal(name, json!({ "round": 1 }));
        asking(vec![("step1", request)], Some(state))
    };
    let step2 = |who: &str| {
        let form = one_field("color", "string");
        let request = elicit("Step 2: What is your favorite color?", form);
        let state = mrtr::seal(name, json!({ "round": 2, "name": who }));
        asking(vec![("step2", request)], Some(state))
    };
    let Some(state) = &retry.state else {
        return Ok(step1());
    };
    let data = mrtr::open(name, state)?;
    Ok(match (data["round"].as_u64(), data["name"].as_str()) {
        (Some(1), _) => match retry.elicited_text("step1", "name") {
            Some(who) => step2(&who),
            None => step1(),
        },
        (Some(2), Some(who)) => match retry.elicited_text("step2", "color") {
            Some(color) => ok_text(format!("{who}'s favorite color is {color}")),
            None => step2(who),
        },
        _ => return Err(RpcError::invalid_params("requestState of no known round")),
    })
}

/// The MRTR prompt's listing entry.
pub(crate) fn prompt_entry() -> Value {
    json!({
        "name": PROMPT,
        "description": "A prompt that asks the user for its context (MRTR) before it is rendered",
    })
}

/// `prompts/get` of [`PROMPT`]: asks `user_context`, then renders with it.
pub(crate) fn get_prompt(meta: &Meta, params: &Value) -> Result<Value, RpcError> {
    meta.require(&["elicitation"])?;
    let retry = Retry::read(params)?;
    Ok(match retry.elicited_text("user_context", "context") {
        Some(context) => json!({
            "description": "A prompt rendered with the context the user gave",
            "messages": [user(json!({ "type": "text", "text": format!("Use this context: {context}") }))],
        }),
        None => {
            let form = one_field("context", "string");
            let request = elicit("What context should the prompt use?", form);
            asking(vec![("user_context", request)], None)
        }
    })
}
