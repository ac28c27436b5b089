//! Timelines, read back: the one paging of history (a member's `history`, over HTTPS or a
//! frame, and a moderator's under a grant) and the pages a session replays on resume and
//! gap fill. Every read takes the proof of its reader; an item collected for a purpose the
//! reader does not serve is left out (its seq still counts, so cursors move past it).

use super::{Failure, Service};
use crate::events::{event_frame, message_view};
use crate::policy;
use axum::extract::ws::Utf8Bytes;
use workroom_protocol::frames::{HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT, MessageView};
use workroom_protocol::{Purpose, RoomId};
use workroom_storage::StoredEvent;
use workroom_storage::proof::{LiveView, RoomRead, TimelineRead};

/// Events read from the database per page when resuming or filling a gap.
pub const REPLAY_PAGE: u64 = 500;

/// Which page of history: the newest `limit` messages before `before_seq` (the newest of
/// all without it). The limit is clamped to `1..=HISTORY_MAX_LIMIT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub before_seq: Option<u64>,
    pub limit: u32,
}

impl Window {
    pub fn new(before_seq: Option<u64>, limit: Option<u32>) -> Window {
        Window {
            before_seq,
            limit: limit
                .unwrap_or(HISTORY_DEFAULT_LIMIT)
                .clamp(1, HISTORY_MAX_LIMIT),
        }
    }
}

/// The proof a session reads a room's timeline with: a member's, or a moderator's live view.
#[derive(Debug, Clone)]
pub enum Timeline {
    Member(RoomRead),
    Watch(LiveView),
}

/// One page of a replay.
#[derive(Debug, Default)]
pub struct Replay {
    /// Every event of the page in seq order, with its frame when the reader may see it.
    pub events: Vec<(u64, Option<Utf8Bytes>)>,
    /// The page was full: more may follow.
    pub full: bool,
}

impl Service {
    /// One page of stored events, oldest first: the paging every history read uses.
    pub(super) async fn page(
        &self,
        read: &impl TimelineRead,
        window: Window,
    ) -> Result<Vec<StoredEvent>, Failure> {
        Ok(self
            .store
            .history(
                read,
                window.before_seq.unwrap_or(u64::MAX),
                u64::from(window.limit),
            )
            .await?)
    }

    /// A page of a member's history, as `history` shows it.
    pub async fn history(
        &self,
        read: &RoomRead,
        window: Window,
    ) -> Result<(RoomId, Vec<MessageView>), Failure> {
        let room = read.room_id().clone();
        let rows = self.page(read, window).await?;
        let messages = rows
            .iter()
            .filter(|e| policy::readable_stored(e.purpose, Purpose::Participation))
            .map(|e| message_view(&room, e))
            .collect();
        Ok((room, messages))
    }

    /// The stored events of a timeline after `after`, as frames for a reader serving
    /// `purpose`.
    pub async fn replay(
        &self,
        timeline: &Timeline,
        room: &RoomId,
        after: u64,
        purpose: Purpose,
    ) -> Result<Replay, Failure> {
        let page = match timeline {
            Timeline::Member(read) => self.store.events_after(read, after, REPLAY_PAGE).await,
            Timeline::Watch(view) => self.store.events_after(view, after, REPLAY_PAGE).await,
        }?;
        Ok(Replay {
            full: page.len() as u64 == REPLAY_PAGE,
            events: page
                .iter()
                .map(|event| {
                    let frame = policy::readable_stored(event.purpose, purpose)
                        .then(|| Utf8Bytes::from(event_frame(room, event).to_json()));
                    (event.seq, frame)
                })
                .collect(),
        })
    }

    /// Events of `room` this node's sessions have not been handed yet, `after..=until` but
    /// at most the newest `limit` of them, with their frames and the purposes they were
    /// collected for: what the relay hands the hub for another node's commits (C15).
    /// Each session keeps only what it may read, as with local commits.
    pub async fn relay_page(
        &self,
        room: &RoomId,
        after: u64,
        until: u64,
        limit: u64,
    ) -> Result<Vec<RelayedEvent>, Failure> {
        let read = self.proofs.node_relay(room);
        let from = after.max(until.saturating_sub(limit));
        let rows = self
            .store
            .events_after(&read, from, until.saturating_sub(from))
            .await?;
        Ok(rows
            .iter()
            .filter(|e| e.seq <= until)
            .map(|e| RelayedEvent {
                seq: e.seq,
                text: Utf8Bytes::from(event_frame(room, e).to_json()),
                purpose: e.purpose,
            })
            .collect())
    }

    /// The last committed seq of each of these rooms (counters only).
    pub async fn room_heads(&self, rooms: &[RoomId]) -> Result<Vec<(RoomId, u64)>, Failure> {
        Ok(self.store.room_heads(rooms).await?)
    }
}

/// An event another node committed, ready for this node's hub.
#[derive(Debug)]
pub struct RelayedEvent {
    pub seq: u64,
    pub text: Utf8Bytes,
    pub purpose: Option<Purpose>,
}
