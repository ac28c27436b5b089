//! From a bearer token to an [`Identity`]: the signature and claims (the verifier), then
//! the checks that need the database, made on every request, upgrade and `auth` frame so
//! that a revocation takes effect at once on every node: a token revoked by logout (its
//! `jti`), a member whose tokens the marketplace revoked or whose membership it terminated
//! (for a bot, its contractor's), and a bot token its contractor revoked. Both transports
//! authenticate here: the `Authorization` header, the upgrade and the `auth` frame.

use super::{Failure, Service};
use crate::auth::{AuthError, Identity};
use crate::policy::{self, Act, Caller, Resource};
use workroom_protocol::{ErrorCode, Purpose, Role};
use workroom_storage::TokenFacts;

impl Service {
    /// The identity a token stands for, or `unauthorized` (`unavailable` when the revocation
    /// list cannot be read).
    pub async fn authenticate(&self, token: &str) -> Result<Identity, Failure> {
        let identity = self.verifier.verify(token)?;
        let member = match identity.role() {
            Role::Member => Some(identity.user()),
            Role::Bot => identity.acts_for(),
            _ => None,
        };
        let facts = TokenFacts {
            jti: identity.jti(),
            member,
            issued_at: i64::try_from(identity.issued_at()).unwrap_or(i64::MAX),
        };
        if let Some(why) = self.store.token_refusal(facts).await? {
            return Err(AuthError::Rejected(why.into()).into());
        }
        if identity.role() == Role::Bot {
            let acts_for = identity.acts_for().unwrap_or_default();
            if self.store.bot_revoked(identity.jti(), acts_for).await? {
                return Err(AuthError::Rejected("revoked bot token".into()).into());
            }
        }
        Ok(identity)
    }
}

impl Service {
    /// Whether `identity` may open a WebSocket session (members and moderators); the purpose
    /// the session then serves.
    pub fn open_session(&self, identity: &Identity) -> Result<Purpose, Failure> {
        let purpose = policy::session_purpose(identity.role());
        policy::decide(
            Caller::Token(identity),
            Act::OpenSession,
            purpose,
            Resource::Nothing,
        )?;
        Ok(purpose)
    }

    /// A frame that needs nothing but the open session itself (`ping`, ending one's own
    /// live view): the session's own permission, asked again.
    pub fn within_session(&self, identity: &Identity) -> Result<(), Failure> {
        self.open_session(identity).map(|_| ())
    }

    /// The token behind a one-time development sign-in code (`sign_in_links`): only while
    /// the development key is on; an unknown, used or expired code is `not_found`.
    pub fn redeem_sign_in(&self, code: &str) -> Result<String, Failure> {
        policy::decide(
            Caller::Anonymous,
            Act::RedeemSignIn,
            Purpose::Participation,
            Resource::Nothing,
        )?;
        if !self.config.auth.dev_key_on() {
            return Err(Failure::new(
                ErrorCode::NotFound,
                "sign-in links exist on the development server only",
            ));
        }
        crate::sign_in_links::redeem(&self.config.data_dir, code, self.clock.now_ms()).ok_or_else(
            || {
                Failure::new(
                    ErrorCode::NotFound,
                    "no such sign-in code: each works once, for five minutes",
                )
            },
        )
    }

    /// Health, readiness and metrics carry no user data: the policy allows them to anyone,
    /// for operations.
    pub fn probe(&self) {
        let allowed = policy::decide(
            Caller::Anonymous,
            Act::Probe,
            Purpose::Operations,
            Resource::Nothing,
        );
        debug_assert!(allowed.is_ok(), "probes are open to anyone");
    }

    /// A WebSocket upgrade without a token, to be authenticated by its first frame
    /// (browsers cannot set headers on an upgrade).
    pub fn connect_unauthenticated(&self) -> Result<(), Failure> {
        policy::decide(
            Caller::Anonymous,
            Act::Connect,
            Purpose::Participation,
            Resource::Nothing,
        )?;
        Ok(())
    }
}
