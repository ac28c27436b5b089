//! JWT verification with algorithms pinned per key.
//!
//! The key is chosen by the token's `kid`, and the algorithm comes from our configuration for
//! that key, never from the token: a header that names another algorithm is refused before
//! any signature check (no `alg: none`, no RS256-public-key-as-HMAC-secret confusion).
//! `iss`, `aud` and `exp` are required; `exp` and `nbf` are checked with a small leeway
//! against the server's clock (so tests can let a token expire by moving it), `iat` may not
//! lie in the future beyond it, and no token lives longer than
//! `auth.max_token_lifetime_secs`; `typ` must be `JWT` when present. The keys (see
//! `keys.rs`) are swapped whole on a reload, so a verification sees one set or the other.

use super::dev_key::DevKey;
use super::keys::KeySet;
pub use super::keys::VerifierError;
use super::{AuthError, Identity};
use crate::config::AuthConfig;
use std::sync::{Arc, RwLock};
use workroom_protocol::Claims;
use workroom_storage::Clock;

/// Verifies bearer tokens. Built at start from configuration; its keys can be reloaded
/// while it serves ([`TokenVerifier::reload`]).
pub struct TokenVerifier {
    config: AuthConfig,
    dev_key: Option<DevKey>,
    keys: RwLock<Arc<KeySet>>,
    /// `exp`, `nbf` and `iat` are checked against this clock, with `leeway` seconds.
    clock: Clock,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("kids", &self.kids())
            .finish()
    }
}

impl TokenVerifier {
    pub fn new(
        config: &AuthConfig,
        dev_key: Option<DevKey>,
        clock: Clock,
    ) -> Result<Self, VerifierError> {
        let keys = KeySet::load(config, dev_key.as_ref())?;
        Ok(TokenVerifier {
            config: config.clone(),
            dev_key,
            keys: RwLock::new(Arc::new(keys)),
            clock,
        })
    }

    /// Read the key files and the JWKS again. `Ok(true)` when they changed and the new
    /// keys are in force; on an error the previous keys stay.
    pub fn reload(&self) -> Result<bool, VerifierError> {
        let fresh = KeySet::load(&self.config, self.dev_key.as_ref())?;
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        if keys.source == fresh.source {
            return Ok(false);
        }
        *keys = Arc::new(fresh);
        Ok(true)
    }

    /// The key ids in force, sorted.
    pub fn kids(&self) -> Vec<String> {
        let keys = self.current();
        let mut kids: Vec<String> = keys.keys.keys().cloned().collect();
        kids.sort();
        kids
    }

    fn current(&self) -> Arc<KeySet> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Verify a compact JWS and return who it speaks for.
    pub fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        let kid = header.kid.as_deref().ok_or(AuthError::UnknownKey)?;
        let keys = self.current();
        let pinned = keys.keys.get(kid).ok_or(AuthError::UnknownKey)?;
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
        let leeway = self.config.leeway_secs;
        let max_lifetime = self.config.max_token_lifetime_secs;
        if claims.exp.saturating_add(leeway) < now {
            return Err(AuthError::Rejected("ExpiredSignature".into()));
        }
        if claims
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(leeway))
        {
            return Err(AuthError::Rejected("ImmatureSignature".into()));
        }
        if claims.iat > now.saturating_add(leeway) {
            return Err(AuthError::Rejected("issued in the future".into()));
        }
        // Both bounds: a token may not claim a longer life than allowed, nor outlive the
        // allowance from now whatever its `iat` says.
        if claims.exp.saturating_sub(claims.iat) > max_lifetime
            || claims.exp > now.saturating_add(max_lifetime).saturating_add(leeway)
        {
            return Err(AuthError::Rejected(
                "lifetime beyond auth.max_token_lifetime_secs".into(),
            ));
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
