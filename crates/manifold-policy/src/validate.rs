//! Argument validation: `tools/call` arguments are checked against the upstream tool's
//! `inputSchema` (JSON Schema 2020-12 by default, draft-07 and others by `$schema`) before anything
//! is forwarded. Invalid arguments get a tool result with `isError: true` naming every failing
//! path; the upstream is never called. Schemas are compiled once per catalog version.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::Either;
use manifold_protocol::RawValue;
use serde_json::{json, Value};
use tower::{Layer, Service};

use crate::call::{Call, Infallible, ItemKind, Reply};

/// A tool's compiled `inputSchema`.
pub struct ArgumentSchema {
    /// `None` when the upstream's schema does not compile: its calls are not checked.
    validator: Option<jsonschema::Validator>,
}

impl std::fmt::Debug for ArgumentSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArgumentSchema")
            .field("compiled", &self.validator.is_some())
            .finish()
    }
}

impl ArgumentSchema {
    /// Compiles `schema` (the tool named `tool`, for the warning when it does not compile).
    pub fn compile(tool: &str, schema: &Value) -> ArgumentSchema {
        let validator = match jsonschema::validator_for(schema) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::warn!(%tool, error = %e, "the tool's inputSchema does not compile; its arguments are not validated");
                None
            }
        };
        ArgumentSchema { validator }
    }

    /// Every problem with `arguments`, as `"<JSON pointer>: <what is wrong>"`; empty when valid.
    /// Messages do not quote the offending values.
    pub fn problems(&self, arguments: &Value) -> Vec<String> {
        let Some(validator) = &self.validator else {
            return Vec::new();
        };
        // The common case first: a yes/no check stops at the first failure and collects nothing.
        if validator.is_valid(arguments) {
            return Vec::new();
        }
        validator
            .iter_errors(arguments)
            .map(|e| {
                let path = e.instance_path().to_string();
                let path = if path.is_empty() {
                    "/".to_string()
                } else {
                    path
                };
                format!("{path}: {}", e.masked())
            })
            .collect()
    }
}

/// The tool result of a call refused for invalid arguments.
pub fn invalid_arguments_result(tool: &str, problems: &[String]) -> Box<RawValue> {
    let mut text = format!("Invalid arguments for tool `{tool}`:");
    for p in problems {
        text.push_str("\n- ");
        text.push_str(p);
    }
    serde_json::value::to_raw_value(&json!({
        "content": [{ "type": "text", "text": text }],
        "isError": true,
    }))
    .unwrap_or_else(|_| manifold_protocol::object::empty_object())
}

/// Checks `tools/call` arguments against the tool's schema.
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidateLayer;

impl<S> Layer<S> for ValidateLayer {
    type Service = Validate<S>;
    fn layer(&self, inner: S) -> Validate<S> {
        Validate { inner }
    }
}

/// The service of [`ValidateLayer`].
#[derive(Debug, Clone)]
pub struct Validate<S> {
    inner: S,
}

impl<S> Service<Call> for Validate<S>
where
    S: Service<Call, Response = Reply, Error = Infallible>,
{
    type Response = Reply;
    type Error = Infallible;
    type Future = Either<std::future::Ready<Result<Reply, Infallible>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, call: Call) -> Self::Future {
        let schema = match (&call.schema, call.kind) {
            (Some(s), ItemKind::Tool) if call.server.validate_arguments => Arc::clone(s),
            _ => return Either::Right(self.inner.call(call)),
        };
        let empty = Value::Object(Default::default());
        let problems = schema.problems(call.arguments.as_ref().unwrap_or(&empty));
        if problems.is_empty() {
            return Either::Right(self.inner.call(call));
        }
        let result = invalid_arguments_result(&call.name, &problems);
        Either::Left(std::future::ready(Ok(Ok(result))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_every_failing_path_in_both_drafts() {
        for dialect in [
            "https://json-schema.org/draft/2020-12/schema",
            "http://json-schema.org/draft-07/schema#",
        ] {
            let schema = json!({
                "$schema": dialect,
                "type": "object",
                "properties": {
                    "n": { "type": "integer" },
                    "inner": { "type": "object", "properties": { "s": { "type": "string" } } }
                },
                "required": ["n"],
                "additionalProperties": false
            });
            let s = ArgumentSchema::compile("t", &schema);
            assert!(s.problems(&json!({"n": 1})).is_empty());
            let p = s.problems(&json!({"inner": {"s": 5}, "extra": true}));
            assert_eq!(p.len(), 3, "{p:?}");
            assert!(p.iter().any(|m| m.starts_with("/inner/s: ")), "{p:?}");
            assert!(
                p.iter().any(|m| m.starts_with("/: ") && m.contains("n")),
                "{p:?}"
            );
            assert!(p.iter().any(|m| m.contains("extra")), "{p:?}");
            let wrong = s.problems(&json!({"n": "secret-value"}));
            assert_eq!(wrong.len(), 1);
            assert!(!wrong[0].contains("secret-value"), "{wrong:?}");
        }
    }

    #[test]
    fn a_schema_that_does_not_compile_checks_nothing() {
        let s = ArgumentSchema::compile("t", &json!({"type": 12}));
        assert!(s.problems(&json!({"anything": 1})).is_empty());
    }
}
