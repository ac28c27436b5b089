//! JWT claims as SPEC fixes them. Verification lives in the server; this is only the shape,
//! shared with `workroom token` and with clients that mint test tokens.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Who the token speaks for. Unknown roles fail to decode, so they are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Member,
    Moderator,
    Legal,
    Auditor,
    Bot,
    Service,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Moderator => "moderator",
            Role::Legal => "legal",
            Role::Auditor => "auditor",
            Role::Bot => "bot",
            Role::Service => "service",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(serde_json::Value::String(s.to_string()))
            .map_err(|_| format!("unknown role `{s}`"))
    }
}

/// The registered and Workroom-specific claims of every token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct Claims {
    /// The user id (for a service token, the calling system's id).
    pub sub: String,
    pub role: Role,
    /// The team account the user acts for, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub exp: u64,
    pub iat: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    pub iss: String,
    pub aud: String,
    pub jti: String,
    /// Bot tokens only: the contractor this bot posts for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acts_for: Option<String>,
}
