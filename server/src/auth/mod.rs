//! Authentication: turning a bearer token into an [`Identity`], and nothing else.
//!
//! Workroom does not run logins; it verifies JWTs issued by the marketplace. What an
//! identity may do is decided by [`crate::policy`], never here.

mod dev_key;
mod keys;
mod verifier;

pub use dev_key::{DevKey, DevKeyError};
pub use verifier::{TokenVerifier, VerifierError};

use workroom_protocol::Role;

/// A verified caller. Only [`TokenVerifier::verify`] builds one (its fields are private to
/// this module; unit tests have `Identity::for_tests`), so a handler that holds an
/// `Identity` holds proof that the token was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    user: String,
    role: Role,
    account: Option<String>,
    jti: String,
    /// Unix seconds at which the token expires; open connections close then.
    expires_at: u64,
    /// Unix seconds at which the token was issued (revocations "before a time" use it).
    issued_at: u64,
    acts_for: Option<String>,
}

impl Identity {
    /// The user id (the token's `sub`).
    pub fn user(&self) -> &str {
        &self.user
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// The party account the token names, if any.
    pub fn account(&self) -> Option<&str> {
        self.account.as_deref()
    }

    /// The token's id (bots are revoked by it).
    pub fn jti(&self) -> &str {
        &self.jti
    }

    /// Unix seconds at which the token expires; open connections close then.
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// Unix seconds at which the token was issued.
    pub fn issued_at(&self) -> u64 {
        self.issued_at
    }

    /// For a bot token: the contractor it acts for.
    pub fn acts_for(&self) -> Option<&str> {
        self.acts_for.as_deref()
    }

    /// An identity that no token vouches for, for unit tests of the policy.
    #[cfg(test)]
    pub(crate) fn for_tests(role: Role, user: &str, acts_for: Option<&str>) -> Identity {
        Identity {
            user: user.into(),
            role,
            account: None,
            jti: "j".into(),
            expires_at: u64::MAX,
            issued_at: 0,
            acts_for: acts_for.map(str::to_string),
        }
    }

    /// This identity as the actor of an audited act.
    pub fn actor(&self) -> workroom_storage::audit::Actor {
        workroom_storage::audit::Actor::new(self.user.clone(), self.role.as_str())
    }

    /// An audit entry of this identity's act on a room, filed under a moderation case.
    pub fn case_entry(
        &self,
        action: workroom_storage::audit::AuditAction,
        room: &str,
        purpose: workroom_protocol::Purpose,
        case_id: &str,
        details: serde_json::Value,
    ) -> workroom_storage::audit::NewAuditEntry {
        self.actor()
            .entry(action, &format!("room:{room}"), purpose, details)
            .with_case(case_id)
    }
}

/// Why a token was refused. The client only ever sees `unauthorized`; the variant is logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no credentials")]
    Missing,
    #[error("malformed token")]
    Malformed,
    #[error("unknown key id")]
    UnknownKey,
    #[error("algorithm does not match the key")]
    AlgorithmMismatch,
    #[error("token type is not JWT")]
    BadType,
    #[error("token rejected: {0}")]
    Rejected(String),
}
