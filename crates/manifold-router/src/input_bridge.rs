//! The bridge from a 2026-07-28 upstream to a legacy client (mcp-spec.md §4.7): the upstream
//! answers a call with an `InputRequiredResult`; each of its `inputRequests` is sent to the client
//! that made the call as a legacy server→client request (`sampling/createMessage`,
//! `elicitation/create`, `roots/list`) under a fresh id, on the call's stream; the answers become
//! the retry's `inputResponses`, sent upstream with the upstream's `requestState` byte for byte,
//! under a new id. Further rounds work the same way, up to [`MAX_ROUNDS`].

use manifold_policy::{Failure, Reply};
use manifold_protocol::{code, ErrorObject, RawObject, RawValue};

use crate::forward::Sending;

/// Rounds of input one call may ask for before it is failed (as the official clients cap them).
pub(crate) const MAX_ROUNDS: usize = 10;

/// Whether `result` asks for input.
pub(crate) fn is_input_required(result: &RawValue) -> bool {
    result.get().contains("input_required")
        && RawObject::parse(result)
            .ok()
            .and_then(|r| r.get("resultType").map(|t| t.get() == "\"input_required\""))
            .unwrap_or(false)
}

/// Answers `result`'s input requests through the call's legacy client and retries upstream
/// until the upstream answers with something else.
pub(crate) async fn fulfil(
    sending: &Sending,
    method: &'static str,
    timeout: Option<std::time::Duration>,
    mut result: Box<RawValue>,
) -> Reply {
    for _ in 0..MAX_ROUNDS {
        if !is_input_required(&result) {
            return Ok(result);
        }
        let retry = retry_params(sending, &result).await?;
        result = sending.upstream_request(method, &retry, timeout).await?;
    }
    Err(failure(
        code::INTERNAL_ERROR,
        format!("the upstream asked for input more than {MAX_ROUNDS} times"),
    ))
}

/// The retry of one round: the call's own params with `inputResponses` (each request asked of
/// the client) and the upstream's `requestState` as it sent it.
async fn retry_params(sending: &Sending, result: &RawValue) -> Result<Box<RawValue>, Failure> {
    let malformed = || {
        failure(
            code::INTERNAL_ERROR,
            "malformed input_required result".into(),
        )
    };
    let round = RawObject::parse(result).map_err(|_| malformed())?;
    let (session, sink) = sending.client();
    let mut responses = RawObject::default();
    if let Some(requests) = round.get("inputRequests") {
        let requests = RawObject::parse(requests).map_err(|_| malformed())?;
        for key in requests.keys() {
            let Some(request) = requests.get(key).and_then(|r| RawObject::parse(r).ok()) else {
                return Err(malformed());
            };
            let method = request.get_str("method").ok_or_else(malformed)?;
            let capability = match method.as_str() {
                "sampling/createMessage" => "sampling",
                "elicitation/create" => "elicitation",
                "roots/list" => "roots",
                other => {
                    return Err(failure(
                        code::INTERNAL_ERROR,
                        format!("the upstream asked for unknown input `{other}`"),
                    ))
                }
            };
            if !session.declared(capability) {
                return Err(failure(
                    code::METHOD_NOT_FOUND,
                    format!("the client did not declare the `{capability}` capability the upstream needs"),
                ));
            }
            let answer = session
                .inner
                .downstream
                .request(sink, &method, request.get("params"), |_| {})
                .await
                .map_err(|error| Failure {
                    error,
                    outcome: "error",
                })?;
            responses.set(key, answer);
        }
    }
    let mut params = RawObject::parse(sending.params()).map_err(|_| malformed())?;
    params.set("inputResponses", responses.to_raw());
    if let Some(state) = round.get("requestState") {
        params.set("requestState", state.to_owned());
    }
    Ok(params.to_raw())
}

fn failure(code: i64, message: String) -> Failure {
    Failure {
        error: ErrorObject::new(code, message),
        outcome: "error",
    }
}
