//! From a bearer token to an [`Identity`]: the signature and claims (the verifier), then
//! the one check that needs the database, a bot token its contractor revoked (made on every
//! request, so a revocation takes effect at once on every node). Both transports
//! authenticate here: the `Authorization` header, the upgrade and the `auth` frame.

use super::{Failure, Service};
use crate::auth::{AuthError, Identity};
use crate::policy::{self, Act, Caller, Resource};
use workroom_protocol::{Purpose, Role};

impl Service {
    /// The identity a token stands for, or `unauthorized` (`unavailable` when the revocation
    /// list cannot be read).
    pub async fn authenticate(&self, token: &str) -> Result<Identity, Failure> {
        let identity = self.verifier.verify(token)?;
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
