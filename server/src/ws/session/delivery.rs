//! Delivery: live events in seq order (a gap is filled from the database first), ephemeral
//! frames, room and grant changes from the hub, and `resume`. See the module doc of
//! [`super`] for the cursor rules.

use super::Session;
use crate::hub::Outbound;
use crate::policy;
use crate::service::{Failure, Timeline};
use crate::ws::writer::Gone;
use axum::extract::ws::Utf8Bytes;
use std::collections::BTreeMap;
use workroom_protocol::{ErrorCode, Role, RoomId, ServerFrame};

impl Session {
    pub(super) async fn on_outbound(&mut self, item: Outbound) -> Result<(), Gone> {
        self.apply_outbound(item).await?;
        // Write whatever else is queued before flushing once.
        for _ in 0..64 {
            match self.rx.try_recv() {
                Ok(item) => self.apply_outbound(item).await?,
                Err(_) => break,
            }
        }
        self.writer.flush().await
    }

    async fn apply_outbound(&mut self, item: Outbound) -> Result<(), Gone> {
        match item {
            Outbound::Event(event) => {
                let (room, seq) = (&event.room, event.seq);
                let Some(next) = self.rooms.get(room).map(|r| r.next_seq) else {
                    return Ok(());
                };
                // A live view never outlasts its grant, even within one batch of frames.
                if self.watch_expired(room) {
                    return self.end_watch(room, "expired", None).await;
                }
                if !policy::readable_stored(event.purpose, self.purpose) {
                    if let Some(state) = self.rooms.get_mut(room)
                        && state.next_seq == seq
                    {
                        // Passed over, not delivered: it does not count as a delivery.
                        if state.delivered_from == seq {
                            state.delivered_from = seq + 1;
                        }
                        state.next_seq = seq + 1;
                    }
                    return Ok(());
                }
                if seq < next {
                    return Ok(());
                }
                if seq > next {
                    self.replay(room, next - 1, Some(seq - 1)).await?;
                }
                if let Some(state) = self.rooms.get_mut(room)
                    && state.next_seq == seq
                {
                    state.next_seq = seq + 1;
                    return self.writer.feed(event.text.clone()).await;
                }
                Ok(())
            }
            Outbound::Ephemeral(frame) => {
                // Only while this connection still follows the room (a live view that just
                // ended, a room just lost), only data this session may read (C5), and
                // presence only for the room's members (C3).
                let role = self.identity.role();
                if !self.rooms.contains_key(&frame.room)
                    || !policy::session_receives(role, frame.purpose)
                    || (frame.presence && !policy::session_receives_presence(role))
                {
                    return Ok(());
                }
                self.writer.feed(frame.text.clone()).await
            }
            Outbound::RoomClosed(room) => {
                if let Some(state) = self.rooms.get_mut(&room) {
                    if let Some(access) = &mut state.access {
                        access.closed = true;
                    }
                    return self.writer.frame(&ServerFrame::RoomClosed { room }).await;
                }
                Ok(())
            }
            // Only members follow rooms through their accounts; a moderator's session sees a
            // room only through a grant.
            Outbound::RoomsChanged if self.identity.role() == Role::Member => {
                self.refresh_rooms().await
            }
            Outbound::RoomsChanged => Ok(()),
            Outbound::Revoked(revocation) => {
                let identity = &self.identity;
                if !revocation.covers(identity.jti(), identity.issued_at()) {
                    return Ok(());
                }
                crate::metrics::error(ErrorCode::Unauthorized);
                let _ = self
                    .writer
                    .frame(&ServerFrame::error(
                        None,
                        ErrorCode::Unauthorized,
                        "token revoked",
                    ))
                    .await;
                self.writer
                    .close(crate::ws::writer::CLOSE_POLICY, "token revoked")
                    .await;
                Err(Gone)
            }
            Outbound::GrantEnded(ended) => {
                let room = self.watched_room(&ended.grant);
                match room {
                    Some(room) => self.end_watch(&room, ended.reason, None).await,
                    None => Ok(()),
                }
            }
        }
    }

    /// The proof that this session reads `room`'s timeline: a member's through their
    /// access, or a moderator's live view.
    fn timeline(&self, room: &RoomId) -> Option<Timeline> {
        let state = self.rooms.get(room)?;
        if let Some(watch) = &state.watch {
            return Some(Timeline::Watch(watch.view.clone()));
        }
        self.room_read(room).ok().map(Timeline::Member)
    }

    /// Send stored events of `room` after `after_seq` (up to `until`, inclusive) in order,
    /// advancing the cursor. `false` when the database failed part of the way (the client
    /// got an `error` saying so).
    async fn replay(
        &mut self,
        room: &RoomId,
        after_seq: u64,
        until: Option<u64>,
    ) -> Result<bool, Gone> {
        let Some(timeline) = self.timeline(room) else {
            return Ok(true);
        };
        let mut after = after_seq;
        loop {
            let page = self
                .state
                .service
                .replay(&timeline, room, after, self.purpose)
                .await;
            let page = match page {
                Ok(page) => page,
                Err(failure) => {
                    tracing::error!(error = %failure, "replay failed");
                    let unavailable = Failure::new(
                        workroom_protocol::ErrorCode::Unavailable,
                        "storage is unavailable; resume later",
                    );
                    self.fail(None, unavailable).await?;
                    return Ok(false);
                }
            };
            for (seq, frame) in page.events {
                if until.is_some_and(|u| seq > u) {
                    return Ok(true);
                }
                after = seq;
                if let Some(state) = self.rooms.get_mut(room) {
                    state.next_seq = state.next_seq.max(seq + 1);
                }
                // An item collected for another purpose is skipped (its seq still counts).
                if let Some(frame) = frame {
                    self.writer.feed(frame).await?;
                }
            }
            if !page.full || until.is_some_and(|u| after >= u) {
                return Ok(true);
            }
        }
    }

    /// Replay each room from the client's last seen seq, never sending again what this
    /// connection already delivered.
    ///
    /// When nothing was delivered since `hello` (the usual case: the client resumes right
    /// away), the cursor moves back to the client's position and everything from there is
    /// replayed, so the room's stream stays in order. When live events already went out
    /// (they were committed between `hello` and this request), only the seqs before them
    /// are replayed: every seq still arrives exactly once, but those older ones come after
    /// the newer live ones (the client orders by seq).
    pub(super) async fn on_resume(
        &mut self,
        id: Option<String>,
        rooms: BTreeMap<RoomId, u64>,
    ) -> Result<(), Gone> {
        // A replay reads and writes a lot: a user runs few at once.
        let Some(_running) = self
            .state
            .service
            .rate_limits()
            .start_resume(self.identity.user())
        else {
            let refused = Failure::rate_limited(
                1000,
                "too many resumes running for this user; retry in 1000 ms",
            );
            return self.fail(id, refused).await;
        };
        let cap = self.state.config.limits.resume_max_events as u64;
        let mut truncated = BTreeMap::new();
        for (room, last_seen) in rooms {
            if let Err(failure) = self.room_read(&room) {
                self.fail(id.clone(), failure).await?;
                continue;
            }
            let Some(state) = self.rooms.get_mut(&room) else {
                continue;
            };
            let from = last_seen.saturating_add(1);
            if state.next_seq == state.delivered_from {
                let old_next = state.next_seq;
                // At most `cap` of the newest events are replayed; the older ones are for
                // `history`, so the live stream still continues in order from here.
                let start = from.max(old_next.saturating_sub(cap)).min(old_next);
                if start > from {
                    truncated.insert(room.clone(), start);
                }
                state.next_seq = start;
                state.delivered_from = start;
                self.replay(&room, (start - 1).max(last_seen), None).await?;
                if let Some(state) = self.rooms.get_mut(&room) {
                    state.next_seq = state.next_seq.max(start);
                }
            } else {
                if from < state.delivered_from {
                    // Only once all of them went out: after a failure part of the way, a
                    // later resume from the client's last seen seq sends the rest.
                    let until = state.delivered_from - 1;
                    let start = from.max(state.delivered_from.saturating_sub(cap));
                    if start > from {
                        truncated.insert(room.clone(), start);
                    }
                    if self.replay(&room, start - 1, Some(until)).await?
                        && let Some(state) = self.rooms.get_mut(&room)
                    {
                        state.delivered_from = start;
                    }
                }
                // Then whatever this connection has not delivered yet: nothing when it is
                // caught up (one empty read), the rest of a first replay that failed part
                // of the way otherwise, which the live path would fill only when the
                // room's next event arrives.
                let next = self.rooms.get(&room).map_or(from, |s| s.next_seq);
                self.replay(&room, next.max(from) - 1, None).await?;
            }
        }
        self.writer
            .feed(Utf8Bytes::from(
                ServerFrame::Resumed { id, truncated }.to_json(),
            ))
            .await?;
        self.writer.flush().await
    }
}
