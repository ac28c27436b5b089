//! Authentication: turning a bearer token into an [`Identity`], and nothing else.
//!
//! Workroom does not run logins; it verifies JWTs issued by the marketplace. What an
//! identity may do is decided by [`crate::access`], never here.

mod dev_key;
mod verifier;

pub use dev_key::{DevKey, DevKeyError};
pub use verifier::{TokenVerifier, VerifierError};

use workroom_protocol::Role;

/// A verified caller. Only [`TokenVerifier::verify`] builds one, so a handler that holds an
/// `Identity` holds proof that the token was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub role: Role,
    pub account: Option<String>,
    pub jti: String,
    /// Unix seconds at which the token expires; open connections close then.
    pub expires_at: u64,
    pub acts_for: Option<String>,
}

impl Identity {
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
