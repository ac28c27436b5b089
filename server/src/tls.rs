//! The listener's TLS: rustls (aws-lc-rs), TLS 1.2 and 1.3 only, ALPN h2 and http/1.1.
//!
//! The certificate is reloaded without a restart ([`ReloadingCert::reload`], on SIGHUP and
//! every `tls.reload_interval_secs`): the next handshake uses the new one, open connections
//! keep theirs. A pair that does not load (half-written files, a key that does not match)
//! is refused with an error in the log, and the previous pair stays in use.
//!
//! With no certificate configured, a development CA and a leaf for `localhost`, `127.0.0.1`
//! and `::1` are generated into `<data_dir>/tls/` on first run. `cert.pem` holds the leaf
//! followed by the CA, so a client that trusts that one file can connect; `key.pem` (0600)
//! holds the leaf key. The CA key is not kept: nothing else can ever be signed by it.

use crate::config::Config;
use crate::key_files::{write_public, write_secret};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no usable {what}")]
    Pem { path: PathBuf, what: &'static str },
    #[error("generating the dev certificate: {0}")]
    Generate(String),
    #[error("building the TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Where the certificate came from, for the startup banner.
#[derive(Debug, Clone)]
pub struct TlsMaterial {
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    /// `true` when this run generated the dev certificate.
    pub generated: bool,
}

/// The dev certificate paths under a data dir.
pub fn dev_cert_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = data_dir.join("tls");
    (dir.join("cert.pem"), dir.join("key.pem"))
}

/// Find or create the certificate, then build the rustls server configuration, whose
/// certificate the returned resolver can reload.
pub fn server_config(
    config: &Config,
) -> Result<(Arc<rustls::ServerConfig>, Arc<ReloadingCert>, TlsMaterial), TlsError> {
    let material = match (&config.tls.cert_file, &config.tls.key_file) {
        (Some(cert), Some(key)) => TlsMaterial {
            cert_path: cert.clone(),
            key_path: key.clone(),
            generated: false,
        },
        _ => ensure_dev_certificate(&config.data_dir)?,
    };
    let (current, files) = load_pair(&material)?;
    let resolver = Arc::new(ReloadingCert {
        cert_path: material.cert_path.clone(),
        key_path: material.key_path.clone(),
        current: RwLock::new((Arc::new(current), files)),
    });
    let mut server = rustls::ServerConfig::builder_with_protocol_versions(&[
        &rustls::version::TLS13,
        &rustls::version::TLS12,
    ])
    .with_no_client_auth()
    .with_cert_resolver(resolver.clone());
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((Arc::new(server), resolver, material))
}

/// The two files' bytes, to tell whether a reload found anything new.
type PairFiles = (Vec<u8>, Vec<u8>);

/// Read and check a certificate and its key.
fn load_pair(material: &TlsMaterial) -> Result<(CertifiedKey, PairFiles), TlsError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    let files = (read(&material.cert_path)?, read(&material.key_path)?);
    let certs = load_certs(&material.cert_path, &files.0)?;
    let key = load_key(&material.key_path, &files.1)?;
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    let certified = CertifiedKey::from_der(certs, key, &provider)?;
    Ok((certified, files))
}

/// The listener's certificate, replaceable while it serves.
#[derive(Debug)]
pub struct ReloadingCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: RwLock<(Arc<CertifiedKey>, PairFiles)>,
}

impl ReloadingCert {
    /// Read the files again; `Ok(true)` when they hold a new pair, now in use.
    pub fn reload(&self) -> Result<bool, TlsError> {
        let material = TlsMaterial {
            cert_path: self.cert_path.clone(),
            key_path: self.key_path.clone(),
            generated: false,
        };
        let (certified, files) = load_pair(&material)?;
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        if current.1 == files {
            return Ok(false);
        }
        *current = (Arc::new(certified), files);
        Ok(true)
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        Some(current.0.clone())
    }
}

fn load_certs(path: &Path, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|_| TlsError::Pem {
            path: path.to_path_buf(),
            what: "certificate",
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: path.to_path_buf(),
            what: "certificate",
        });
    }
    Ok(certs)
}

fn load_key(path: &Path, pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|_| TlsError::Pem {
        path: path.to_path_buf(),
        what: "private key",
    })
}

/// Generate the dev CA and leaf unless both files already exist.
pub fn ensure_dev_certificate(data_dir: &Path) -> Result<TlsMaterial, TlsError> {
    let (cert_path, key_path) = dev_cert_paths(data_dir);
    if cert_path.exists() && key_path.exists() {
        return Ok(TlsMaterial {
            cert_path,
            key_path,
            generated: false,
        });
    }
    let gen_err = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let ca_key = KeyPair::generate().map_err(gen_err)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(gen_err)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let mut ca_name = DistinguishedName::new();
    ca_name.push(DnType::CommonName, "Workroom development CA");
    ca_params.distinguished_name = ca_name;
    let ca_cert = ca_params.self_signed(&ca_key).map_err(gen_err)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().map_err(gen_err)?;
    let mut leaf_params = CertificateParams::new(vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ])
    .map_err(gen_err)?;
    let mut leaf_name = DistinguishedName::new();
    leaf_name.push(DnType::CommonName, "localhost");
    leaf_params.distinguished_name = leaf_name;
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer).map_err(gen_err)?;

    let chain = format!("{}{}", leaf_cert.pem(), ca_cert.pem());
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TlsError::Read { path, source }
    };
    write_secret(&key_path, leaf_key.serialize_pem().as_bytes()).map_err(io_err(&key_path))?;
    write_public(&cert_path, chain.as_bytes()).map_err(io_err(&cert_path))?;
    Ok(TlsMaterial {
        cert_path,
        key_path,
        generated: true,
    })
}
