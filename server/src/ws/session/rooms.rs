//! A member's room frames: `history`, `members`, `read`, `typing`; and following the
//! member's rooms as their memberships change (`room_opened`, `room_removed`).

use super::{RoomState, Session};
use crate::service::{Failure, Window};
use crate::ws::writer::Gone;
use axum::extract::ws::Utf8Bytes;
use workroom_protocol::{RoomId, ServerFrame};
use workroom_storage::RoomAccessRow;
use workroom_storage::proof::RoomRead;

impl Session {
    /// Listen to a room from its current end onwards, present in it (only members have
    /// rooms of their own; a moderator's live view is tracked in `watch`).
    pub(super) fn track_room(&mut self, room: &RoomId, access: RoomAccessRow) {
        self.state.hub.subscribe(room, &self.conn, access.last_seq);
        self.rooms.insert(
            room.clone(),
            RoomState::from_end(access.last_seq, Some(access), None),
        );
        self.state
            .hub
            .member_joined(room, self.identity.user(), self.conn.id);
    }

    /// The proof that the caller reads `room` as a member (history, resume, members),
    /// through the access this session holds for it.
    pub(super) fn room_read(&self, room: &RoomId) -> Result<RoomRead, Failure> {
        let access = self.rooms.get(room).and_then(|r| r.access.as_ref());
        self.state.service.room_read(&self.identity, access)
    }

    pub(super) async fn on_history(
        &mut self,
        id: Option<String>,
        room: RoomId,
        before_seq: Option<u64>,
        limit: Option<u32>,
    ) -> Result<(), Gone> {
        let history = match self.room_read(&room) {
            Ok(read) => {
                let window = Window::new(before_seq, limit);
                self.state.service.history(&read, window).await
            }
            Err(failure) => Err(failure),
        };
        match history {
            Ok((room, messages)) => {
                self.writer
                    .frame(&ServerFrame::History { id, room, messages })
                    .await
            }
            Err(failure) => self.fail(id, failure).await,
        }
    }

    pub(super) async fn on_read(
        &mut self,
        id: Option<String>,
        room: RoomId,
        seq: u64,
    ) -> Result<(), Gone> {
        let stored = match self.room_read(&room) {
            Ok(read) => {
                let except = Some(self.conn.id);
                let service = &self.state.service;
                service.mark_read(&self.identity, &read, seq, except).await
            }
            Err(failure) => Err(failure),
        };
        match stored {
            Ok(seq) => {
                let frame = ServerFrame::Read {
                    id,
                    room,
                    user: self.identity.user().to_string(),
                    seq,
                };
                self.writer.frame(&frame).await
            }
            Err(failure) => self.fail(id, failure).await,
        }
    }

    pub(super) async fn on_typing(&mut self, id: Option<String>, room: RoomId) -> Result<(), Gone> {
        let access = self.rooms.get(&room).and_then(|r| r.access.as_ref());
        let except = Some(self.conn.id);
        match self
            .state
            .service
            .typing(&self.identity, access, &room, except)
        {
            Ok(()) => Ok(()),
            Err(failure) => self.fail(id, failure).await,
        }
    }

    pub(super) async fn on_members(
        &mut self,
        id: Option<String>,
        room: RoomId,
    ) -> Result<(), Gone> {
        let members = match self.room_read(&room) {
            Ok(read) => self.state.service.members(&read).await,
            Err(failure) => Err(failure),
        };
        match members {
            Ok(members) => {
                self.writer
                    .frame(&ServerFrame::Members { id, room, members })
                    .await
            }
            Err(failure) => self.fail(id, failure).await,
        }
    }

    /// Re-read the user's rooms after a membership change: subscribe to new ones, drop lost
    /// ones, update roles.
    pub(super) async fn refresh_rooms(&mut self) -> Result<(), Gone> {
        let rows = match self.state.service.session_rooms(&self.identity).await {
            Ok(rows) => rows,
            Err(failure) => {
                tracing::error!(error = %failure, "refreshing rooms failed");
                return Ok(());
            }
        };
        let mut seen = Vec::with_capacity(rows.len());
        for row in rows {
            let Some(summary) = self.state.service.room_summary(&row) else {
                continue;
            };
            seen.push(summary.id.clone());
            if let Some(state) = self.rooms.get_mut(&summary.id) {
                state.access = Some(row);
                continue;
            }
            self.track_room(&summary.id, row);
            self.writer
                .feed(Utf8Bytes::from(
                    ServerFrame::RoomOpened { room: summary }.to_json(),
                ))
                .await?;
        }
        let lost: Vec<RoomId> = self
            .rooms
            .iter()
            .filter(|(r, state)| state.access.is_some() && !seen.contains(r))
            .map(|(r, _)| r.clone())
            .collect();
        for room in lost {
            self.rooms.remove(&room);
            self.state.hub.unsubscribe(&room, self.conn.id);
            self.state.hub.member_left(&room, self.identity.user());
            self.writer
                .feed(Utf8Bytes::from(ServerFrame::RoomRemoved { room }.to_json()))
                .await?;
        }
        Ok(())
    }
}
