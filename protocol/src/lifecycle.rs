//! HTTP bodies of the data lifecycle (C10, C14): retention, purge, termination, bans, legal
//! holds, deferred erasures and logout. Times are RFC 3339.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `PUT /v1/marketplace/rooms/{room}/retention`: the room's own retention after it closes,
/// in seconds (`null`: back to the global `retention.closed_room_secs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionPut {
    pub retention_secs: Option<u64>,
}

/// A room's retention, as answered to the marketplace and admins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct RetentionView {
    pub room: String,
    /// The room's own retention (seconds), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_secs: Option<u64>,
    /// The retention that applies (the room's own, else the global one).
    pub effective_secs: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<String>,
    /// When the room will be (or was due to be) purged; absent while it is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purged_at: Option<String>,
    /// What the purge removed (present once it began).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purged: Option<PurgedCounts>,
}

/// Counts a purge removed (the tombstone keeps them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct PurgedCounts {
    pub messages: u64,
    pub files: u64,
    pub bytes: u64,
}

/// Reply to `POST /v1/marketplace/rooms/{room}/purge`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct PurgeResult {
    pub room: String,
    /// `purged` (now, or before) or `deferred` (a legal hold covers it: it runs when the
    /// last hold lifts).
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purged: Option<PurgedCounts>,
}

/// `POST /v1/marketplace/users/{user}/terminate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TerminateUser {
    /// `closed` (the member left) or `violation` (removed; a ban record is kept).
    pub reason: String,
}

/// Reply to a termination (user or account).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct Terminated {
    /// `false` when it had been terminated before (nothing changed).
    pub terminated_now: bool,
    /// Workrooms this call closed.
    pub closed_rooms: Vec<String>,
    /// `erased` (personal data destroyed now), `deferred` (a legal hold covers it: it is
    /// destroyed when the last hold lifts) or `none` (an account: its people stay).
    pub erasure: String,
}

/// `POST /v1/marketplace/users/{user}/revoke-tokens`: refuse every token of the user
/// issued before `issued_before` (default: now).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeTokens {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_before: Option<String>,
}

/// Reply to `revoke-tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct TokensRevoked {
    pub user: String,
    /// Tokens issued before this are refused.
    pub issued_before: String,
}

/// `POST /v1/marketplace/bans/check`: is this identity banned? Name one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BanQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// Whether an identity is banned (the whole ban record: a reason code and a date).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct BanStatus {
    pub banned: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banned_at: Option<String>,
}

/// `POST /v1/legal/holds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    /// The legal request the hold serves.
    pub request_id: String,
    /// `room`, `user` or `account`.
    pub scope: String,
    /// The room, user or account id.
    pub target: String,
}

/// A legal hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct HoldView {
    pub id: String,
    pub request_id: String,
    pub scope: String,
    pub target: String,
    pub placed_by: String,
    pub placed_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifted_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifted_at: Option<String>,
}

/// `GET /v1/legal/holds`, `GET /v1/admin/holds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct HoldList {
    pub holds: Vec<HoldView>,
}

/// An erasure a legal hold deferred.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct ErasureView {
    /// `person:<user>` or `room:<room>`.
    pub key: String,
    /// `termination`, `keys_destroy` or `retention`.
    pub why: String,
    pub requested_at: String,
}

/// `GET /v1/admin/erasures`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct ErasureList {
    pub erasures: Vec<ErasureView>,
}
