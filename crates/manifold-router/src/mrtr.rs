//! The bridge from a legacy upstream to a modern client (2026-07-28 MRTR, mcp-spec.md §4.7): a
//! legacy upstream asks for sampling, elicitation or roots while serving a modern client's
//! `tools/call`, `prompts/get` or `resources/read`. The call is then parked — its upstream
//! request keeps running in a task of the gateway, the upstream's own request waits — and the
//! client is answered with an `InputRequiredResult` whose `requestState` Manifold seals. The
//! client's retry (a new request with `inputResponses` and that `requestState`) answers the
//! waiting upstream requests, and the call goes on to its result or to another round. A parked
//! call never retried is dropped when its state expires, which cancels it upstream.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use manifold_policy::{Failure, Reply};
use manifold_protocol::{code, ErrorObject, RawObject, RawValue, Request};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

use crate::error::RouteError;
use crate::forward::Sending;
use crate::gateway::Gateway;
use crate::request_state::{Resumes, State};
use crate::session::Caller;

/// How long a parked call waits for the client's retry.
pub(crate) const PARKED_FOR: Duration = Duration::from_secs(600);

/// Calls parked at once, across the gateway: past it a call asking for input is failed (and
/// cancelled upstream) instead of parked, so clients that never retry cannot grow memory.
pub(crate) const MAX_PARKED: usize = 4096;

/// What happens next in a call that may need its client's input.
pub(crate) enum Round {
    /// The upstream asks for input.
    Ask(Ask),
    /// The upstream asked for a capability the client did not declare.
    Missing(&'static str),
    /// The upstream answered the call.
    Done(Reply),
}

/// One upstream request for input, and where its answer goes.
pub(crate) struct Ask {
    method: String,
    params: Option<Box<RawValue>>,
    reply: oneshot::Sender<Result<Box<RawValue>, ErrorObject>>,
}

/// What a call in flight for a modern client carries, for what its upstream sends during it to
/// reach it: a server→client request as input, a log message at or above its level.
#[derive(Clone)]
pub(crate) struct Inputs {
    rounds: mpsc::UnboundedSender<Round>,
    /// The client's declared capabilities, as its request's `_meta` said.
    capabilities: Box<RawValue>,
    /// The lowest log level it wants (`_meta` `io.modelcontextprotocol/logLevel`): none
    /// without it.
    log_level: Option<u8>,
    /// Where its request-scoped messages go once a retry took the call over (the retry's
    /// stream; before any, the first request's).
    stream: std::sync::Arc<parking_lot::Mutex<Option<crate::downstream::Sink>>>,
}

impl Inputs {
    /// The stream of the request that took the call over, if a retry did.
    pub(crate) fn stream(&self) -> Option<crate::downstream::Sink> {
        self.stream.lock().clone()
    }

    /// Whether a `notifications/message` at `level` goes to this call.
    pub(crate) fn wants_log(&self, level: &str) -> bool {
        match (self.log_level, severity(level)) {
            (Some(lowest), Some(level)) => level >= lowest,
            _ => false,
        }
    }
}

/// The rank of a log level (RFC 5424's order, as MCP's `LoggingLevel`), lowest first.
pub(crate) fn severity(level: &str) -> Option<u8> {
    const LEVELS: [&str; 8] = [
        "debug",
        "info",
        "notice",
        "warning",
        "error",
        "critical",
        "alert",
        "emergency",
    ];
    LEVELS.iter().position(|l| *l == level).map(|i| i as u8)
}

/// A call whose upstream request runs in a gateway task, aborted when this is dropped.
pub(crate) struct Call {
    rounds: mpsc::UnboundedReceiver<Round>,
    /// Shared with the call's [`Inputs`]: a retry points it at its own stream.
    stream: std::sync::Arc<parking_lot::Mutex<Option<crate::downstream::Sink>>>,
    /// Held only to abort the upstream request when the call is dropped.
    _driver: Driver,
}

struct Driver(AbortHandle);

impl Drop for Driver {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A parked call: the call, whose it is, and the upstream requests waiting for answers (by the
/// key the client was given).
pub(crate) struct Parked {
    principal: String,
    call: Call,
    waiting: HashMap<String, Ask>,
}

/// Sends `sending` upstream as a call that may need input: answered with the upstream's result,
/// or parked with an `InputRequiredResult` as soon as the upstream asks for input.
pub(crate) async fn drive(
    sending: Sending,
    capabilities: Box<RawValue>,
    log_level: Option<&str>,
    method: &'static str,
    timeout: Option<Duration>,
) -> Reply {
    let gateway = sending.gateway().clone();
    let principal = sending.principal().to_string();
    let (tx, rounds) = mpsc::unbounded_channel();
    let stream = std::sync::Arc::new(parking_lot::Mutex::new(None));
    let inputs = Inputs {
        rounds: tx.clone(),
        capabilities,
        log_level: log_level.and_then(severity),
        stream: stream.clone(),
    };
    let driver = gateway.spawn(async move {
        let reply = sending.request(method, timeout, Some(inputs)).await;
        let _ = tx.send(Round::Done(reply));
    });
    let call = Call {
        rounds,
        stream,
        _driver: Driver(driver),
    };
    next_round(&gateway, principal, call, HashMap::new()).await
}

/// Waits for what the call does next: its result, or a park when it asks for input.
async fn next_round(
    gateway: &Gateway,
    principal: String,
    mut call: Call,
    mut waiting: HashMap<String, Ask>,
) -> Reply {
    if waiting.is_empty() {
        match call.rounds.recv().await {
            Some(Round::Done(reply)) => return reply,
            Some(Round::Missing(capability)) => return Err(missing(capability)),
            Some(Round::Ask(ask)) => {
                waiting.insert(format!("{}-0", gateway.next_session_id()), ask);
            }
            None => return Err(ended()),
        }
    }
    // Whatever else it asked for at once goes in the same round.
    while let Ok(Round::Ask(ask)) = call.rounds.try_recv() {
        let key = format!("{}-{}", gateway.next_session_id(), waiting.len());
        waiting.insert(key, ask);
    }
    park(
        gateway,
        Parked {
            principal,
            call,
            waiting,
        },
    )
}

/// Parks `parked` and answers with the `InputRequiredResult` that asks for its input.
fn park(gateway: &Gateway, parked: Parked) -> Reply {
    if gateway.parked_calls() >= MAX_PARKED {
        // Dropping `parked` cancels the call upstream.
        return Err(internal(
            "too many calls are waiting for their clients' input; try again later",
        ));
    }
    let mut requests = serde_json::Map::new();
    for (key, ask) in &parked.waiting {
        let params = ask
            .params
            .as_deref()
            .and_then(|p| serde_json::from_str::<Value>(p.get()).ok())
            .unwrap_or_else(|| json!({}));
        requests.insert(
            key.clone(),
            json!({ "method": ask.method, "params": params }),
        );
    }
    let handle = gateway.next_session_id();
    let state = State {
        of: Resumes::Parked(handle),
        principal: parked.principal.clone(),
        expires_ms: now_ms() + PARKED_FOR.as_millis() as u64,
    };
    let Some(sealed) = gateway.sealer().seal(&state) else {
        return Err(internal("cannot seal a requestState"));
    };
    gateway.park(handle, parked, PARKED_FOR);
    let result = json!({
        "resultType": "input_required",
        "inputRequests": requests,
        "requestState": sealed,
    });
    serde_json::value::to_raw_value(&result).map_err(|e| internal(&e.to_string()))
}

/// What a modern request carrying a `requestState` goes on with.
pub(crate) enum Retry {
    /// A new call: the request carries no state Manifold minted.
    New,
    /// The retry of a parked call, answered with that call's next round.
    Answered(Result<Box<RawValue>, RouteError>),
    /// The retry of a modern upstream's input round: routed again, to that server only, with
    /// these params (the upstream's own `requestState` back in place).
    ToUpstream {
        server: String,
        params: Box<RawValue>,
    },
}

/// A modern `tools/call`, `prompts/get` or `resources/read`: the retry of a parked call is
/// answered by delivering its `inputResponses` and waiting for the call's next round; that of an
/// upstream's round gets the upstream's state back.
pub(crate) async fn resume(caller: &Caller<'_>, params: Option<&RawValue>) -> Retry {
    let Some(object) = params.and_then(|p| RawObject::parse(p).ok()) else {
        return Retry::New;
    };
    // Only a state Manifold minted is its own.
    let Some(state) = object
        .get_str("requestState")
        .filter(|s| s.starts_with(crate::request_state::PREFIX))
    else {
        return Retry::New;
    };
    let session = caller.session;
    let gateway = session.gateway();
    let invalid = || {
        Retry::Answered(Err(RouteError::invalid_params(
            "Invalid or expired requestState",
        )))
    };
    let Some(state) = gateway.sealer().open(&state) else {
        return invalid();
    };
    if state.principal != session.principal().as_ref() || state.expires_ms < now_ms() {
        return invalid();
    }
    let handle = match state.of {
        Resumes::Parked(handle) => handle,
        Resumes::Upstream { server, state } => {
            return match crate::input_relay::restore(object, &state) {
                Some(params) => Retry::ToUpstream { server, params },
                None => invalid(),
            }
        }
    };
    let Some(mut parked) = gateway.unpark(handle) else {
        return invalid();
    };
    // What the call sends from now on (progress, log messages) goes on this retry's stream.
    *parked.call.stream.lock() = Some(caller.sink.clone());
    let responses = object
        .get("inputResponses")
        .and_then(|r| RawObject::parse(r).ok())
        .unwrap_or_default();
    let keys: Vec<String> = parked.waiting.keys().cloned().collect();
    for key in keys {
        if let Some(answer) = responses.get(&key) {
            if let Some(ask) = parked.waiting.remove(&key) {
                let _ = ask.reply.send(Ok(answer.to_owned()));
            }
        }
    }
    // What is still unanswered is asked again, with what the upstream asks next.
    let reply = next_round(gateway, parked.principal, parked.call, parked.waiting).await;
    Retry::Answered(reply.map_err(RouteError::Failed))
}

/// The answer to an upstream's server→client request made during a modern client's call: the
/// client's input from the retry, or an error when it did not declare the capability (for
/// sampling and elicitation the call itself then fails with `-32021`).
pub(crate) async fn ask(
    inputs: &Inputs,
    capability: &'static str,
    request: &Request,
) -> Result<Box<RawValue>, ErrorObject> {
    let declared = RawObject::parse(&inputs.capabilities)
        .ok()
        .and_then(|caps| caps.get(capability).map(|v| v.get() != "null"))
        .unwrap_or(false);
    if !declared {
        // Servers ask for roots of their own accord (after `initialized`, say), so a roots/list
        // arriving during a call may have nothing to do with it: the upstream is refused and
        // the call goes on. Sampling and elicitation are asked for by the call itself: it
        // fails with -32021.
        if capability != "roots" {
            let _ = inputs.rounds.send(Round::Missing(capability));
        }
        return Err(ErrorObject::new(
            code::METHOD_NOT_FOUND,
            format!("the client did not declare the `{capability}` capability"),
        ));
    }
    let (reply, answer) = oneshot::channel();
    let ask = Ask {
        method: request.method.clone(),
        params: request.params.clone(),
        reply,
    };
    if inputs.rounds.send(Round::Ask(ask)).is_err() {
        return Err(ErrorObject::new(
            code::INTERNAL_ERROR,
            "the client's call has ended",
        ));
    }
    answer.await.unwrap_or_else(|_| {
        Err(ErrorObject::new(
            code::INTERNAL_ERROR,
            "the client never answered (its call's requestState expired or the call ended)",
        ))
    })
}

/// `-32021` for a capability the call needed.
fn missing(capability: &str) -> Failure {
    Failure {
        error: ErrorObject::with_data(
            code::MISSING_CLIENT_CAPABILITY,
            format!("the upstream needs the client's `{capability}` capability, which the request did not declare"),
            json!({ "requiredCapabilities": { capability: {} } }),
        ),
        outcome: "error",
    }
}

fn ended() -> Failure {
    internal("the call ended without an answer")
}

fn internal(message: &str) -> Failure {
    Failure {
        error: ErrorObject::new(code::INTERNAL_ERROR, message.to_string()),
        outcome: "error",
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
