//! Short-lived signed download links. A link names the file, the user it was issued to and
//! its expiry, signed with HMAC-SHA256 under a key derived from the master keys (so every
//! node of a cluster can check it and a master key rotation retires old links).
//!
//! A valid signature is necessary, not sufficient: the download handler checks again that
//! the user may still read the file's room, so a link stops working the moment access ends.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use workroom_storage::Keyring;

const PURPOSE: &str = "workroom/file-links/v1";

/// Signs and checks links. Built once from the keyring.
pub struct LinkSigner {
    /// Newest master key's derivation first: it signs; all of them verify.
    keys: Vec<hmac::Key>,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkSigner").finish_non_exhaustive()
    }
}

/// What a verified link grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkClaims {
    pub file: String,
    pub user: String,
    pub expires: i64,
}

impl LinkSigner {
    pub fn new(keyring: &Keyring) -> LinkSigner {
        LinkSigner {
            keys: keyring
                .derived_keys(PURPOSE)
                .iter()
                .map(|k| hmac::Key::new(hmac::HMAC_SHA256, k.as_ref()))
                .collect(),
        }
    }

    fn message(file: &str, user: &str, expires: i64) -> String {
        // Ids never contain a newline, so the encoding is unambiguous.
        format!("{file}\n{user}\n{expires}")
    }

    /// The signature for (file, user, expires), URL-safe base64.
    pub fn sign(&self, file: &str, user: &str, expires: i64) -> String {
        let Some(key) = self.keys.first() else {
            return String::new();
        };
        URL_SAFE_NO_PAD.encode(hmac::sign(
            key,
            Self::message(file, user, expires).as_bytes(),
        ))
    }

    /// Check a link's signature and expiry (`now` in Unix seconds).
    pub fn verify(
        &self,
        file: &str,
        user: &str,
        expires: i64,
        signature: &str,
        now: i64,
    ) -> Option<LinkClaims> {
        if expires < now {
            return None;
        }
        let tag = URL_SAFE_NO_PAD.decode(signature).ok()?;
        let message = Self::message(file, user, expires);
        self.keys
            .iter()
            .any(|key| hmac::verify(key, message.as_bytes(), &tag).is_ok())
            .then(|| LinkClaims {
                file: file.to_string(),
                user: user.to_string(),
                expires,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use workroom_storage::{MasterKey, MasterKeySet};

    fn signer() -> LinkSigner {
        LinkSigner::new(&Keyring::new(
            MasterKeySet::new(vec![MasterKey::generate()]).unwrap(),
        ))
    }

    #[test]
    fn a_link_is_bound_to_its_file_user_and_expiry() {
        let s = signer();
        let sig = s.sign("f1", "u1", 1_000);
        assert!(s.verify("f1", "u1", 1_000, &sig, 999).is_some());
        assert!(
            s.verify("f1", "u1", 1_000, &sig, 1_001).is_none(),
            "expired"
        );
        assert!(s.verify("f2", "u1", 1_000, &sig, 999).is_none());
        assert!(s.verify("f1", "u2", 1_000, &sig, 999).is_none());
        assert!(s.verify("f1", "u1", 2_000, &sig, 999).is_none());
        assert!(s.verify("f1", "u1", 1_000, "garbage", 999).is_none());
        assert!(
            signer().verify("f1", "u1", 1_000, &sig, 999).is_none(),
            "other keys"
        );
    }
}
