//! One WebSocket connection, from authentication to close: this file is its lifecycle (the
//! select loop, hello, dispatch); each family of frames has a file of its own: `rooms`
//! (history, members, read markers, typing, membership changes), `messages` (send, edit,
//! delete and their acks), `delivery` (live events, gap fill, resume), `watch` (a
//! moderator's live views). Every handler calls [`crate::service`] for what it does.
//!
//! The session task owns the socket and `select!`s over a closed set of inputs: shutdown,
//! a kick from the hub (queue overflow), token expiry, finished commits (acks), its bounded
//! outbound queue, the ping tick, and the socket. Nothing else writes to the socket.
//!
//! Delivery is driven by a per-room cursor (`next_seq`): a live event below the cursor is a
//! duplicate and dropped; one above it means something was missed (published before we
//! subscribed, or lost by a kick) and the gap is filled from the database first. Resume is
//! the same mechanism started from the client's last seen seq, except that it never sends
//! again what this connection already delivered (`delivered_from`). So a client sees every
//! seq of a room exactly once, in order; the one exception to the order is a resume read
//! after live events went out, whose older seqs then follow those newer ones.

mod delivery;
mod messages;
mod rooms;
mod watch;

use super::auth::authenticate_first_frame;
use super::writer::{
    CLOSE_GOING_AWAY, CLOSE_POLICY, CLOSE_TOO_SLOW, CLOSE_TRY_AGAIN_LATER, CLOSE_UNAVAILABLE, Gone,
    Writer, close_for_read_error,
};
use crate::app::AppState;
use crate::auth::Identity;
use crate::hub::{ConnHandle, Outbound};
use crate::listener::ConnWatch;
use crate::policy::guard;
use crate::ratelimit::{ConnectionLimit, Family, Slot};
use crate::service::{Failure, Post};
use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use futures_util::StreamExt;
use futures_util::stream::{FuturesOrdered, SplitStream};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use workroom_protocol::{ClientFrame, ErrorCode, Purpose, RoomId, ServerFrame};
use workroom_storage::proof::LiveView;
use workroom_storage::{AppendOutcome, RoomAccessRow};

type PendingAck = Pin<Box<dyn Future<Output = Reply> + Send>>;

/// A commit result on its way back to the client.
struct Reply {
    id: Option<String>,
    room: RoomId,
    result: Result<AppendOutcome, Failure>,
}

/// What the session knows about one of its rooms: a member's access, or a moderator's
/// live view under a grant.
struct RoomState {
    access: Option<RoomAccessRow>,
    watch: Option<Watch>,
    /// The next seq this connection should deliver.
    next_seq: u64,
    /// This connection has delivered every seq in `delivered_from..next_seq` (nothing when
    /// they are equal): a resume never sends those again.
    delivered_from: u64,
}

impl RoomState {
    /// A room followed from `last_seq` onwards: nothing delivered yet.
    fn from_end(last_seq: u64, access: Option<RoomAccessRow>, watch: Option<Watch>) -> RoomState {
        RoomState {
            access,
            watch,
            next_seq: last_seq + 1,
            delivered_from: last_seq + 1,
        }
    }
}

/// A moderator's live view of a room under a grant.
struct Watch {
    /// The proof, redeemed with the record of `moderation.live_view_started`.
    view: LiveView,
    grant: String,
    case_id: String,
    /// Unix ms at which the grant ends; the view is cut off then.
    expires_at: i64,
}

/// Authenticate (when the upgrade carried no token), then run the session.
pub(super) async fn run(
    socket: WebSocket,
    state: AppState,
    identity: Option<Identity>,
    conn: Option<crate::connlog::ClientConn>,
    watch: Option<Arc<ConnWatch>>,
    slot: Option<Slot>,
) {
    // Opening runs once and awaits the largest futures (authentication alone is 2.3 KiB):
    // boxed, so the task every connection keeps for its lifetime is sized by serving.
    // The connection's log entry and its listener watch live as long as the session, as
    // before the split.
    let opened = Box::pin(open(
        socket,
        state,
        identity,
        conn.as_ref(),
        watch.as_ref(),
        slot,
    ))
    .await;
    let Some((mut session, stream)) = opened else {
        return;
    };
    Box::pin(session.serve(stream)).await;
    Box::pin(session.end_all_watches("disconnected")).await;
    drop((conn, watch));
}

/// Authenticate (unless the upgrade did), take the user's session place and the session's
/// purpose, and register the connection; `None` when refused (the client was told why).
async fn open(
    socket: WebSocket,
    state: AppState,
    identity: Option<Identity>,
    conn: Option<&crate::connlog::ClientConn>,
    watch: Option<&Arc<ConnWatch>>,
    slot: Option<Slot>,
) -> Option<(Session, SplitStream<WebSocket>)> {
    let (sink, mut stream) = socket.split();
    let timeout = Duration::from_secs(state.config.limits.write_timeout_secs);
    let mut writer = Writer::new(sink, timeout);
    let identity = match identity {
        Some(identity) => identity,
        None => match authenticate_first_frame(&state, &mut stream, &mut writer).await {
            Some(identity) => {
                if let Some(conn) = conn {
                    state.connlog.user(conn, identity.user()).await;
                }
                if let Some(watch) = watch {
                    watch.authenticated();
                }
                identity
            }
            None => return None,
        },
    };
    // The upgrade took the user's session place when its token came with it.
    let slot = match slot.or_else(|| state.service.rate_limits().open_session(identity.user())) {
        Some(slot) => slot,
        None => {
            let refused =
                ServerFrame::rate_limited(None, TOO_MANY_SESSIONS_RETRY_MS, TOO_MANY_SESSIONS);
            let _ = writer.frame(&refused).await;
            writer.close(CLOSE_TRY_AGAIN_LATER, TOO_MANY_SESSIONS).await;
            return None;
        }
    };
    let purpose = match state.service.open_session(&identity) {
        Ok(purpose) => purpose,
        Err(refused) => {
            let _ = writer
                .frame(&ServerFrame::error(
                    None,
                    refused.code,
                    refused.message.as_ref(),
                ))
                .await;
            writer.close(CLOSE_POLICY, &refused.message).await;
            return None;
        }
    };
    let (tx, rx) = mpsc::channel(state.config.limits.outbound_queue);
    let conn = ConnHandle {
        id: state.hub.next_conn_id(),
        tx,
        kick: CancellationToken::new(),
    };
    state.open_sessions.fetch_add(1, Ordering::Relaxed);
    metrics::gauge!("workroom_connections").increment(1.0);
    state.hub.register_user(identity.user(), &conn);
    let limits = SessionLimits::new(&state, slot);
    let session = Session {
        limits,
        state,
        identity,
        purpose,
        conn,
        rx,
        writer,
        rooms: HashMap::new(),
        inflight: FuturesOrdered::new(),
        answered_error: false,
    };
    Some((session, stream))
}

/// What one session may spend (per-connection budgets) and the user's session place.
struct SessionLimits {
    frames: ConnectionLimit,
    writes: ConnectionLimit,
    typing: ConnectionLimit,
    _place: Slot,
}

impl SessionLimits {
    fn new(state: &AppState, place: Slot) -> SessionLimits {
        let limits = state.service.rate_limits();
        let config = limits.config();
        SessionLimits {
            frames: limits.connection(config.frames_per_connection),
            writes: limits.connection(config.writes_per_connection),
            typing: limits.connection(config.typing_per_connection),
            _place: place,
        }
    }
}

/// Told to a user at `rate_limits.sessions_per_user` (over HTTP: `429` on the upgrade).
pub(super) const TOO_MANY_SESSIONS: &str = "too many sessions for this user; close one first";
/// The hint with it: a place frees only when another session closes.
pub(super) const TOO_MANY_SESSIONS_RETRY_MS: u64 = 5000;

struct Session {
    limits: SessionLimits,
    state: AppState,
    identity: Identity,
    /// What this session's reads serve: participation for members, moderation for
    /// moderators.
    purpose: Purpose,
    conn: ConnHandle,
    rx: mpsc::Receiver<Outbound>,
    writer: Writer,
    rooms: HashMap<RoomId, RoomState>,
    /// Sends waiting for their commit, acknowledged in the order they were sent.
    inflight: FuturesOrdered<PendingAck>,
    /// Set when the frame being handled was answered with an error (see [`guard`]).
    answered_error: bool,
}

impl Drop for Session {
    fn drop(&mut self) {
        for (room, state) in &self.rooms {
            self.state.hub.unsubscribe(room, self.conn.id);
            if state.access.is_some() {
                self.state.hub.member_left(room, self.identity.user());
            }
        }
        self.state
            .hub
            .unregister_user(self.identity.user(), self.conn.id);
        self.state.open_sessions.fetch_sub(1, Ordering::Relaxed);
        metrics::gauge!("workroom_connections").decrement(1.0);
    }
}

impl Session {
    async fn serve(&mut self, mut stream: SplitStream<WebSocket>) {
        // Handlers that reach the database are boxed: their (large) futures then exist only
        // while a frame is being handled, instead of sizing every idle connection's task.
        if Box::pin(self.start()).await.is_err() {
            return;
        }
        let limits = &self.state.config.limits;
        let max_inflight = limits.max_inflight_per_connection;
        let ping_every = Duration::from_secs(limits.ping_interval_secs);
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
        let mut last_heard = Instant::now();
        let clock = self.state.clock.clone();
        let token_expiry_ms = i64::try_from(self.identity.expires_at())
            .unwrap_or(i64::MAX / 1000)
            .saturating_mul(1000);
        let expiry = clock.sleep_until(token_expiry_ms);
        tokio::pin!(expiry);
        let shutdown = self.state.shutdown.clone();
        let kick = self.conn.kick.clone();
        loop {
            let reading = self.inflight.len() < max_inflight;
            let step = tokio::select! {
                biased;
                () = shutdown.cancelled() => {
                    Box::pin(self.drain_inflight()).await;
                    self.writer.close(CLOSE_GOING_AWAY, "server shutting down").await;
                    return;
                }
                () = kick.cancelled() => {
                    self.writer
                        .close(CLOSE_TOO_SLOW, "too slow: reconnect and resume from your last seq")
                        .await;
                    return;
                }
                () = clock.sleep_until(self.next_watch_expiry()), if self.watching() => {
                    Box::pin(self.end_expired_watches()).await
                }
                () = &mut expiry => {
                    crate::metrics::error(ErrorCode::Unauthorized);
                    let _ = self
                        .writer
                        .frame(&ServerFrame::error(None, ErrorCode::Unauthorized, "token expired"))
                        .await;
                    self.writer.close(CLOSE_POLICY, "token expired").await;
                    return;
                }
                Some(reply) = self.inflight.next(), if !self.inflight.is_empty() => {
                    self.on_replies(reply).await
                }
                item = self.rx.recv() => match item {
                    Some(item) => Box::pin(self.on_outbound(item)).await,
                    None => Err(Gone),
                },
                _ = ping.tick() => {
                    if last_heard.elapsed() > ping_every * 2 {
                        self.writer.close(CLOSE_GOING_AWAY, "ping timeout").await;
                        return;
                    }
                    if self.watching() {
                        // Another node may have revoked a grant: check the live ones again.
                        if Box::pin(self.recheck_watches()).await.is_err() {
                            return;
                        }
                    }
                    self.writer.raw(Message::Ping(Default::default())).await
                }
                message = stream.next(), if reading => {
                    last_heard = Instant::now();
                    match message {
                        Some(Ok(Message::Text(text))) => Box::pin(self.on_text(text)).await,
                        Some(Ok(Message::Binary(_))) => {
                            self.error(None, ErrorCode::Invalid, "binary frames are not supported; send JSON text frames").await
                        }
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(()),
                        Some(Ok(Message::Close(_))) | None => Err(Gone),
                        Some(Err(error)) => {
                            if let Some((code, reason)) = close_for_read_error(error) {
                                self.writer.close(code, reason).await;
                            }
                            Err(Gone)
                        }
                    }
                }
            };
            if step.is_err() {
                return;
            }
        }
    }

    /// Subscribe to the user's rooms and say hello. A moderator's session starts with no
    /// rooms: it sees a room only by watching it under a grant.
    async fn start(&mut self) -> Result<(), Gone> {
        let service = &self.state.service;
        let rows = match service.session_rooms(&self.identity).await {
            Ok(rows) => rows,
            Err(failure) => {
                let _ = self.fail(None, failure).await;
                self.writer
                    .close(CLOSE_UNAVAILABLE, "storage unavailable")
                    .await;
                return Err(Gone);
            }
        };
        for row in &rows {
            if let Ok(room) = RoomId::try_from(row.room_id.as_str()) {
                self.state.hub.subscribe(&room, &self.conn, row.last_seq);
            }
        }
        // Read again after subscribing: anything committed from now on is delivered live, and
        // anything committed before is counted in `last_seq` (live copies are then dropped).
        let rows = service.session_rooms(&self.identity).await.unwrap_or(rows);
        let mut summaries = Vec::with_capacity(rows.len());
        for row in rows {
            let Some(summary) = self.state.service.room_summary(&row) else {
                continue;
            };
            self.track_room(&summary.id, row);
            summaries.push(summary);
        }
        self.writer
            .frame(&ServerFrame::Hello {
                user: self.identity.user().to_string(),
                rooms: summaries,
            })
            .await
    }

    /// Answer the frame `id` with an `error`.
    async fn error(
        &mut self,
        id: Option<String>,
        code: ErrorCode,
        message: &str,
    ) -> Result<(), Gone> {
        crate::metrics::error(code);
        self.answered_error = true;
        self.writer
            .frame(&ServerFrame::error(id, code, message))
            .await
    }

    /// Answer the frame `id` with the service's failure.
    async fn fail(&mut self, id: Option<String>, failure: Failure) -> Result<(), Gone> {
        match failure.retry_after_ms {
            Some(ms) => {
                crate::metrics::error(failure.code);
                self.answered_error = true;
                let frame = ServerFrame::rate_limited(id, ms, failure.message);
                self.writer.frame(&frame).await
            }
            None => self.error(id, failure.code, &failure.message).await,
        }
    }

    /// Spend what `frame` costs: every frame from the connection's frame budget, and the
    /// frames that write, fan out or read from their family's budgets, the connection's
    /// first and then the user's across all their connections.
    fn spend(&self, frame: &ClientFrame) -> Result<(), Failure> {
        let refuse = |limit: &'static str, ms: u64| {
            crate::ratelimit::refused(limit);
            Failure::rate_limited(ms, format!("too many frames ({limit}); retry in {ms} ms"))
        };
        self.limits
            .frames
            .check()
            .map_err(|ms| refuse("frames_per_connection", ms))?;
        let service = &self.state.service;
        match frame {
            ClientFrame::Send { .. } | ClientFrame::Edit { .. } | ClientFrame::Delete { .. } => {
                self.limits
                    .writes
                    .check()
                    .map_err(|ms| refuse("writes_per_connection", ms))?;
                service.rate_limit(Family::Writes, &self.identity)
            }
            ClientFrame::Typing { .. } => {
                self.limits
                    .typing
                    .check()
                    .map_err(|ms| refuse("typing_per_connection", ms))?;
                service.rate_limit(Family::Typing, &self.identity)
            }
            ClientFrame::History { .. } | ClientFrame::Members { .. } => {
                service.rate_limit(Family::Reads, &self.identity)
            }
            ClientFrame::Resume { .. } => service.rate_limit(Family::Resume, &self.identity),
            _ => Ok(()),
        }
    }

    async fn on_text(&mut self, text: Utf8Bytes) -> Result<(), Gone> {
        let frame = match ClientFrame::decode(text.as_str()) {
            Ok(frame) => frame,
            Err(refused) => {
                return self
                    .error(refused.id, ErrorCode::Invalid, &refused.message)
                    .await;
            }
        };
        let kind = frame.kind();
        let id = frame.request_id().map(str::to_string);
        metrics::counter!("workroom_frames_received_total", "type" => kind).increment(1);
        if let Err(refused) = self.spend(&frame) {
            return self.fail(id, refused).await;
        }
        self.answered_error = false;
        let (result, asked) = guard::scoped(Box::pin(self.dispatch(frame))).await;
        if !asked && !self.answered_error && result.is_ok() {
            guard::report_bypass(kind);
            return self
                .error(id, ErrorCode::Internal, guard::BYPASS_MESSAGE)
                .await;
        }
        result
    }

    /// One handler per frame type; each goes through the service, which asks the policy
    /// before it touches anything.
    async fn dispatch(&mut self, frame: ClientFrame) -> Result<(), Gone> {
        if let Some(room) = frame.room()
            && !self.rooms.contains_key(room)
            && let Some(refusal) = Box::pin(purged_refusal(
                self.state.clone(),
                self.identity.clone(),
                room.clone(),
            ))
            .await
        {
            let id = frame.request_id().map(str::to_string);
            return self.fail(id, refusal).await;
        }
        match frame {
            ClientFrame::Auth { .. } => {
                self.error(None, ErrorCode::Invalid, "already authenticated")
                    .await
            }
            ClientFrame::Send {
                id,
                room,
                client_msg_id,
                body,
                attachments,
            } => {
                let post = Post::Message { body, attachments };
                self.submit(id, room, Some(client_msg_id), post).await
            }
            ClientFrame::Edit {
                id,
                room,
                seq,
                body,
                client_msg_id,
            } => {
                let post = Post::Edit {
                    target_seq: seq,
                    body,
                };
                self.submit(id, room, client_msg_id, post).await
            }
            ClientFrame::Delete {
                id,
                room,
                seq,
                client_msg_id,
            } => {
                let post = Post::Delete { target_seq: seq };
                self.submit(id, room, client_msg_id, post).await
            }
            ClientFrame::Resume { id, rooms } => self.on_resume(id, rooms).await,
            ClientFrame::History {
                id,
                room,
                before_seq,
                limit,
            } => self.on_history(id, room, before_seq, limit).await,
            ClientFrame::Read { id, room, seq } => self.on_read(id, room, seq).await,
            ClientFrame::Typing { id, room } => self.on_typing(id, room).await,
            ClientFrame::Members { id, room } => self.on_members(id, room).await,
            ClientFrame::Watch { id, grant } => self.on_watch(id, grant).await,
            ClientFrame::Unwatch { id, grant } => self.on_unwatch(id, grant).await,
            ClientFrame::Ping { id } => match self.state.service.within_session(&self.identity) {
                Ok(()) => self.writer.frame(&ServerFrame::Pong { id }).await,
                Err(failure) => self.fail(id, failure).await,
            },
        }
    }
}

/// A room a session does not follow may have been purged: then the frame is refused saying
/// so (through the policy, as over HTTP), not as an unknown room.
async fn purged_refusal(state: AppState, identity: Identity, room: RoomId) -> Option<Failure> {
    let service = &state.service;
    let access = service.access_of(&identity, room.as_str()).await.ok()??;
    if !access.purged {
        return None;
    }
    service.room_read(&identity, Some(&access)).err()
}
