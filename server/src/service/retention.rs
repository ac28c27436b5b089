//! Retention of closed workrooms (C10): the marketplace (service token) or an admin reads a
//! room's retention and purge date, changes its own period, or asks for its purge now. The
//! purge itself runs in the lifecycle task (`tasks/lifecycle.rs`), woken here.

use super::validate::check_id;
use super::{Failure, Service};
use crate::auth::Identity;
use crate::events::rfc3339;
use crate::policy::{self, Act, Caller, Resource};
use workroom_protocol::lifecycle::{PurgeResult, PurgedCounts, RetentionPut, RetentionView};
use workroom_protocol::{Purpose, Role};
use workroom_storage::RoomRetention;

/// The longest retention a room may be given (ten years).
const MAX_RETENTION_SECS: u64 = 10 * 366 * 86_400;

/// The purpose a retention act serves: the marketplace's participation, an admin's
/// operations.
fn purpose_of(identity: &Identity) -> Purpose {
    match identity.role() {
        Role::Admin => Purpose::Operations,
        _ => Purpose::Participation,
    }
}

fn counts(retention: &RoomRetention) -> PurgedCounts {
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    PurgedCounts {
        messages: n(retention.counts.messages),
        files: n(retention.counts.files),
        bytes: n(retention.counts.bytes),
    }
}

impl Service {
    fn retention_view(&self, retention: &RoomRetention) -> RetentionView {
        let default = i64::try_from(self.config.retention.closed_room_secs).unwrap_or(i64::MAX);
        RetentionView {
            room: retention.room.clone(),
            retention_secs: retention.retention_secs.and_then(|s| u64::try_from(s).ok()),
            effective_secs: retention
                .retention_secs
                .and_then(|s| u64::try_from(s).ok())
                .unwrap_or(self.config.retention.closed_room_secs),
            closed_at: retention.closed_at.map(rfc3339),
            purge_at: retention.purge_at(default).map(rfc3339),
            purged_at: retention.purged_at.map(rfc3339),
            purged: retention.purge_started_at.map(|_| counts(retention)),
        }
    }

    async fn retention_of(&self, room: &str) -> Result<RoomRetention, Failure> {
        check_id("room", room)?;
        self.store
            .room_retention(room)
            .await?
            .ok_or_else(|| Failure::not_found("no such room"))
    }

    /// A room's retention and purge date.
    pub async fn room_retention(
        &self,
        identity: &Identity,
        room: &str,
    ) -> Result<RetentionView, Failure> {
        policy::decide(
            Caller::Token(identity),
            Act::ReadRetention,
            purpose_of(identity),
            Resource::Nothing,
        )?;
        Ok(self.retention_view(&self.retention_of(room).await?))
    }

    /// Set (or clear) a room's own retention. Audited (`retention.changed`).
    pub async fn set_room_retention(
        &self,
        identity: &Identity,
        room: &str,
        body: &RetentionPut,
    ) -> Result<RetentionView, Failure> {
        let purpose = purpose_of(identity);
        self.allow(identity, Act::ChangeRetention, purpose)?;
        check_id("room", room)?;
        if body.retention_secs.is_some_and(|s| s > MAX_RETENTION_SECS) {
            return Err(Failure::invalid(format!(
                "retention_secs: must be at most {MAX_RETENTION_SECS} (ten years)"
            )));
        }
        let secs = body.retention_secs.and_then(|s| i64::try_from(s).ok());
        let retention = self
            .store
            .set_room_retention(room, secs, &identity.actor(), purpose)
            .await?;
        // A shorter period may have made the room due now.
        self.lifecycle.notify_one();
        Ok(self.retention_view(&retention))
    }

    /// Purge a closed room now: its retention becomes zero (audited) and the lifecycle task
    /// purges it at once, or when the last legal hold covering it lifts. `conflict` for a
    /// room that is not closed.
    pub async fn purge_room_now(
        &self,
        identity: &Identity,
        room: &str,
    ) -> Result<PurgeResult, Failure> {
        let purpose = purpose_of(identity);
        self.allow(identity, Act::ChangeRetention, purpose)?;
        let current = self.retention_of(room).await?;
        if current.purged_at.is_some() {
            return Ok(PurgeResult {
                room: current.room.clone(),
                state: "purged".into(),
                purged: Some(counts(&current)),
            });
        }
        if current.closed_at.is_none() {
            return Err(Failure::new(
                workroom_protocol::ErrorCode::Conflict,
                "the workroom is open: only a closed workroom can be purged",
            ));
        }
        if current.purge_started_at.is_none() {
            self.store
                .set_room_retention(room, Some(0), &identity.actor(), purpose)
                .await?;
        }
        let state = if self.store.is_room_held(room).await? && current.purge_started_at.is_none() {
            "deferred"
        } else {
            "purging"
        };
        self.lifecycle.notify_one();
        Ok(PurgeResult {
            room: current.room,
            state: state.into(),
            purged: None,
        })
    }
}
