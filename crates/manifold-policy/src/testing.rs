//! Test helpers: a [`Call`] for a tool named `<server>__<tool>`.

use std::sync::Arc;
use std::time::Duration;

use crate::{Call, ItemKind, ServerPolicy, View};

/// A `tools/call` from `principal` on `session` to `name`, served by the server named by the
/// part of `name` before `__`.
pub(crate) fn call(principal: &str, session: u64, name: &str) -> Call {
    let alias = name.split("__").next().unwrap_or(name);
    Call {
        principal: principal.into(),
        session,
        view: Arc::new(View::default()),
        method: "tools/call",
        kind: ItemKind::Tool,
        name: name.to_string(),
        server: Arc::new(ServerPolicy::unlimited(alias, Duration::from_secs(1))),
        arguments: None,
        arguments_text: None,
        schema: None,
        timeout: None,
        forward: None,
    }
}
