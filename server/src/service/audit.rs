//! The audit trail for auditors (oversight): filtered and paged by seq.

use super::{Failure, Service};
use crate::audit::AuditError;
use crate::auth::Identity;
use crate::events::rfc3339;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use workroom_protocol::ErrorCode;
use workroom_storage::audit::{AuditEntry, AuditFilter};

const DEFAULT_LIMIT: u64 = 100;
/// The retry hint when a verification is already running.
const VERIFY_RETRY_MS: u64 = 2000;
const MAX_LIMIT: u64 = 1000;

/// Which entries: every given field must match.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// A workroom id: entries whose target is that room.
    pub room: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    /// RFC 3339, inclusive.
    pub from: Option<String>,
    /// RFC 3339, exclusive.
    pub until: Option<String>,
    /// Entries after this seq (paging: pass the last seq of the previous page).
    pub after_seq: Option<u64>,
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct AuditEntryView {
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

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    entries: Vec<AuditEntryView>,
    /// Pass as `after_seq` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_after_seq: Option<u64>,
}

pub(super) fn entry_view(entry: AuditEntry) -> AuditEntryView {
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

pub(super) fn parse_time(name: &str, value: Option<&str>) -> Result<Option<i64>, Failure> {
    value
        .map(|text| {
            OffsetDateTime::parse(text, &Rfc3339)
                .map(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX))
                .map_err(|_| Failure::invalid(format!("{name}: not an RFC 3339 time")))
        })
        .transpose()
}

/// The result of checking the whole trail: `intact`, with what it covered, or the first
/// fault found (an entry altered, removed or reordered, a checkpoint forged or rewritten).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditVerification {
    pub intact: bool,
    /// Entries checked (when intact).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<u64>,
    /// Signed checkpoints checked (when intact).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoints: Option<u64>,
    /// Entries after the last checkpoint: a chain, but their truncation would go unseen
    /// until the next checkpoint (when intact).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unanchored: Option<u64>,
    /// What is wrong, naming the entry (when not intact).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl Service {
    /// Check the whole trail and every signed checkpoint, as `workroom audit verify` does.
    /// One verification at a time on this node: each reads the whole trail, so another
    /// asked meanwhile is refused with `rate_limited` rather than queued. A broken trail is a
    /// result, not an error: only a storage failure fails the call.
    pub async fn verify_audit(&self, identity: &Identity) -> Result<AuditVerification, Failure> {
        // Reading the whole trail is the auditor's read of it.
        let _read = self.proofs.audit(identity)?;
        let _one_at_a_time = self.audit_verifications.try_acquire().map_err(|_| {
            Failure::rate_limited(
                VERIFY_RETRY_MS,
                "a verification of the audit trail is running on this node; ask again when it ends",
            )
        })?;
        match crate::audit::verify(&self.store, &self.audit_keys).await {
            Ok(report) => Ok(AuditVerification {
                intact: true,
                entries: Some(report.entries),
                checkpoints: Some(report.checkpoints),
                unanchored: Some(report.unanchored),
                problem: None,
            }),
            Err(AuditError::Broken(fault)) => Ok(AuditVerification {
                intact: false,
                entries: None,
                checkpoints: None,
                unanchored: None,
                problem: Some(fault.to_string()),
            }),
            Err(AuditError::Storage(e)) => Err(e.into()),
            Err(other) => Err(Failure::new(ErrorCode::Internal, other.to_string())),
        }
    }

    /// A page of the audit trail, oldest first.
    pub async fn audit_page(
        &self,
        identity: &Identity,
        query: AuditQuery,
    ) -> Result<AuditPage, Failure> {
        let read = self.proofs.audit(identity)?;
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
        let entries = self.store.audit_page(&read, &filter).await?;
        let next_after_seq = (entries.len() as u64 == limit)
            .then(|| entries.last().map(|e| e.seq))
            .flatten();
        Ok(AuditPage {
            entries: entries.into_iter().map(entry_view).collect(),
            next_after_seq,
        })
    }
}
