//! The return path: which client a message from a shared upstream belongs to. Every forwarded
//! request is tracked, in its upstream session's own table, while it is in flight, with the sink
//! its request-scoped messages go to (the stdio output, or the request's own SSE stream on HTTP). Progress tokens are rewritten to tokens unique per
//! upstream (mcp-spec.md §3.5) and mapped back. A server→client request goes to the one session
//! with a request in flight on that upstream; when several have, it is refused, never guessed.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use manifold_protocol::{RawObject, RawValue};

use crate::session::Session;

/// Where one in-flight request's messages go.
pub(crate) struct InFlight {
    pub(crate) session: Session,
    pub(crate) sink: crate::downstream::Sink,
    /// The client's own progress token, when the request carried one.
    pub(crate) original_token: Option<Box<RawValue>>,
    /// For a modern client's call that may need its input: where the upstream's requests for
    /// it go (see [`crate::mrtr`]).
    pub(crate) input: Option<crate::mrtr::Inputs>,
}

#[derive(Default)]
struct Table {
    /// By the progress token's JSON text, as the upstream sends it back.
    tokens: HashMap<String, Arc<InFlight>>,
    in_flight: HashMap<u64, Arc<InFlight>>,
}

/// Who a message from an upstream belongs to.
pub(crate) enum Owner {
    /// No request is in flight there.
    Nobody,
    /// Requests of exactly one session are in flight there.
    One(Arc<InFlight>),
    /// Requests of several sessions are: the message cannot be attributed.
    Several,
}

/// A request's route, decided (and its progress token rewritten) before it waits for its turn.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    key: u64,
    original_token: Option<Box<RawValue>>,
    token: Option<String>,
}

/// The return path of one upstream session: its table of in-flight requests (each upstream
/// session has its own, so calls to different upstreams never meet on a lock).
#[derive(Default)]
pub(crate) struct ReturnPath {
    next: AtomicU64,
    table: Mutex<Table>,
}

/// Removes a request's entries when it ends, however it ends.
pub(crate) struct Tracked<'a> {
    routes: &'a ReturnPath,
    key: u64,
    token: Option<String>,
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        let mut table = self.routes.table.lock();
        table.in_flight.remove(&self.key);
        if let Some(token) = self.token.take() {
            table.tokens.remove(&token);
        }
    }
}

impl ReturnPath {
    /// Tracks a request about to be sent ([`ReturnPath::prepare`] then [`ReturnPath::register`]).
    #[cfg(test)]
    pub(crate) fn track<'a>(
        &'a self,
        session: &Session,
        sink: &crate::downstream::Sink,
        params: &mut RawObject<'_>,
        rewrite: bool,
    ) -> Tracked<'a> {
        let prepared = self.prepare(params, rewrite);
        self.register(Some(prepared), session, sink, None)
    }

    /// Readies a request's route before it waits for its turn. If its params carry
    /// `_meta.progressToken` and the upstream session is shared by several clients (`rewrite`),
    /// the token is replaced in `params` by one unique on that upstream session; otherwise it
    /// travels unchanged.
    pub(crate) fn prepare(&self, params: &mut RawObject<'_>, rewrite: bool) -> Prepared {
        let original_token = params
            .get("_meta")
            .and_then(|m| RawObject::parse(m).ok())
            .and_then(|m| m.get("progressToken").map(|t| t.to_owned()));
        let key = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        // Keyed by the token's JSON text, as the upstream will send it back.
        let token = match (&original_token, rewrite) {
            (Some(_), true) => {
                let minted = format!("mf-{key}");
                rewrite_token(params, &minted);
                Some(serde_json::to_string(&minted).unwrap_or_default())
            }
            (Some(own), false) => Some(own.get().to_string()),
            (None, _) => None,
        };
        Prepared {
            key,
            original_token,
            token,
        }
    }

    /// Registers a prepared request as in flight (when it is really sent: a request still
    /// waiting for a concurrency slot must not make routing ambiguous).
    pub(crate) fn register<'a>(
        &'a self,
        prepared: Option<Prepared>,
        session: &Session,
        sink: &crate::downstream::Sink,
        input: Option<crate::mrtr::Inputs>,
    ) -> Tracked<'a> {
        let Prepared {
            key,
            original_token,
            token,
        } = prepared.unwrap_or_else(|| self.unprepared());
        let route = Arc::new(InFlight {
            session: session.clone(),
            sink: sink.clone(),
            original_token,
            input,
        });
        let mut table = self.table.lock();
        if let Some(token) = &token {
            table.tokens.insert(token.clone(), route.clone());
        }
        table.in_flight.insert(key, route);
        Tracked {
            routes: self,
            key,
            token,
        }
    }

    /// The route of a request that carried no progress token and was not prepared.
    fn unprepared(&self) -> Prepared {
        Prepared {
            key: self.next.fetch_add(1, Ordering::Relaxed) + 1,
            original_token: None,
            token: None,
        }
    }

    /// The request a progress token (its JSON text) belongs to.
    pub(crate) fn by_token(&self, token: &str) -> Option<Arc<InFlight>> {
        self.table.lock().tokens.get(token).cloned()
    }

    /// Whose requests are in flight.
    pub(crate) fn owner(&self) -> Owner {
        let table = self.table.lock();
        let mut routes = table.in_flight.values();
        let Some(first) = routes.next() else {
            return Owner::Nobody;
        };
        let id = first.session.inner.id;
        // A modern client's calls share no session state: one of several calls in flight
        // cannot be told from the others, even when they come from one session.
        let one_call = table.in_flight.len() == 1;
        if routes.all(|r| r.session.inner.id == id) && (one_call || first.input.is_none()) {
            Owner::One(first.clone())
        } else {
            Owner::Several
        }
    }
}

/// Sets `_meta.progressToken` in `params` to `token`, keeping every other `_meta` field.
fn rewrite_token(params: &mut RawObject<'_>, token: &str) {
    let Some(meta) = params.get("_meta") else {
        return;
    };
    let Ok(mut meta) = RawObject::parse(meta) else {
        return;
    };
    meta.set_str("progressToken", token);
    let meta = meta.to_raw();
    params.set("_meta", meta);
}

#[cfg(test)]
mod tests {
    use manifold_protocol::{RawObject, RawValue};

    use super::{Owner, ReturnPath};
    use crate::gateway::Gateway;
    use crate::session::{Face, Session};

    fn params(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_string()).unwrap()
    }

    #[tokio::test]
    async fn owners_and_progress_tokens() {
        let gateway = Gateway::start(&manifold_config::Config::default());
        let (tx, _rx) = crate::downstream::sink(8, 1 << 20);
        let (one, two) = (
            Session::open(&gateway, tx.clone(), Face::Http),
            Session::open(&gateway, tx.clone(), Face::Http),
        );
        let (routes, other) = (ReturnPath::default(), ReturnPath::default());
        assert!(matches!(routes.owner(), Owner::Nobody));

        let raw = params(r#"{"name":"x","_meta":{"progressToken":"p","k":1}}"#);
        let mut obj = RawObject::parse(&raw).unwrap();
        let first = routes.track(&one, &tx, &mut obj, true);
        // The token upstream is Manifold's own; the client's is kept for the way back.
        let sent = obj.to_raw();
        assert!(
            sent.get().contains(r#""progressToken":"mf-1""#),
            "{}",
            sent.get()
        );
        assert!(
            sent.get().contains(r#""k":1"#),
            "other _meta fields kept: {}",
            sent.get()
        );
        let route = routes.by_token(r#""mf-1""#).expect("tracked token");
        assert_eq!(
            route.original_token.as_deref().map(RawValue::get),
            Some(r#""p""#)
        );
        assert!(matches!(routes.owner(), Owner::One(r) if r.session.inner.id == one.inner.id));

        // A second session with a request on the same upstream: nothing can be attributed.
        let raw = params(r#"{"name":"y","_meta":{"progressToken":"p"}}"#);
        let mut obj = RawObject::parse(&raw).unwrap();
        let second = routes.track(&two, &tx, &mut obj, true);
        assert!(matches!(routes.owner(), Owner::Several));
        assert!(
            matches!(other.owner(), Owner::Nobody),
            "other upstream sessions unaffected"
        );

        // Unrewritten (one client, nothing shared): keyed by the client's own token.
        drop(second);
        let raw = params(r#"{"name":"z","_meta":{"progressToken":7}}"#);
        let mut obj = RawObject::parse(&raw).unwrap();
        let third = other.track(&one, &tx, &mut obj, false);
        assert!(obj.to_raw().get().contains(r#""progressToken":7"#));
        assert!(other.by_token("7").is_some());
        drop((first, third));
        assert!(matches!(routes.owner(), Owner::Nobody));
        assert!(
            routes.by_token(r#""mf-1""#).is_none(),
            "entries end with their request"
        );
    }
}
