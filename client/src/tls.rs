//! rustls client configuration trusting exactly the given PEM certificates.

use rustls::pki_types::{CertificateDer, pem::PemObject};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("no certificate in the given PEM")]
    NoCertificate,
    #[error("bad certificate: {0}")]
    Bad(String),
}

/// A client config whose only roots are the certificates in `pem`, with ALPN http/1.1
/// (WebSocket upgrades ride HTTP/1.1).
pub fn client_config(pem: &[u8]) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    let mut added = 0;
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| TlsError::Bad(e.to_string()))?;
        roots.add(cert).map_err(|e| TlsError::Bad(e.to_string()))?;
        added += 1;
    }
    if added == 0 {
        return Err(TlsError::NoCertificate);
    }
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
