//! What travels on the bus: one sealed envelope per signal.
//!
//! Signals carry personal data (who is typing, a released email address in a contact
//! frame) and steer sessions (a revocation closes them, a frame is shown as is), so the
//! bus is not trusted with either: every envelope is sealed with AES-256-GCM under a key
//! derived from the master keys, which every node of a cluster shares and NATS never sees.
//! Someone who can read or write NATS subjects learns nothing and can inject nothing; what
//! they can do is drop or replay sealed envelopes, which receivers tolerate by design
//! (signals are hints: duplicates are dropped by seq, a replayed typing frame is harmless,
//! a replayed revocation revokes what was already revoked).
//!
//! Layout: a 12-byte random nonce, then the sealed JSON of [`Envelope`]. The key is tried
//! newest master key first, so nodes keep understanding each other during a rotation.

use crate::signals::Signal;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use workroom_storage::Keyring;

/// The name the bus key is derived under (`Keyring::derived_keys`).
const KEY_PURPOSE: &str = "workroom bus signals v1";
/// Bound into every seal: an envelope of another protocol never opens as one of ours.
const AAD: &[u8] = b"workroom-bus-v1";

/// A signal and the node it comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub node: String,
    pub signal: Signal,
}

/// Why a received envelope was dropped.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("too short to be an envelope")]
    Truncated,
    #[error("not sealed with any of this node's keys (another cluster, or tampered with)")]
    Unsealed,
    #[error("sealed, but not a signal this node understands: {0}")]
    Unknown(String),
}

/// Seals and opens envelopes with the cluster's bus keys.
pub struct Sealer {
    /// Newest first; the first seals.
    keys: Vec<LessSafeKey>,
    random: SystemRandom,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl Sealer {
    pub fn new(keyring: &Keyring) -> Sealer {
        let keys = keyring
            .derived_keys(KEY_PURPOSE)
            .iter()
            .map(|bytes| {
                LessSafeKey::new(
                    UnboundKey::new(&AES_256_GCM, bytes.as_ref())
                        .expect("a derived key has AES-256's length"),
                )
            })
            .collect();
        Sealer {
            keys,
            random: SystemRandom::new(),
        }
    }

    /// The sealed bytes of `envelope`.
    pub fn seal(&self, envelope: &Envelope) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .expect("the system's random source works");
        let mut sealed = serde_json::to_vec(envelope).expect("a signal serializes");
        self.keys[0]
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(AAD),
                &mut sealed,
            )
            .expect("sealing in memory cannot fail");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// The envelope in `bytes`, when one of this node's keys sealed it.
    pub fn open(&self, bytes: &[u8]) -> Result<Envelope, WireError> {
        if bytes.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(WireError::Truncated);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().expect("split at NONCE_LEN");
        for key in &self.keys {
            let mut buffer = sealed.to_vec();
            if let Ok(plain) = key.open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(AAD),
                &mut buffer,
            ) {
                return serde_json::from_slice(plain)
                    .map_err(|error| WireError::Unknown(error.to_string()));
            }
        }
        Err(WireError::Unsealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use workroom_protocol::RoomId;
    use workroom_storage::{MasterKey, MasterKeySet};

    fn sealer(keys: Vec<MasterKey>) -> Sealer {
        Sealer::new(&Keyring::new(MasterKeySet::new(keys).unwrap()))
    }

    fn envelope() -> Envelope {
        Envelope {
            node: "n1".into(),
            signal: Signal::Events {
                room: RoomId::try_from("r1").unwrap(),
                first: 4,
                last: 9,
            },
        }
    }

    #[test]
    fn a_sealed_envelope_opens_on_a_node_with_the_same_keys_only() {
        let key = MasterKey::generate();
        let line = key.to_line();
        let same = MasterKeySet::parse(&line).unwrap();
        let a = sealer(vec![key]);
        let b = Sealer::new(&Keyring::new(same));
        let sealed = a.seal(&envelope());
        assert_eq!(b.open(&sealed).unwrap(), envelope());
        assert!(
            !String::from_utf8_lossy(&sealed).contains("r1"),
            "nothing readable on the bus"
        );
        let other = sealer(vec![MasterKey::generate()]);
        assert_eq!(other.open(&sealed), Err(WireError::Unsealed));
    }

    #[test]
    fn a_changed_byte_or_a_short_message_is_dropped() {
        let s = sealer(vec![MasterKey::generate()]);
        let mut sealed = s.seal(&envelope());
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert_eq!(s.open(&sealed), Err(WireError::Unsealed));
        assert_eq!(s.open(&[0u8; 10]), Err(WireError::Truncated));
    }

    #[test]
    fn during_a_rotation_the_older_key_still_opens() {
        let old = MasterKey::generate();
        let new = MasterKey::generate();
        let old_only = MasterKeySet::parse(&old.to_line()).unwrap();
        let rotated = sealer(vec![old, new]);
        let not_yet = Sealer::new(&Keyring::new(old_only));
        let from_old_node = not_yet.seal(&envelope());
        assert_eq!(rotated.open(&from_old_node).unwrap(), envelope());
    }
}
