//! The key legal bundles are signed with: `legal.signing_key_file`, or the dev key
//! `<data_dir>/keys/legal-ed25519.pk8` generated on first run.

use crate::config::Config;
use crate::signing_key::{self, key_id, public_hex};
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use std::path::PathBuf;
use workroom_protocol::legal::SigningKeyView;

#[derive(Debug, thiserror::Error)]
#[error("legal signing key {path}: {reason}")]
pub struct SignerError {
    path: String,
    reason: String,
}

/// Signs bundle manifests.
pub struct LegalSigner {
    key_id: String,
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for LegalSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LegalSigner")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// Where this configuration's signing key lives.
pub fn key_path(config: &Config) -> PathBuf {
    config
        .legal
        .signing_key_file
        .clone()
        .unwrap_or_else(|| config.data_dir.join("keys").join("legal-ed25519.pk8"))
}

impl LegalSigner {
    /// Load the configured key, or make the dev key when none is configured and none
    /// exists yet (the flag says so).
    pub fn load_or_create(config: &Config) -> Result<(LegalSigner, bool), SignerError> {
        let path = key_path(config);
        let (pair, created) =
            signing_key::load_or_create(&path, config.legal.signing_key_file.is_none()).map_err(
                |reason| SignerError {
                    path: path.display().to_string(),
                    reason,
                },
            )?;
        Ok((
            LegalSigner {
                key_id: key_id(pair.public_key().as_ref()),
                pair,
            },
            created,
        ))
    }

    /// The configured key if it exists, without generating one (offline verification).
    pub fn load_existing(config: &Config) -> Result<Option<LegalSigner>, SignerError> {
        if !key_path(config).exists() {
            return Ok(None);
        }
        LegalSigner::load_or_create(config).map(|(signer, _)| Some(signer))
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The 64-byte signature of `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair.sign(message).as_ref().to_vec()
    }

    /// What `GET /v1/legal/public-key` serves.
    pub fn view(&self) -> SigningKeyView {
        SigningKeyView {
            algorithm: "ed25519".into(),
            public_key: public_hex(&self.pair),
            key_id: self.key_id.clone(),
        }
    }
}
