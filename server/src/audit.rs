//! Audit trail signing and checking: the Ed25519 checkpoint key, signing a checkpoint now
//! (the periodic checkpointer is `tasks::checkpoints`) and `workroom audit verify`. The chain itself lives in `workroom_storage::audit`.
//!
//! Checkpoints are made every `audit.checkpoint_every_entries` entries or every
//! `audit.checkpoint_interval_secs` seconds when the chain grew, and once more at shutdown,
//! so that a truncated tail is caught by `verify`. Several nodes may race to checkpoint the
//! same head; the second insert is dropped.

use crate::config::Config;
use crate::signing_key::{self, hex, key_id, unhex};
use aws_lc_rs::signature::{self, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use std::collections::HashMap;
use std::path::PathBuf;
use workroom_storage::audit::{AuditCheckpoint, ChainFault, ChainReport, ChainVerifier};
use workroom_storage::{StorageError, Store};

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit signing key {path}: {reason}")]
    Key { path: String, reason: String },
    #[error("audit.public_keys[{index}]: expected 64 hex characters (an Ed25519 public key)")]
    PublicKey { index: usize },
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("audit trail broken: {0}")]
    Broken(#[from] ChainFault),
}

/// The checkpoint signing key.
pub struct AuditSigner {
    key_id: String,
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for AuditSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditSigner")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

fn key_path(config: &Config) -> PathBuf {
    config
        .audit
        .signing_key_file
        .clone()
        .unwrap_or_else(|| config.data_dir.join("keys").join("audit-ed25519.pk8"))
}

impl AuditSigner {
    /// Load the configured key, or make the dev key (`<data_dir>/keys/audit-ed25519.pk8`,
    /// 0600) when none is configured and none exists yet.
    pub fn load_or_create(config: &Config) -> Result<(AuditSigner, bool), AuditError> {
        let path = key_path(config);
        let (pair, created) =
            signing_key::load_or_create(&path, config.audit.signing_key_file.is_none()).map_err(
                |reason| AuditError::Key {
                    path: path.display().to_string(),
                    reason,
                },
            )?;
        Ok((
            AuditSigner {
                key_id: key_id(pair.public_key().as_ref()),
                pair,
            },
            created,
        ))
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Hex of the public key (for auditors' `audit.public_keys`).
    pub fn public_key_hex(&self) -> String {
        hex(self.pair.public_key().as_ref())
    }

    fn sign(&self, seq: u64, hash: &str, at: i64) -> AuditCheckpoint {
        let message = workroom_storage::audit::checkpoint_message(seq, hash, at, &self.key_id);
        AuditCheckpoint {
            seq,
            hash: hash.to_string(),
            at,
            key_id: self.key_id.clone(),
            signature: hex(self.pair.sign(&message).as_ref()),
        }
    }
}

/// The public keys `verify` accepts, by key id: the signing key's and `audit.public_keys`
/// (keys that signed earlier checkpoints).
pub fn verification_keys(
    config: &Config,
    signer: &AuditSigner,
) -> Result<HashMap<String, Vec<u8>>, AuditError> {
    let mut keys = HashMap::new();
    keys.insert(
        signer.key_id.clone(),
        signer.pair.public_key().as_ref().to_vec(),
    );
    for (index, text) in config.audit.public_keys.iter().enumerate() {
        let bytes = unhex(text.trim())
            .filter(|b| b.len() == 32)
            .ok_or(AuditError::PublicKey { index })?;
        keys.insert(key_id(&bytes), bytes);
    }
    Ok(keys)
}

/// Sign a checkpoint of the current head if it is not checkpointed yet. Returns its seq.
pub async fn checkpoint_now(
    store: &Store,
    signer: &AuditSigner,
) -> Result<Option<u64>, AuditError> {
    let Some(head) = store.audit_head().await? else {
        return Ok(None);
    };
    let last = store.last_audit_checkpoint_seq().await?;
    if head.seq <= last {
        return Ok(None);
    }
    store
        .insert_audit_checkpoint(&signer.sign(head.seq, &head.hash, store.clock().now_ms()))
        .await?;
    Ok(Some(head.seq))
}

/// Check the whole chain and every checkpoint.
pub async fn verify(
    store: &Store,
    keys: &HashMap<String, Vec<u8>>,
) -> Result<ChainReport, AuditError> {
    let checkpoints = store.audit_checkpoints().await?;
    let mut verifier = ChainVerifier::new(&checkpoints);
    let mut after = 0;
    loop {
        let page = store.audit_entries_after(after, 1000).await?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.seq;
        for entry in &page {
            verifier.feed(entry)?;
        }
    }
    let report = workroom_storage::audit::verify_chain(verifier, &checkpoints, |cp, message| {
        let (Some(public), Some(sig)) = (keys.get(&cp.key_id), unhex(&cp.signature)) else {
            return false;
        };
        UnparsedPublicKey::new(&signature::ED25519, public)
            .verify(message, &sig)
            .is_ok()
    })?;
    Ok(report)
}
