//! Why a routed client request got no result: one typed error from dispatch to the face, with
//! the `outcome` label the metrics use and the one conversion to the JSON-RPC error on the wire
//! (the face adds the request id).

use manifold_policy::access::unknown;
use manifold_policy::{Failure, ItemKind, Outcome};
use manifold_protocol::{code, ErrorObject};
use manifold_upstream::CallError;
use serde_json::json;

/// A client request that did not produce a result, by cause.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// A request other than `initialize` or `ping` before the handshake.
    #[error("`{0}` before initialize: send initialize first")]
    NotInitialized(String),
    /// A second `initialize` on one session.
    #[error("initialize was already received")]
    AlreadyInitialized,
    /// A method Manifold does not serve.
    #[error("Method not found: {0}")]
    MethodNotFound(String),
    /// A legacy-era method sent as a 2026-07-28 request, which that era removed.
    #[error("Method not found: {0} was removed in protocol version 2026-07-28")]
    Removed(String),
    /// A request of the other era on a stdio connection whose era its first request fixed, or
    /// a request whose modern `_meta` is missing or malformed: the error is the era's own.
    #[error("{}", .0.message)]
    Era(ErrorObject),
    /// `params` missing, of the wrong shape, or naming nothing usable.
    #[error("{0}")]
    InvalidParams(String),
    /// A name or URI no upstream serves.
    #[error("unknown {kind:?} `{name}`")]
    Unknown {
        /// What was named.
        kind: ItemKind,
        /// The name or URI as the client sent it.
        name: String,
    },
    /// A name or URI the caller's view hides: answered exactly as [`RouteError::Unknown`], so
    /// a client cannot tell the two apart, and counted as `denied`.
    #[error("{kind:?} `{name}` is not in the caller's view")]
    Denied {
        /// What was named.
        kind: ItemKind,
        /// The name or URI as the client sent it.
        name: String,
    },
    /// The upstream owning the name is not up.
    #[error("upstream `{server}` is {}: {reason}", state(*.unhealthy))]
    Unavailable {
        /// Its alias.
        server: String,
        /// Why it is not up.
        reason: String,
        /// Whether it is up but failing its health checks.
        unhealthy: bool,
    },
    /// The call reached the upstream and failed there (its own error, a timeout, a broken
    /// connection).
    #[error(transparent)]
    Upstream(#[from] CallError),
    /// The policy stack answered with a failure: a layer refused or ended the call (access,
    /// rate limit, validation, deadline, concurrency, result size), or the upstream failed
    /// inside it. Whoever failed it chose the error and its outcome.
    #[error("{}", .0.error.message)]
    Failed(Failure),
    /// Manifold could not build its own answer.
    #[error("{0}")]
    Internal(String),
}

fn state(unhealthy: bool) -> &'static str {
    if unhealthy {
        "unhealthy"
    } else {
        "unavailable"
    }
}

impl RouteError {
    /// `params` that cannot be used, with why.
    pub fn invalid_params(message: impl Into<String>) -> RouteError {
        RouteError::InvalidParams(message.into())
    }

    /// The `outcome` label for metrics (DESIGN.md § Interfaces).
    pub fn outcome(&self) -> Outcome {
        match self {
            RouteError::Denied { .. } => "denied",
            RouteError::Unavailable { .. } => "unavailable",
            RouteError::Upstream(e) => e.outcome(),
            RouteError::Failed(failure) => failure.outcome,
            RouteError::NotInitialized(_)
            | RouteError::AlreadyInitialized
            | RouteError::MethodNotFound(_)
            | RouteError::Removed(_)
            | RouteError::Era(_)
            | RouteError::InvalidParams(_)
            | RouteError::Unknown { .. }
            | RouteError::Internal(_) => "error",
        }
    }

    /// The JSON-RPC error the client receives.
    pub fn into_error_object(self) -> ErrorObject {
        match self {
            RouteError::NotInitialized(_) | RouteError::AlreadyInitialized => {
                ErrorObject::new(code::INVALID_REQUEST, self.to_string())
            }
            RouteError::MethodNotFound(_) | RouteError::Removed(_) => {
                ErrorObject::new(code::METHOD_NOT_FOUND, self.to_string())
            }
            RouteError::Era(error) => error,
            RouteError::InvalidParams(message) => ErrorObject::invalid_params(message),
            RouteError::Unknown { kind, name } | RouteError::Denied { kind, name } => {
                unknown(kind, &name)
            }
            RouteError::Unavailable {
                ref server,
                unhealthy,
                ..
            } => ErrorObject::with_data(
                code::INTERNAL_ERROR,
                self.to_string(),
                json!({ "server": server, "reason": "unavailable", "unhealthy": unhealthy }),
            ),
            RouteError::Upstream(e) => e.to_error(),
            RouteError::Failed(failure) => failure.error,
            RouteError::Internal(message) => ErrorObject::new(code::INTERNAL_ERROR, message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cause_has_its_label_and_wire_code() {
        let cases = [
            (
                RouteError::MethodNotFound("x/y".into()),
                "error",
                code::METHOD_NOT_FOUND,
            ),
            (
                RouteError::NotInitialized("tools/list".into()),
                "error",
                code::INVALID_REQUEST,
            ),
            (
                RouteError::invalid_params("missing params"),
                "error",
                code::INVALID_PARAMS,
            ),
            (
                RouteError::Unknown {
                    kind: ItemKind::Tool,
                    name: "a__b".into(),
                },
                "error",
                code::INVALID_PARAMS,
            ),
            (
                RouteError::Denied {
                    kind: ItemKind::Resource,
                    name: "a://b".into(),
                },
                "denied",
                code::RESOURCE_NOT_FOUND,
            ),
            (
                RouteError::Unavailable {
                    server: "a".into(),
                    reason: "starting".into(),
                    unhealthy: false,
                },
                "unavailable",
                code::INTERNAL_ERROR,
            ),
            (
                RouteError::Upstream(CallError::Timeout {
                    alias: "a".into(),
                    ms: 5,
                }),
                "timeout",
                code::INTERNAL_ERROR,
            ),
        ];
        for (error, label, wire) in cases {
            assert_eq!(error.outcome(), label, "{error}");
            assert_eq!(error.into_error_object().code, wire);
        }
    }

    #[test]
    fn a_denial_reads_exactly_as_an_unknown_name() {
        let denied = RouteError::Denied {
            kind: ItemKind::Tool,
            name: "a__hidden".into(),
        };
        let unknown = RouteError::Unknown {
            kind: ItemKind::Tool,
            name: "a__hidden".into(),
        };
        let (denied, unknown) = (denied.into_error_object(), unknown.into_error_object());
        assert_eq!(
            serde_json::to_string(&denied).unwrap(),
            serde_json::to_string(&unknown).unwrap()
        );
    }

    #[test]
    fn an_upstream_error_keeps_its_own_code_and_is_an_error() {
        let own = ErrorObject::new(-32001, "busy");
        let error = RouteError::Upstream(CallError::Rpc(own));
        assert_eq!(error.outcome(), "error");
        assert_eq!(error.into_error_object().code, -32001);
    }

    #[test]
    fn an_unavailable_upstream_says_whether_it_is_unhealthy() {
        let error = RouteError::Unavailable {
            server: "a".into(),
            reason: "health check failed".into(),
            unhealthy: true,
        };
        assert_eq!(
            error.to_string(),
            "upstream `a` is unhealthy: health check failed"
        );
    }
}
