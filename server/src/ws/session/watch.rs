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

use super::{RoomState, Session, Watch};
use crate::events::rfc3339;
use crate::ws::writer::Gone;
use workroom_protocol::moderation::GrantState;
use workroom_protocol::{ErrorCode, RoomId, ServerFrame};

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
        let service = &self.state.service;
        let request = match service.watch_request(&self.identity, &grant_id).await {
            Ok(request) => request,
            Err(failure) => return self.fail(id, failure).await,
        };
        if self.rooms.contains_key(&request.room) {
            return self
                .error(id, ErrorCode::Conflict, "already watching this workroom")
                .await;
        }
        let room = request.room.clone();
        let watching = match service.begin_watch(&self.identity, request).await {
            Ok(watching) => watching,
            Err(failure) => return self.fail(id, failure).await,
        };
        // Events committed between reading `last_seq` and subscribing show up as a gap at
        // the first live event and are filled from the database.
        self.state
            .hub
            .subscribe(&room, &self.conn, watching.last_seq);
        let frame = ServerFrame::Watching {
            id,
            room: room.clone(),
            grant: watching.grant.clone(),
            expires_at: rfc3339(watching.expires_at),
        };
        self.rooms.insert(
            room,
            RoomState::from_end(
                watching.last_seq,
                None,
                Some(Watch {
                    view: watching.view,
                    grant: watching.grant,
                    case_id: watching.case_id,
                    expires_at: watching.expires_at,
                }),
            ),
        );
        self.writer.frame(&frame).await
    }

    pub(super) async fn on_unwatch(
        &mut self,
        id: Option<String>,
        grant: String,
    ) -> Result<(), Gone> {
        // Ending one's own view needs nothing but the session (the grant may be gone).
        if let Err(failure) = self.state.service.within_session(&self.identity) {
            return self.fail(id, failure).await;
        }
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
        self.state
            .service
            .end_watch(&self.identity, room, (&watch.grant, &watch.case_id), reason)
            .await;
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
        for (room, grant_id) in watched {
            let reason = match self.state.service.grant_state(&grant_id).await {
                Ok(Some(GrantState::Active)) => continue,
                Ok(Some(GrantState::Expired)) => "expired",
                Ok(Some(GrantState::Revoked | GrantState::Pending)) | Ok(None) => "revoked",
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
