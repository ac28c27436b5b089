//! JWT verification with algorithms pinned per key.
//!
//! The key is chosen by the token's `kid`, and the algorithm comes from our configuration for
//! that key, never from the token: a header that names another algorithm is refused before
//! any signature check (no `alg: none`, no RS256-public-key-as-HMAC-secret confusion).
//! `iss`, `aud` and `exp` are required; `exp` and `nbf` are checked with a small leeway
//! against the server's clock (so tests can let a token expire by moving it); `typ` must be
//! `JWT` when present.

use super::dev_key::{DEV_KID, DevKey};
use super::{AuthError, Identity};
use crate::config::AuthConfig;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::collections::HashMap;
use std::path::PathBuf;
use workroom_protocol::Claims;
use workroom_storage::Clock;

#[derive(Debug, thiserror::Error)]
pub enum VerifierError {
    #[error("auth.keys: reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("auth.keys: {path} is not a {algorithm} public key in PEM: {reason}")]
    Key {
        path: PathBuf,
        algorithm: String,
        reason: String,
    },
}

struct PinnedKey {
    algorithm: Algorithm,
    key: DecodingKey,
    validation: Validation,
}

/// Verifies bearer tokens. Built once at start from configuration; shared read-only.
pub struct TokenVerifier {
    keys: HashMap<String, PinnedKey>,
    /// `exp` and `nbf` are checked against this clock, with `leeway` seconds either way.
    clock: Clock,
    leeway: u64,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl TokenVerifier {
    pub fn new(
        config: &AuthConfig,
        dev_key: Option<&DevKey>,
        clock: Clock,
    ) -> Result<Self, VerifierError> {
        let validation_for = |algorithm: Algorithm| {
            let mut v = Validation::new(algorithm);
            // Times are checked below against our clock, not the library's.
            v.validate_exp = false;
            v.validate_nbf = false;
            v.set_audience(&[&config.audience]);
            v.set_issuer(&[&config.issuer]);
            v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
            v
        };
        let mut keys = HashMap::new();
        if let Some(dev) = dev_key {
            keys.insert(
                DEV_KID.to_string(),
                PinnedKey {
                    algorithm: Algorithm::HS256,
                    key: DecodingKey::from_secret(dev.secret()).map_err(|e| {
                        VerifierError::Key {
                            path: PathBuf::from("dev key"),
                            algorithm: "HS256".into(),
                            reason: e.to_string(),
                        }
                    })?,
                    validation: validation_for(Algorithm::HS256),
                },
            );
        }
        for entry in &config.keys {
            let pem =
                std::fs::read(&entry.public_key_file).map_err(|source| VerifierError::Read {
                    path: entry.public_key_file.clone(),
                    source,
                })?;
            let (algorithm, key) = match entry.algorithm.as_str() {
                "RS256" => (Algorithm::RS256, DecodingKey::from_rsa_pem(&pem)),
                "ES256" => (Algorithm::ES256, DecodingKey::from_ec_pem(&pem)),
                _ => (Algorithm::EdDSA, DecodingKey::from_ed_pem(&pem)),
            };
            let key = key.map_err(|e| VerifierError::Key {
                path: entry.public_key_file.clone(),
                algorithm: entry.algorithm.clone(),
                reason: e.to_string(),
            })?;
            keys.insert(
                entry.kid.clone(),
                PinnedKey {
                    algorithm,
                    key,
                    validation: validation_for(algorithm),
                },
            );
        }
        Ok(TokenVerifier {
            keys,
            clock,
            leeway: config.leeway_secs,
        })
    }

    /// Verify a compact JWS and return who it speaks for.
    pub fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        let kid = header.kid.as_deref().ok_or(AuthError::UnknownKey)?;
        let pinned = self.keys.get(kid).ok_or(AuthError::UnknownKey)?;
        if header.alg != pinned.algorithm {
            return Err(AuthError::AlgorithmMismatch);
        }
        if let Some(typ) = header.typ.as_deref()
            && !typ.eq_ignore_ascii_case("JWT")
        {
            return Err(AuthError::BadType);
        }
        let data = jsonwebtoken::decode::<Claims>(token, &pinned.key, &pinned.validation)
            .map_err(|e| AuthError::Rejected(e.kind().to_string_lossy()))?;
        let claims = data.claims;
        let now = self.clock.now_secs();
        if claims.exp.saturating_add(self.leeway) < now {
            return Err(AuthError::Rejected("ExpiredSignature".into()));
        }
        if claims
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(self.leeway))
        {
            return Err(AuthError::Rejected("ImmatureSignature".into()));
        }
        if claims.sub.is_empty() || claims.jti.is_empty() {
            return Err(AuthError::Rejected("empty sub or jti".into()));
        }
        // A bot token speaks for one contractor; without `acts_for` it could not be scoped
        // (or revoked by that contractor).
        if claims.role == workroom_protocol::Role::Bot
            && claims.acts_for.as_deref().is_none_or(str::is_empty)
        {
            return Err(AuthError::Rejected("bot token without acts_for".into()));
        }
        Ok(Identity {
            user: claims.sub,
            role: claims.role,
            account: claims.account,
            jti: claims.jti,
            expires_at: claims.exp,
            issued_at: claims.iat,
            acts_for: claims.acts_for,
        })
    }
}

trait KindText {
    fn to_string_lossy(&self) -> String;
}

impl KindText for jsonwebtoken::errors::ErrorKind {
    fn to_string_lossy(&self) -> String {
        format!("{self:?}")
    }
}
