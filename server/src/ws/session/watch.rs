//! A moderator's live view of a workroom under a grant (C6).
//!
//! `watch` asks the policy (grant theirs, active, scope `live`), records
//! `moderation.live_view_started`, then subscribes the session to the room like a member's:
//! the same cursor delivers every event in order. The view ends, and
//! `moderation.live_view_ended` is recorded with the reason, when the moderator unwatches,
//! disconnects, or the grant ends: revocation reaches the session through the hub at once,
//! expiry through a timer at the grant's end, and a revocation made on another node through
//! a re-check on every ping tick. After the end the room is unsubscribed before the
//! `watch_ended` frame is written, so nothing of the room follows it.

use super::{Gone, RoomState, Session, Watch};
use crate::events::rfc3339;
use crate::policy::{self, Act, Caller, Resource};
use serde_json::json;
use workroom_protocol::moderation::GrantState;
use workroom_protocol::{ErrorCode, Purpose, RoomId, ServerFrame};
use workroom_storage::audit::AuditAction;

impl Session {
    pub(super) fn watching(&self) -> bool {
        self.rooms.values().any(|r| r.watch.is_some())
    }

    /// Whether `room` is watched under a grant that has run out.
    pub(super) fn watch_expired(&self, room: &RoomId) -> bool {
        self.rooms
            .get(room)
            .and_then(|r| r.watch.as_ref())
            .is_some_and(|w| w.expires_at <= self.state.clock.now_ms())
    }

    pub(super) fn watched_room(&self, grant: &str) -> Option<RoomId> {
        self.rooms
            .iter()
            .find(|(_, r)| r.watch.as_ref().is_some_and(|w| w.grant == grant))
            .map(|(room, _)| room.clone())
    }

    /// When the first live view runs out, in Unix ms (never when there is none).
    pub(super) fn next_watch_expiry(&self) -> i64 {
        self.rooms
            .values()
            .filter_map(|r| r.watch.as_ref().map(|w| w.expires_at))
            .min()
            .unwrap_or(i64::MAX)
    }

    pub(super) async fn on_watch(
        &mut self,
        id: Option<String>,
        grant_id: String,
    ) -> Result<(), Gone> {
        let grant = match self.state.store.grant(&grant_id).await {
            Ok(Some(grant)) => grant,
            Ok(None) => {
                return self.error(id, ErrorCode::NotFound, "no such grant").await;
            }
            Err(e) => return self.storage_failed(id, "loading a grant", &e).await,
        };
        let now = self.state.clock.now_ms();
        let view = match self.state.proofs.watch(&self.identity, &grant, now) {
            Ok(view) => view,
            Err(denied) => return self.error(id, denied.code, denied.message).await,
        };
        let Ok(room) = RoomId::try_from(grant.room_id.as_str()) else {
            return self.error(id, ErrorCode::NotFound, "no such room").await;
        };
        if self.rooms.contains_key(&room) {
            return self
                .error(id, ErrorCode::Conflict, "already watching this workroom")
                .await;
        }
        let last_seq = match self.state.store.room_last_seq(room.as_str()).await {
            Ok(Some(seq)) => seq,
            Ok(None) => return self.error(id, ErrorCode::NotFound, "no such room").await,
            Err(e) => return self.storage_failed(id, "loading a room", &e).await,
        };
        let entry = self.identity.case_entry(
            AuditAction::ModerationLiveViewStarted,
            room.as_str(),
            Purpose::Moderation,
            &grant.case_id,
            json!({ "grant": grant.id }),
        );
        let view = match self.state.committers.record_read(view, entry).await {
            Ok(view) => view,
            Err(e) => {
                tracing::error!(error = %e, "recording the live view failed");
                return self
                    .error(
                        id,
                        ErrorCode::Unavailable,
                        "the audit trail is unavailable; not watching",
                    )
                    .await;
            }
        };
        // Events committed between reading `last_seq` and subscribing show up as a gap at
        // the first live event and are filled from the database.
        self.state.hub.subscribe(&room, &self.conn);
        self.rooms.insert(
            room.clone(),
            RoomState::from_end(
                last_seq,
                None,
                Some(Watch {
                    view,
                    grant: grant.id.clone(),
                    case_id: grant.case_id.clone(),
                    expires_at: grant.expires_at,
                }),
            ),
        );
        self.writer
            .frame(&ServerFrame::Watching {
                id,
                room,
                grant: grant.id,
                expires_at: rfc3339(grant.expires_at),
            })
            .await
    }

    pub(super) async fn on_unwatch(
        &mut self,
        id: Option<String>,
        grant: String,
    ) -> Result<(), Gone> {
        // Ending one's own view needs nothing but the session (the grant may be gone).
        let _ = policy::decide(
            Caller::Token(&self.identity),
            Act::OpenSession,
            policy::session_purpose(self.identity.role),
            Resource::Nothing,
        );
        match self.watched_room(&grant) {
            Some(room) => self.end_watch(&room, "unwatched", id).await,
            None => {
                self.error(id, ErrorCode::NotFound, "not watching under that grant")
                    .await
            }
        }
    }

    /// Cut off a live view: unsubscribe, tell the moderator why, record the end.
    pub(super) async fn end_watch(
        &mut self,
        room: &RoomId,
        reason: &'static str,
        id: Option<String>,
    ) -> Result<(), Gone> {
        let Some(watch) = self.rooms.get_mut(room).and_then(|r| r.watch.take()) else {
            return Ok(());
        };
        self.rooms.remove(room);
        self.state.hub.unsubscribe(room, self.conn.id);
        let written = self
            .writer
            .frame(&ServerFrame::WatchEnded {
                id,
                room: room.clone(),
                grant: watch.grant.clone(),
                reason: reason.to_string(),
            })
            .await;
        let entry = self.identity.case_entry(
            AuditAction::ModerationLiveViewEnded,
            room.as_str(),
            Purpose::Moderation,
            &watch.case_id,
            json!({ "grant": watch.grant, "reason": reason }),
        );
        if let Err(e) = self.state.committers.record(vec![entry]).await {
            tracing::error!(error = %e, grant = %watch.grant, "recording the end of a live view failed");
        }
        written
    }

    pub(super) async fn end_expired_watches(&mut self) -> Result<(), Gone> {
        let now = self.state.clock.now_ms();
        let expired: Vec<RoomId> = self
            .rooms
            .iter()
            .filter(|(_, r)| r.watch.as_ref().is_some_and(|w| w.expires_at <= now))
            .map(|(room, _)| room.clone())
            .collect();
        for room in expired {
            self.end_watch(&room, "expired", None).await?;
        }
        Ok(())
    }

    /// Re-read every watched grant; end the views whose grant is no longer active.
    pub(super) async fn recheck_watches(&mut self) -> Result<(), Gone> {
        let watched: Vec<(RoomId, String)> = self
            .rooms
            .iter()
            .filter_map(|(room, r)| r.watch.as_ref().map(|w| (room.clone(), w.grant.clone())))
            .collect();
        let now = self.state.clock.now_ms();
        for (room, grant_id) in watched {
            let reason = match self.state.store.grant(&grant_id).await {
                Ok(Some(grant)) => match grant.state(now) {
                    GrantState::Active => continue,
                    GrantState::Expired => "expired",
                    GrantState::Revoked | GrantState::Pending => "revoked",
                },
                Ok(None) => "revoked",
                Err(e) => {
                    tracing::warn!(error = %e, "re-checking a grant failed; keeping the view until it expires");
                    continue;
                }
            };
            self.end_watch(&room, reason, None).await?;
        }
        Ok(())
    }

    /// The session is over: record the end of every view still open.
    pub(super) async fn end_all_watches(&mut self, reason: &'static str) {
        let watched: Vec<RoomId> = self
            .rooms
            .iter()
            .filter(|(_, r)| r.watch.is_some())
            .map(|(room, _)| room.clone())
            .collect();
        for room in watched {
            let _ = self.end_watch(&room, reason, None).await;
        }
    }
}
