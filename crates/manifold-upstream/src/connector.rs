//! [`Connector`]: how an in-process upstream is reached, a factory called once per life of the
//! upstream so that every restart gets a fresh connection (and a fresh peer behind it).

use std::sync::Arc;

use manifold_transport::{Connection, TransportError};

type Connect = dyn Fn() -> Result<Connection, TransportError> + Send + Sync;

/// Makes a new connection to an in-process peer each time the upstream (re)starts; typically
/// it creates a `tokio::io::duplex` pipe, starts a server on one end and returns
/// [`manifold_transport::connect_duplex`] on the other. Cheap to clone.
#[derive(Clone)]
pub struct Connector(Arc<Connect>);

impl Connector {
    /// A connector calling `connect` for every life of the upstream. It runs on the upstream's
    /// task, within the Tokio runtime, and must not block.
    pub fn new(
        connect: impl Fn() -> Result<Connection, TransportError> + Send + Sync + 'static,
    ) -> Connector {
        Connector(Arc::new(connect))
    }

    /// A fresh connection.
    pub(crate) fn connect(&self) -> Result<Connection, TransportError> {
        (self.0)()
    }
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connector(..)")
    }
}
