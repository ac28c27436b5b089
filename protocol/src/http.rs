//! HTTP request and response bodies (service calls from the marketplace, member reads).

use crate::frames::{MemberView, RoomSummary};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One side of an accepted bid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Party {
    pub user: String,
    pub account: String,
    pub name: String,
    pub email: String,
}

/// `POST /v1/marketplace/bids/{bid_id}/accept`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BidAccepted {
    pub project: String,
    pub client: Party,
    pub contractor: Party,
}

/// Reply to a bid acceptance: the private room, and the project's shared room once the
/// project has two or more accepted bids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct RoomCreated {
    pub room: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_room: Option<String>,
}

/// Reply to `POST /v1/marketplace/bids/{bid_id}/end`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct ContractEnded {
    pub room: String,
    pub closed_at: String,
    /// The shared room, when this was the project's last open contract.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_room_closed: Option<String>,
}

/// `PUT /v1/marketplace/accounts/{account}/members/{user}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountMemberPut {
    /// `owner`, `member` or `viewer`.
    pub role: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// `GET /v1/rooms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct RoomList {
    pub rooms: Vec<RoomSummary>,
}

/// `GET /v1/rooms/{room}/members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct MemberList {
    pub room: String,
    pub members: Vec<MemberView>,
}

/// A stored file, as returned by `POST /v1/rooms/{room}/files` and
/// `GET /v1/rooms/{room}/files/{file}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct FileInfo {
    pub id: String,
    pub room: String,
    pub uploader: String,
    /// The sanitised file name (no path, no control characters). Absent when erased.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub size: u64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    /// The type read from the bytes themselves.
    pub content_type: String,
    /// The type the uploader declared (`Content-Type` of the upload), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_type: Option<String>,
    pub created_at: String,
    /// The message carrying the file, once attached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg_id: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub erased: bool,
}

/// A short-lived signed download link (`POST /v1/rooms/{room}/files/{file}/link`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct FileLink {
    /// Path and query to `GET` on this server, no token needed until `expires_at`.
    pub url: String,
    pub expires_at: String,
}
