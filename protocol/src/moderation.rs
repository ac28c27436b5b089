//! HTTP bodies of moderation (C6): access grants, reports, the live view's frames' payloads,
//! connection lookups, and the transparency list members see.

use crate::frames::MessageView;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a grant lets its moderator do in its workroom.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    ToSchema,
    JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum GrantScope {
    /// Page the history, prior versions included.
    History,
    /// Download the workroom's files.
    Files,
    /// Watch the workroom live over WebSocket.
    Live,
    /// See which of the workroom's members connected from which (pseudonymised) address.
    Connections,
    /// Post a system notice (only when `moderation.allow_notices` is on).
    Notice,
}

impl GrantScope {
    pub const ALL: &'static [GrantScope] = &[
        GrantScope::History,
        GrantScope::Files,
        GrantScope::Live,
        GrantScope::Connections,
        GrantScope::Notice,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GrantScope::History => "history",
            GrantScope::Files => "files",
            GrantScope::Live => "live",
            GrantScope::Connections => "connections",
            GrantScope::Notice => "notice",
        }
    }

    pub fn parse(value: &str) -> Option<GrantScope> {
        GrantScope::ALL
            .iter()
            .copied()
            .find(|s| s.as_str() == value)
    }
}

/// Where a grant is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantState {
    /// Waiting for a second moderator's approval (four-eyes); reads nothing.
    Pending,
    /// Live: its moderator may read within its scope until `expires_at`.
    Active,
    /// Ended early by a moderator.
    Revoked,
    /// Ran out its time (or was never approved in time).
    Expired,
}

impl GrantState {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantState::Pending => "pending",
            GrantState::Active => "active",
            GrantState::Revoked => "revoked",
            GrantState::Expired => "expired",
        }
    }

    pub fn is_ended(self) -> bool {
        matches!(self, GrantState::Revoked | GrantState::Expired)
    }
}

/// `POST /v1/moderation/grants`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenGrant {
    pub room: String,
    pub case_id: String,
    /// Why the moderator needs to look: at least a sentence.
    pub reason: String,
    pub scope: Vec<GrantScope>,
    /// How long the grant lasts once active; capped by `moderation.max_grant_secs`.
    #[serde(default)]
    pub duration_secs: Option<u64>,
}

/// A grant as moderators see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct GrantView {
    pub id: String,
    pub room: String,
    pub case_id: String,
    pub reason: String,
    pub scope: Vec<GrantScope>,
    pub moderator: String,
    pub state: GrantState,
    pub opened_at: String,
    pub duration_secs: u64,
    /// Until when it is (or was) active; for a pending grant, the approval deadline.
    pub expires_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

/// `GET /v1/moderation/grants`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct GrantList {
    pub grants: Vec<GrantView>,
}

/// A grant as the workroom's members see it once it has ended (transparency): no reason,
/// no moderator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct EndedGrantView {
    pub case_id: String,
    pub scope: Vec<GrantScope>,
    pub state: GrantState,
    pub opened_at: String,
    pub ended_at: String,
}

/// `GET /v1/rooms/{room}/grants`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct EndedGrantList {
    pub grants: Vec<EndedGrantView>,
}

/// An earlier body of an edited or deleted message (the compliance record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct PriorVersion {
    pub version: u32,
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<crate::frames::Unreadable>,
}

/// A message as a moderator reads it: its latest state and every earlier version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct ModeratedMessage {
    #[serde(flatten)]
    pub message: MessageView,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<PriorVersion>,
}

/// `GET /v1/moderation/grants/{grant}/messages`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct ModeratedHistory {
    pub room: String,
    pub grant: String,
    pub messages: Vec<ModeratedMessage>,
}

/// `POST /v1/moderation/grants/{grant}/notices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNotice {
    pub body: String,
}

/// Reply to a notice: where it landed in the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct NoticePosted {
    pub room: String,
    pub seq: u64,
    pub msg_id: String,
}

/// One connection of a workroom member, as a moderator sees it under a grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct ConnectionView {
    pub user: String,
    pub session: String,
    /// The keyed hash of the client address (hex); never the address itself.
    pub address_hash: String,
    pub connected_at: String,
}

/// `GET /v1/moderation/grants/{grant}/connections`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct ConnectionList {
    pub room: String,
    pub grant: String,
    pub connections: Vec<ConnectionView>,
}

/// Where a report is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportState {
    /// Filed, not yet read by a moderator.
    Open,
    /// A moderator has read it.
    InReview,
    /// A moderator closed it with an outcome.
    Closed,
}

impl ReportState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportState::Open => "open",
            ReportState::InReview => "in_review",
            ReportState::Closed => "closed",
        }
    }

    pub fn parse(value: &str) -> Option<ReportState> {
        match value {
            "open" => Some(ReportState::Open),
            "in_review" => Some(ReportState::InReview),
            "closed" => Some(ReportState::Closed),
            _ => None,
        }
    }
}

/// `POST /v1/rooms/{room}/reports`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReport {
    /// The `msg_id`s of the reported messages.
    pub messages: Vec<String>,
    pub reason: String,
}

/// A report as its reporter sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct ReportStatus {
    pub id: String,
    pub case_id: String,
    pub room: String,
    pub state: ReportState,
    pub messages: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

/// `GET /v1/reports` (the caller's own reports).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct ReportStatusList {
    pub reports: Vec<ReportStatus>,
}

/// A report as moderators list it (no content).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct ReportSummary {
    pub id: String,
    pub case_id: String,
    pub room: String,
    pub reporter: String,
    pub state: ReportState,
    pub message_count: usize,
    pub created_at: String,
    pub updated_at: String,
}

/// `GET /v1/moderation/reports`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct ReportList {
    pub reports: Vec<ReportSummary>,
}

/// `GET /v1/moderation/reports/{report}`: the case, with exactly the reported messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct ReportCase {
    #[serde(flatten)]
    pub summary: ReportSummary,
    pub reason: String,
    pub messages: Vec<ModeratedMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

/// `POST /v1/moderation/reports/{report}/close`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseReport {
    pub outcome: String,
}
