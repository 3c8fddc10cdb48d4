//! HTTPS for the HTTP face (`listen.tls_cert`, `listen.tls_key`): a rustls acceptor for the PEM
//! files. Each handshake runs in its connection's own task, under the header timeout
//! ([`super::server`]), so a slow or hostile client cannot stall accepting others.

use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

/// Loads the certificate chain and key; errors name the file.
pub(crate) fn acceptor(tls: &manifold_config::Tls) -> std::io::Result<TlsAcceptor> {
    let invalid = |what: &std::path::Path, e: &dyn std::fmt::Display| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: {e}", what.display()),
        )
    };
    let certs = CertificateDer::pem_file_iter(&tls.cert)
        .map_err(|e| invalid(&tls.cert, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(&tls.cert, &e))?;
    let key = PrivateKeyDer::from_pem_file(&tls.key).map_err(|e| invalid(&tls.key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(&tls.cert, &e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| invalid(&tls.cert, &e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
