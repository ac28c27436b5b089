//! Reciprocal contact release (C8): a member's full contact details, and their release to
//! the other side of a workroom, which always releases the requester's own details too.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `PUT /v1/me/contact`, and the details as shown to whom they were released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactDetails {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    pub phone: String,
    /// Mailing address; line breaks allowed.
    pub address: String,
}

/// `POST /v1/rooms/{room}/contacts/release`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    /// The other party; needed only in a shared workroom with several contractors.
    #[serde(default)]
    pub with: Option<String>,
}

/// Reply to a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct Released {
    pub room: String,
    pub with: String,
    /// `false` when the two had already exchanged details in this workroom.
    pub newly: bool,
}

/// One party's details as released to the caller in a workroom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct ReleasedContact {
    pub user: String,
    pub released_at: String,
    /// The current details; absent when the person was erased or has none on file now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<ContactDetails>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub erased: bool,
}

/// `GET /v1/rooms/{room}/contacts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct ReleasedContacts {
    pub room: String,
    pub contacts: Vec<ReleasedContact>,
}
