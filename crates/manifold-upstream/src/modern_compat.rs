//! What stands in for the legacy requests a 2026-07-28 upstream no longer has, so that the
//! session above speaks to every upstream alike: `logging/setLevel` becomes the
//! `io.modelcontextprotocol/logLevel` of its later requests, and `resources/subscribe` /
//! `unsubscribe` open and close a listen for that URI. Each is answered `{}` by Manifold.

use manifold_protocol::{method, RawObject, RawValue};

use crate::{CallError, Upstream};

/// The answer to `method` when the upstream is modern and Manifold stands in for it; `None`
/// when the request goes upstream as it is.
pub(crate) fn stand_in(
    up: &Upstream,
    method: &str,
    params: Option<&RawValue>,
) -> Option<Result<Box<RawValue>, CallError>> {
    let member = |key: &str| {
        params
            .and_then(|p| RawObject::parse(p).ok())
            .and_then(|p| p.get(key).map(|v| v.to_owned()))
    };
    let invalid = |why: &str| {
        Some(Err(CallError::Rpc(
            manifold_protocol::ErrorObject::invalid_params(why.to_string()),
        )))
    };
    match method {
        method::LOGGING_SET_LEVEL => {
            let Some(level) = member("level") else {
                return invalid("logging/setLevel needs params.level");
            };
            up.inner.live.lock().log_level = Some(level);
        }
        method::RESOURCES_SUBSCRIBE | method::RESOURCES_UNSUBSCRIBE => {
            let Some(uri) =
                member("uri").and_then(|u| serde_json::from_str::<String>(u.get()).ok())
            else {
                return invalid("params.uri must be a string");
            };
            let listen = (method == method::RESOURCES_SUBSCRIBE)
                .then(|| crate::listen::for_resource(up, &uri));
            let mut live = up.inner.live.lock();
            match listen {
                Some(listen) => {
                    live.resource_listens.insert(uri, listen);
                }
                None => {
                    live.resource_listens.remove(&uri);
                }
            }
        }
        _ => return None,
    }
    Some(Ok(manifold_protocol::object::empty_object()))
}
