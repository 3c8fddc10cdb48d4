//! A 2026-07-28 upstream's input round, for a modern client (mcp-spec.md §4.7): its
//! `InputRequiredResult` passes through with its own input keys and requests, but its
//! `requestState` is wrapped in one Manifold seals (which server, whose, until when), so the
//! retry can only go back to that server, for that principal; there the upstream's state is put
//! back byte for byte. A round without a state passes through as it is: its retry is routed by
//! name like any call.

use manifold_policy::Failure;
use manifold_protocol::{code, ErrorObject, RawObject, RawValue};

use crate::request_state::{Resumes, State};

/// How long the client may take to retry an upstream's round.
const WRAPPED_FOR: std::time::Duration = crate::mrtr::PARKED_FOR;

/// `result` (an upstream's `InputRequiredResult`) with its `requestState`, if any, sealed for
/// `principal` and the upstream `server`.
pub(crate) fn wrap(
    gateway: &crate::gateway::Gateway,
    principal: &str,
    server: &str,
    result: Box<RawValue>,
) -> Result<Box<RawValue>, Failure> {
    let wrapped = {
        let Ok(mut round) = RawObject::parse(&result) else {
            return Ok(result);
        };
        let Some(state) = round.get("requestState").map(|s| s.get().to_string()) else {
            return Ok(result);
        };
        let state = State {
            of: Resumes::Upstream {
                server: server.to_string(),
                state,
            },
            principal: principal.to_string(),
            expires_ms: crate::mrtr::now_ms() + WRAPPED_FOR.as_millis() as u64,
        };
        let Some(sealed) = gateway.sealer().seal(&state) else {
            return Err(Failure {
                error: ErrorObject::new(code::INTERNAL_ERROR, "cannot seal a requestState"),
                outcome: "error",
            });
        };
        round.set_str("requestState", &sealed);
        round.to_raw()
    };
    Ok(wrapped)
}

/// The retry's params with the upstream's own `requestState` (its JSON text) in place of
/// Manifold's; `None` if that text is not JSON.
pub(crate) fn restore(mut retry: RawObject<'_>, state: &str) -> Option<Box<RawValue>> {
    let state = RawValue::from_string(state.to_string()).ok()?;
    retry.set("requestState", state);
    Some(retry.to_raw())
}
