//! The merged lists (`tools/list`, `prompts/list`, `resources/list`,
//! `resources/templates/list`): the items the client's view shows, one page at a time behind
//! Manifold's own cursors, spliced from pre-serialised items.

use manifold_protocol::{RawObject, RawValue};

use crate::catalog::Kind;
use crate::cursor;
use crate::error::RouteError;
use crate::session::Session;

type Outcome = Result<Box<RawValue>, RouteError>;

/// One page of the merged list of `kind` that `session` may see.
pub(crate) fn list(session: &Session, kind: Kind, params: Option<&RawValue>) -> Outcome {
    let view = session.view();
    let catalog = session.upstreams().catalog();
    let items: Vec<&RawValue> = if view.is_everything() {
        catalog.list(kind).json.iter().map(|j| &**j).collect()
    } else {
        catalog.visible(kind, &view)
    };
    let offset = match params.map(RawObject::parse) {
        Some(Ok(obj)) => match obj.get("cursor") {
            None => 0,
            Some(raw) if raw.get() == "null" => 0,
            Some(raw) => {
                let c: String = serde_json::from_str(raw.get()).map_err(|_| invalid_cursor())?;
                cursor::decode(&c, items.len()).ok_or_else(invalid_cursor)?
            }
        },
        Some(Err(_)) => return Err(RouteError::invalid_params("params must be an object")),
        None => 0,
    };
    let (range, next) = cursor::page(
        offset,
        session.gateway().shared.settings.page_size,
        items.len(),
    );
    // Splice the pre-serialised items; nothing is re-encoded per request.
    let mut out = String::with_capacity(64 + range.len() * 128);
    out.push_str("{\"");
    out.push_str(kind.field());
    out.push_str("\":[");
    for (n, item) in items[range].iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str(item.get());
    }
    out.push(']');
    if let Some(next) = next {
        out.push_str(",\"nextCursor\":");
        out.push_str(&serde_json::to_string(&next).unwrap_or_default());
    }
    out.push('}');
    RawValue::from_string(out).map_err(|e| RouteError::Internal(e.to_string()))
}

fn invalid_cursor() -> RouteError {
    RouteError::invalid_params("Invalid cursor")
}
