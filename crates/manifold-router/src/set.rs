//! The upstream sessions one client sees: one [`Slot`] per configured server (shared, or the
//! client's own), their merged catalog, the identity its own upstream sessions are initialized
//! with, and finding the slot that owns a name or URI.

use parking_lot::RwLock;
use std::sync::Arc;

use manifold_upstream::{ClientIdentity, Health};
use tokio::sync::watch;

use crate::catalog::{Catalog, Kind, Source, Target};
use crate::error::RouteError;
use crate::naming::split_uri;
use crate::pool::{Scope, Slot};
use manifold_policy::ItemKind;

/// The slots a client routes to, by server index (`None`: the server has no upstream session in
/// this set, e.g. a per-session server in the shared set).
pub(crate) struct UpstreamSet {
    /// Whose set it is: the shared one, or one downstream session's own.
    pub(crate) scope: Scope,
    slots: Vec<Option<Arc<Slot>>>,
    catalog: RwLock<Arc<Catalog>>,
    /// What the set's own upstream sessions are initialized with (they wait until it is set).
    pub(crate) identity: watch::Sender<Option<ClientIdentity>>,
    separator: String,
}

impl UpstreamSet {
    /// A set over `slots` (by server index); its catalog is built from their lists.
    pub(crate) fn new(
        scope: Scope,
        slots: Vec<Option<Arc<Slot>>>,
        identity: watch::Sender<Option<ClientIdentity>>,
        separator: &str,
    ) -> UpstreamSet {
        let set = UpstreamSet {
            scope,
            slots,
            catalog: RwLock::new(Arc::new(Catalog::default())),
            identity,
            separator: separator.to_string(),
        };
        set.rebuild();
        set
    }

    /// The slot serving server `index`.
    pub(crate) fn slot(&self, index: usize) -> Option<&Arc<Slot>> {
        self.slots.get(index).and_then(Option::as_ref)
    }

    /// Every slot of the set, in config order.
    pub(crate) fn slots(&self) -> impl Iterator<Item = &Arc<Slot>> {
        self.slots.iter().flatten()
    }

    /// The slots this set's client has to itself (none in the shared set, whose slots belong to
    /// every client).
    pub(crate) fn own(&self) -> impl Iterator<Item = &Arc<Slot>> {
        let scope = self.scope;
        self.slots()
            .filter(move |s| scope != Scope::Shared && s.scope == scope)
    }

    /// The current catalog snapshot.
    pub(crate) fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().clone()
    }

    /// Rebuilds the catalog from the slots' lists and returns which list kinds changed.
    pub(crate) fn rebuild(&self) -> Vec<Kind> {
        let lists: Vec<_> = self
            .slots
            .iter()
            .map(|s| s.as_ref().and_then(|s| s.lists()))
            .collect();
        let sources: Vec<Source<'_>> = self
            .slots
            .iter()
            .zip(&lists)
            .map(|(slot, lists)| match slot {
                Some(slot) => Source {
                    alias: slot.alias(),
                    namespace: &slot.server.namespace,
                    lists: lists.as_deref(),
                    curate: &slot.server.curate,
                },
                None => Source {
                    alias: "",
                    namespace: "",
                    lists: None,
                    curate: &NO_CURATION,
                },
            })
            .collect();
        let new = Arc::new(Catalog::build(&sources, &self.separator));
        let mut current = self.catalog.write();
        let changed = Kind::ALL
            .into_iter()
            .filter(|k| !current.same(&new, *k))
            .collect();
        *current = new;
        changed
    }

    /// Whether every slot is settled (up with its lists, or down).
    pub(crate) fn settled(&self) -> bool {
        self.slots().all(|s| s.settled())
    }

    /// Waits until the set is settled, at most `limit`.
    pub(crate) async fn wait_settled(&self, limit: std::time::Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while !self.settled() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// The slot and upstream name a downstream name of `kind` routes to.
    pub(crate) fn resolve_name(&self, kind: Kind, name: &str) -> Result<Target, RouteError> {
        if let Some(target) = self.catalog().lookup(kind, name) {
            return Ok(target.clone());
        }
        for slot in self.slots() {
            if slot.server.owns_name(name, &self.separator) && !slot.is_up() {
                return Err(unavailable(slot));
            }
        }
        Err(RouteError::Unknown {
            kind: crate::catalog::item_kind(kind),
            name: name.to_string(),
        })
    }

    /// The server index owning a downstream URI and the URI to send it.
    pub(crate) fn resolve_uri(&self, uri: &str) -> Result<(usize, String), RouteError> {
        if let Some((ns, rest)) = split_uri(uri) {
            if let Some(slot) = self.slots().find(|s| s.server.namespace == ns) {
                return if slot.is_up() {
                    Ok((slot.server.index, rest.to_string()))
                } else {
                    Err(unavailable(slot))
                };
            }
        }
        if let Some(t) = self.catalog().lookup(Kind::Resources, uri) {
            return Ok((t.upstream, t.original.clone()));
        }
        match self.slots().find(|s| s.server.namespace.is_empty()) {
            Some(slot) if slot.is_up() => Ok((slot.server.index, uri.to_string())),
            Some(slot) => Err(unavailable(slot)),
            None => Err(not_found(uri)),
        }
    }

    /// The slot serving server `index`, which resolution just returned.
    pub(crate) fn resolved(&self, index: usize) -> Result<&Arc<Slot>, RouteError> {
        self.slot(index)
            .ok_or_else(|| RouteError::Internal(format!("no upstream session for server {index}")))
    }
}

static NO_CURATION: std::collections::BTreeMap<String, manifold_config::Curate> =
    std::collections::BTreeMap::new();

/// A resource no upstream serves.
pub(crate) fn not_found(uri: &str) -> RouteError {
    RouteError::Unknown {
        kind: ItemKind::Resource,
        name: uri.to_string(),
    }
}

/// The error for a slot that is not up.
fn unavailable(slot: &Slot) -> RouteError {
    let (reason, unhealthy) = match slot.upstream.health() {
        Health::Down { reason, unhealthy } => (reason, unhealthy),
        Health::Starting => ("starting".to_string(), false),
        Health::Stopped => ("stopped".to_string(), false),
        Health::Up(_) => ("up".to_string(), false),
    };
    RouteError::Unavailable {
        server: slot.alias().to_string(),
        reason,
        unhealthy,
    }
}
