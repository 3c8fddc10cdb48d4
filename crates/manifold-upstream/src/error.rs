//! Why a call to an upstream did not produce a result.

use manifold_protocol::{code, ErrorObject};

/// The ways a call can fail, classified by origin.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The upstream answered with a JSON-RPC error; forwarded as is.
    #[error("upstream error {}: {}", .0.code, .0.message)]
    Rpc(ErrorObject),
    /// The upstream is not up (starting, crashed, restarting, unhealthy).
    #[error("upstream `{alias}` is unavailable: {reason}")]
    Unavailable {
        /// The alias.
        alias: String,
        /// Why.
        reason: String,
    },
    /// No answer within the deadline; the upstream was sent `notifications/cancelled`.
    #[error("upstream `{alias}` did not answer within {ms} ms")]
    Timeout {
        /// The alias.
        alias: String,
        /// The deadline.
        ms: u128,
    },
    /// The connection broke while the call was in flight.
    #[error("upstream `{alias}` failed during the call: {reason}")]
    Failed {
        /// The alias.
        alias: String,
        /// Why.
        reason: String,
    },
}

impl CallError {
    /// The JSON-RPC error to send downstream.
    pub fn to_error(&self) -> ErrorObject {
        match self {
            CallError::Rpc(e) => e.clone(),
            CallError::Unavailable { alias, .. } => {
                ErrorObject::upstream(alias, self.to_string(), "unavailable")
            }
            CallError::Timeout { alias, ms } => ErrorObject::with_data(
                code::INTERNAL_ERROR,
                self.to_string(),
                serde_json::json!({ "server": alias, "reason": "timeout", "timeoutMs": ms }),
            ),
            CallError::Failed { alias, .. } => {
                ErrorObject::upstream(alias, self.to_string(), "failed")
            }
        }
    }

    /// The metric outcome label for this failure.
    pub fn outcome(&self) -> &'static str {
        match self {
            CallError::Rpc(_) | CallError::Failed { .. } => "error",
            CallError::Unavailable { .. } => "unavailable",
            CallError::Timeout { .. } => "timeout",
        }
    }
}
