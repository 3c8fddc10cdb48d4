//! Per-principal views (`[[access]]`): which tools, prompts and resources a principal sees. What
//! a view hides is absent from its lists and fails exactly like a name that does not exist, so
//! its existence is not revealed. [`AccessLayer`] enforces the view on every routed request.

use std::task::{Context, Poll};

use futures::future::Either;
use manifold_config::AccessRule;
use manifold_protocol::{code, ErrorObject};
use serde_json::json;
use tower::{Layer, Service};

use crate::call::{Call, Failure, ItemKind, Reply};

/// What one principal may see: the first `[[access]]` rule matching it, or everything.
#[derive(Debug, Default, Clone)]
pub struct View {
    rule: Option<AccessRule>,
}

impl View {
    /// The view of `principal` under `rules` (first match wins; none matching: everything).
    pub fn of(principal: &str, rules: &[AccessRule]) -> View {
        View {
            rule: rules
                .iter()
                .find(|r| r.principal.allows(principal))
                .cloned(),
        }
    }

    /// Whether everything is visible (lists need no filtering).
    pub fn is_everything(&self) -> bool {
        self.rule.as_ref().is_none_or(|r| {
            r.tools.is_trivial() && r.prompts.is_trivial() && r.resources.is_trivial()
        })
    }

    /// Whether the item of `kind` named (or with URI / URI template) `name` is visible.
    pub fn allows(&self, kind: ItemKind, name: &str) -> bool {
        let Some(rule) = &self.rule else { return true };
        match kind {
            ItemKind::Tool => rule.tools.allows(name),
            ItemKind::Prompt => rule.prompts.allows(name),
            ItemKind::Resource => rule.resources.allows(name),
        }
    }
}

/// The error for a name that does not exist — also given for one the view hides.
pub fn unknown(kind: ItemKind, name: &str) -> ErrorObject {
    match kind {
        ItemKind::Tool => ErrorObject::invalid_params(format!("Unknown tool: {name}")),
        ItemKind::Prompt => ErrorObject::invalid_params(format!("Unknown prompt: {name}")),
        ItemKind::Resource => ErrorObject::with_data(
            code::RESOURCE_NOT_FOUND,
            format!("Resource not found: {name}"),
            json!({ "uri": name }),
        ),
    }
}

/// Refuses requests for what the caller's view hides.
/// The access check of every routed request, in the stack and outside it (completions,
/// subscriptions): what `view` hides fails exactly as an unknown name, counted as `denied`.
pub fn check(view: &View, kind: ItemKind, name: &str) -> Result<(), Failure> {
    if view.allows(kind, name) {
        return Ok(());
    }
    Err(Failure {
        error: unknown(kind, name),
        outcome: "denied",
    })
}

#[derive(Debug, Clone, Copy, Default)]
pub struct AccessLayer;

impl<S> Layer<S> for AccessLayer {
    type Service = Access<S>;
    fn layer(&self, inner: S) -> Access<S> {
        Access { inner }
    }
}

/// The service of [`AccessLayer`].
#[derive(Debug, Clone)]
pub struct Access<S> {
    inner: S,
}

impl<S> Service<Call> for Access<S>
where
    S: Service<Call, Response = Reply, Error = std::convert::Infallible>,
{
    type Response = Reply;
    type Error = std::convert::Infallible;
    type Future = Either<std::future::Ready<Result<Reply, std::convert::Infallible>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, call: Call) -> Self::Future {
        match check(&call.view, call.kind, &call.name) {
            Ok(()) => Either::Right(self.inner.call(call)),
            Err(failure) => Either::Left(std::future::ready(Ok(Err(failure)))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Vec<AccessRule> {
        manifold_config::load_str(
            r#"
            [[access]]
            principal = "intern-*"
            tools = { allow = ["memory__*"], deny = ["memory__delete_*"] }
            resources = { deny = ["secret+*"] }
            [[access]]
            principal = "*"
            "#,
            manifold_config::Format::Toml,
        )
        .unwrap()
        .access
    }

    #[test]
    fn first_matching_rule_decides() {
        let rules = rules();
        let intern = View::of("intern-bob", &rules);
        assert!(intern.allows(ItemKind::Tool, "memory__read_graph"));
        assert!(!intern.allows(ItemKind::Tool, "memory__delete_entities"));
        assert!(!intern.allows(ItemKind::Tool, "search__query"));
        assert!(intern.allows(ItemKind::Prompt, "anything"));
        assert!(!intern.allows(ItemKind::Resource, "secret+file:///x"));
        assert!(!intern.is_everything());
        let admin = View::of("admin", &rules);
        assert!(admin.allows(ItemKind::Tool, "memory__delete_entities"));
        assert!(admin.is_everything());
    }

    #[test]
    fn hidden_is_indistinguishable_from_unknown() {
        let e = unknown(ItemKind::Tool, "x__y");
        assert_eq!(e.code, code::INVALID_PARAMS);
        assert_eq!(e.message, "Unknown tool: x__y");
    }
}
