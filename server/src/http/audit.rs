//! `GET /v1/audit`: the audit trail for auditors, filtered and paged by seq.

use super::error::ApiError;
use super::extract::{ApiQuery, Authenticated};
use crate::app::AppState;
use crate::events::rfc3339;
use crate::policy::{self, Act, Caller, Resource};
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use workroom_protocol::{ErrorCode, Purpose};
use workroom_storage::audit::{AuditEntry, AuditFilter};

const DEFAULT_LIMIT: u64 = 100;
const MAX_LIMIT: u64 = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AuditQuery {
    /// A workroom id: entries whose target is that room.
    room: Option<String>,
    actor: Option<String>,
    action: Option<String>,
    /// RFC 3339, inclusive.
    from: Option<String>,
    /// RFC 3339, exclusive.
    until: Option<String>,
    /// Entries after this seq (paging: pass the last seq of the previous page).
    after_seq: Option<u64>,
    limit: Option<u64>,
}

#[derive(Debug, Serialize)]
pub(super) struct AuditEntryView {
    seq: u64,
    at: String,
    actor: String,
    actor_role: String,
    action: String,
    target: String,
    purpose: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    case_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
    details: serde_json::Value,
    prev_hash: String,
    hash: String,
}

#[derive(Debug, Serialize)]
pub(super) struct AuditPage {
    entries: Vec<AuditEntryView>,
    /// Pass as `after_seq` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_after_seq: Option<u64>,
}

fn view(entry: AuditEntry) -> AuditEntryView {
    AuditEntryView {
        seq: entry.seq,
        at: rfc3339(entry.at),
        actor: entry.actor,
        actor_role: entry.actor_role,
        action: entry.action,
        target: entry.target,
        purpose: entry.purpose,
        case_id: entry.case_id,
        request_id: entry.request_id,
        details: serde_json::from_str(&entry.details).unwrap_or(serde_json::Value::Null),
        prev_hash: entry.prev_hash,
        hash: entry.hash,
    }
}

fn parse_time(name: &str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    value
        .map(|text| {
            OffsetDateTime::parse(text, &Rfc3339)
                .map(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX))
                .map_err(|_| {
                    ApiError::new(ErrorCode::Invalid, format!("{name}: not an RFC 3339 time"))
                })
        })
        .transpose()
}

/// `GET /v1/audit?room=&actor=&action=&from=&until=&after_seq=&limit=`.
pub(super) async fn list(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    policy::decide(
        Caller::Token(&identity),
        Act::ReadAudit,
        Purpose::Oversight,
        Resource::Nothing,
    )?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let filter = AuditFilter {
        target: query.room.map(|room| format!("room:{room}")),
        actor: query.actor,
        action: query.action,
        from_ms: parse_time("from", query.from.as_deref())?,
        until_ms: parse_time("until", query.until.as_deref())?,
        after_seq: query.after_seq.unwrap_or(0),
        limit,
    };
    let entries = state.store.audit_page(&filter).await?;
    let next_after_seq = (entries.len() as u64 == limit)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    Ok(Json(AuditPage {
        entries: entries.into_iter().map(view).collect(),
        next_after_seq,
    }))
}
