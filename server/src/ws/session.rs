//! One WebSocket connection, from authentication to close.
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

use crate::policy::{self, Act, Caller, Denied, Resource, guard};

mod watch;
use crate::app::AppState;
use crate::auth::Identity;
use crate::committer::CommitResult;
use crate::events::{event_frame, message_view};
use crate::http::{member_view, summary};
use crate::hub::{ConnHandle, Outbound};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::{FuturesOrdered, SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use workroom_protocol::frames::{HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT};
use workroom_protocol::{ClientFrame, ClientMsgId, ErrorCode, Purpose, Role, RoomId, ServerFrame};
use workroom_storage::proof::{LiveView, RoomRead};
use workroom_storage::{
    AppendOutcome, NewEvent, NewEventKind, RoomAccessRow, StorageError, Store, StoredEvent,
};

/// Close codes this server uses besides the standard ones.
const CLOSE_TOO_SLOW: u16 = 4008;
const CLOSE_POLICY: u16 = 1008;
const CLOSE_TOO_BIG: u16 = 1009;
const CLOSE_GOING_AWAY: u16 = 1001;
/// Events read from the database per page when resuming or filling a gap.
const REPLAY_PAGE: u64 = 500;

type Sink = SplitSink<WebSocket, Message>;
type Stream = SplitStream<WebSocket>;
type PendingAck = Pin<Box<dyn Future<Output = Reply> + Send>>;

/// A commit result on its way back to the client.
struct Reply {
    id: Option<String>,
    room: RoomId,
    result: Result<CommitResult, ()>,
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

/// The proof a session reads a room's timeline with.
enum Timeline {
    Member(RoomRead),
    Watch(LiveView),
}

impl Timeline {
    /// The next page of stored events after `after`.
    async fn events_after(
        &self,
        store: &Store,
        after: u64,
    ) -> Result<Vec<StoredEvent>, StorageError> {
        match self {
            Timeline::Member(read) => store.events_after(read, after, REPLAY_PAGE).await,
            Timeline::Watch(view) => store.events_after(view, after, REPLAY_PAGE).await,
        }
    }
}

/// The socket failed or the peer went away: end the session.
struct Gone;

/// Authenticate (when the upgrade carried no token), then run the session.
pub(super) async fn run(
    socket: WebSocket,
    state: AppState,
    identity: Option<Identity>,
    conn: Option<crate::connlog::ClientConn>,
) {
    let (sink, mut stream) = socket.split();
    let mut writer = Writer {
        sink,
        timeout: Duration::from_secs(state.config.limits.write_timeout_secs),
    };
    let identity = match identity {
        Some(identity) => identity,
        None => match authenticate_first_frame(&state, &mut stream, &mut writer).await {
            Some(identity) => {
                if let Some(conn) = &conn {
                    state.connlog.user(conn, &identity.user).await;
                }
                identity
            }
            None => return,
        },
    };
    let opened = policy::decide(
        Caller::Token(&identity),
        Act::OpenSession,
        policy::session_purpose(identity.role),
        Resource::Nothing,
    );
    if let Err(denied) = opened {
        let _ = writer
            .frame(&ServerFrame::error(None, denied.code, denied.message))
            .await;
        writer.close(CLOSE_POLICY, denied.message).await;
        return;
    }
    let (tx, rx) = mpsc::channel(state.config.limits.outbound_queue);
    let conn = ConnHandle {
        id: state.hub.next_conn_id(),
        tx,
        kick: CancellationToken::new(),
    };
    state.open_sessions.fetch_add(1, Ordering::Relaxed);
    metrics::gauge!("workroom_connections").increment(1.0);
    state.hub.register_user(&identity.user, &conn);
    let mut session = Session {
        state,
        identity,
        conn,
        rx,
        writer,
        rooms: HashMap::new(),
        inflight: FuturesOrdered::new(),
        answered_error: false,
    };
    Box::pin(session.serve(stream)).await;
    Box::pin(session.end_all_watches("disconnected")).await;
}

/// Browser clients send `{"type":"auth","token":…}` first; anything else, a bad token or
/// silence past `auth.auth_timeout_secs` closes the connection.
async fn authenticate_first_frame(
    state: &AppState,
    stream: &mut Stream,
    writer: &mut Writer,
) -> Option<Identity> {
    let timeout = Duration::from_secs(state.config.auth.auth_timeout_secs);
    let first = tokio::time::timeout(timeout, async {
        loop {
            match stream.next().await {
                Some(Ok(Message::Text(text))) => return Some(text),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                _ => return None,
            }
        }
    })
    .await;
    let text = match first {
        Ok(Some(text)) => text,
        Ok(None) => return None,
        Err(_) => {
            let _ = writer
                .frame(&ServerFrame::error(
                    None,
                    ErrorCode::Unauthorized,
                    "authentication timed out",
                ))
                .await;
            writer.close(CLOSE_POLICY, "authentication timed out").await;
            return None;
        }
    };
    let verified = match serde_json::from_str::<ClientFrame>(&text) {
        // The same check as the upgrade header: signature, claims and bot revocation.
        Ok(ClientFrame::Auth { token }) => crate::http::extract::verify(state, &token)
            .await
            .map_err(|e| {
                tracing::debug!(reason = %e.message, "auth frame refused");
                match e.code {
                    ErrorCode::Unauthorized => (e.code, "invalid token"),
                    _ => (e.code, "the token could not be checked; try again"),
                }
            }),
        _ => Err((
            ErrorCode::Unauthorized,
            "the first frame must be {\"type\":\"auth\",\"token\":…}",
        )),
    };
    match verified {
        Ok(identity) => Some(identity),
        Err((code, message)) => {
            crate::metrics::error(code);
            let _ = writer.frame(&ServerFrame::error(None, code, message)).await;
            match code {
                ErrorCode::Unauthorized => writer.close(CLOSE_POLICY, "unauthorized").await,
                _ => writer.close(1011, "storage unavailable").await,
            }
            None
        }
    }
}

/// The socket's write half with a deadline on every write.
struct Writer {
    sink: Sink,
    timeout: Duration,
}

impl Writer {
    async fn frame(&mut self, frame: &ServerFrame) -> Result<(), Gone> {
        self.text(Utf8Bytes::from(frame.to_json())).await
    }

    async fn text(&mut self, text: Utf8Bytes) -> Result<(), Gone> {
        self.feed(text).await?;
        self.flush().await
    }

    async fn feed(&mut self, text: Utf8Bytes) -> Result<(), Gone> {
        metrics::counter!("workroom_frames_sent_total").increment(1);
        match tokio::time::timeout(self.timeout, self.sink.feed(Message::Text(text))).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(Gone),
        }
    }

    async fn flush(&mut self) -> Result<(), Gone> {
        match tokio::time::timeout(self.timeout, self.sink.flush()).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(Gone),
        }
    }

    async fn raw(&mut self, message: Message) -> Result<(), Gone> {
        match tokio::time::timeout(self.timeout, self.sink.send(message)).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(Gone),
        }
    }

    async fn close(&mut self, code: u16, reason: &str) {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from(reason.to_string()),
        };
        let _ = self.raw(Message::Close(Some(frame))).await;
    }
}

struct Session {
    state: AppState,
    identity: Identity,
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
        for room in self.rooms.keys() {
            self.state.hub.unsubscribe(room, self.conn.id);
        }
        self.state
            .hub
            .unregister_user(&self.identity.user, self.conn.id);
        self.state.open_sessions.fetch_sub(1, Ordering::Relaxed);
        metrics::gauge!("workroom_connections").decrement(1.0);
    }
}

impl Session {
    async fn serve(&mut self, mut stream: Stream) {
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
        let token_expiry_ms = i64::try_from(self.identity.expires_at)
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
                    self.on_reply(reply).await
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
                            if is_too_large(error) {
                                self.writer.close(CLOSE_TOO_BIG, "frame too large").await;
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
        if self.identity.role != Role::Member {
            return self
                .writer
                .frame(&ServerFrame::Hello {
                    user: self.identity.user.clone(),
                    rooms: Vec::new(),
                })
                .await;
        }
        let rows = match self.state.store.rooms_for_user(&self.identity.user).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(error = %e, "loading rooms failed");
                let _ = self
                    .error(None, ErrorCode::Unavailable, "storage is unavailable")
                    .await;
                self.writer.close(1011, "storage unavailable").await;
                return Err(Gone);
            }
        };
        for row in &rows {
            if let Ok(room) = RoomId::try_from(row.room_id.as_str()) {
                self.state.hub.subscribe(&room, &self.conn);
            }
        }
        // Read again after subscribing: anything committed from now on is delivered live, and
        // anything committed before is counted in `last_seq` (live copies are then dropped).
        let rows = self
            .state
            .store
            .rooms_for_user(&self.identity.user)
            .await
            .unwrap_or(rows);
        let mut summaries = Vec::with_capacity(rows.len());
        for row in rows {
            let Some(summary) = summary(&row) else {
                continue;
            };
            self.track_room(&summary.id, row);
            summaries.push(summary);
        }
        self.writer
            .frame(&ServerFrame::Hello {
                user: self.identity.user.clone(),
                rooms: summaries,
            })
            .await
    }

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

    /// Answer a request whose storage read or write failed: `unavailable` to the client, the
    /// cause to the log.
    async fn storage_failed(
        &mut self,
        id: Option<String>,
        what: &str,
        cause: &workroom_storage::StorageError,
    ) -> Result<(), Gone> {
        tracing::error!(error = %cause, "{what} failed");
        self.error(id, ErrorCode::Unavailable, "storage is unavailable")
            .await
    }

    /// Listen to a room from its current end onwards.
    fn track_room(&mut self, room: &RoomId, access: RoomAccessRow) {
        self.state.hub.subscribe(room, &self.conn);
        self.rooms.insert(
            room.clone(),
            RoomState::from_end(access.last_seq, Some(access), None),
        );
    }

    /// The proof that this session reads `room`'s timeline: a member's through their access,
    /// or a moderator's live view.
    fn timeline(&self, room: &RoomId) -> Option<Timeline> {
        let state = self.rooms.get(room)?;
        if let Some(watch) = &state.watch {
            return Some(Timeline::Watch(watch.view.clone()));
        }
        self.room_read(room).ok().map(Timeline::Member)
    }

    /// The proof that the caller reads `room` as a member (history, resume, members).
    fn room_read(&self, room: &RoomId) -> Result<RoomRead, Denied> {
        let access = self.rooms.get(room).and_then(|r| r.access.as_ref());
        self.state
            .proofs
            .read_room(Caller::Token(&self.identity), access)
    }

    /// Ask the policy whether the caller may do `act` in a room, as a member.
    fn room_access(&self, room: &RoomId, act: Act) -> Result<(), Denied> {
        let access = self.rooms.get(room).and_then(|r| r.access.as_ref());
        policy::decide(
            Caller::Token(&self.identity),
            act,
            Purpose::Participation,
            Resource::Room(access),
        )
        .map(|_| ())
    }

    async fn on_text(&mut self, text: Utf8Bytes) -> Result<(), Gone> {
        let frame = match serde_json::from_str::<ClientFrame>(text.as_str()) {
            Ok(frame) => frame,
            Err(error) => {
                let (id, message) = describe_decode_error(text.as_str(), &error);
                return self.error(id, ErrorCode::Invalid, &message).await;
            }
        };
        let kind = frame.kind();
        let id = frame.request_id().map(str::to_string);
        metrics::counter!("workroom_frames_received_total", "type" => kind).increment(1);
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

    /// One handler per frame type; each asks the policy before it touches anything.
    async fn dispatch(&mut self, frame: ClientFrame) -> Result<(), Gone> {
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
                self.submit(
                    id,
                    room,
                    Some(client_msg_id),
                    NewEventKind::Message { body, attachments },
                )
                .await
            }
            ClientFrame::Edit {
                id,
                room,
                seq,
                body,
                client_msg_id,
            } => {
                self.submit(
                    id,
                    room,
                    client_msg_id,
                    NewEventKind::Edit {
                        target_seq: seq,
                        body,
                    },
                )
                .await
            }
            ClientFrame::Delete {
                id,
                room,
                seq,
                client_msg_id,
            } => {
                self.submit(
                    id,
                    room,
                    client_msg_id,
                    NewEventKind::Delete { target_seq: seq },
                )
                .await
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
            ClientFrame::Ping { id } => {
                // A ping needs nothing but the session itself.
                let _ = policy::decide(
                    Caller::Token(&self.identity),
                    Act::OpenSession,
                    policy::session_purpose(self.identity.role),
                    Resource::Nothing,
                );
                self.writer.frame(&ServerFrame::Pong { id }).await
            }
        }
    }

    /// Validate a send, edit or delete and queue it for commit; the ack follows the commit.
    async fn submit(
        &mut self,
        id: Option<String>,
        room: RoomId,
        client_msg_id: Option<ClientMsgId>,
        kind: NewEventKind,
    ) -> Result<(), Gone> {
        if let Err(denied) = self.room_access(&room, Act::WriteRoom) {
            return self.error(id, denied.code, denied.message).await;
        }
        if let NewEventKind::Message { attachments, .. } = &kind {
            let max = self.state.config.files.max_attachments;
            if attachments.len() > max {
                let message = format!("at most {max} attachments per message");
                return self.error(id, ErrorCode::Invalid, &message).await;
            }
            if attachments.iter().any(|a| a.is_empty() || a.len() > 64) {
                return self
                    .error(id, ErrorCode::Invalid, "attachments must be file ids")
                    .await;
            }
        }
        if let NewEventKind::Message { body, .. } | NewEventKind::Edit { body, .. } = &kind {
            if body.len() > self.state.config.limits.max_body_bytes {
                let message = format!(
                    "body is over the limit of {} bytes",
                    self.state.config.limits.max_body_bytes
                );
                return self.error(id, ErrorCode::TooLarge, &message).await;
            }
            if body.trim().is_empty() {
                return self
                    .error(id, ErrorCode::Invalid, "body must not be empty")
                    .await;
            }
        }
        let event = NewEvent {
            room_id: room.to_string(),
            sender_id: self.identity.user.clone(),
            client_msg_id: client_msg_id.map(String::from),
            kind,
            notice: false,
        };
        let receiver = match self.state.committers.submit(room.clone(), event).await {
            Ok(receiver) => receiver,
            Err(_) => {
                return self
                    .error(id, ErrorCode::Unavailable, "server is shutting down")
                    .await;
            }
        };
        self.inflight.push_back(Box::pin(async move {
            Reply {
                id,
                room,
                result: receiver.await.map_err(|_| ()),
            }
        }));
        Ok(())
    }

    async fn on_reply(&mut self, reply: Reply) -> Result<(), Gone> {
        let Reply { id, room, result } = reply;
        match result {
            Ok(Ok(outcome)) => {
                let event = match &outcome {
                    AppendOutcome::Stored(e) | AppendOutcome::Duplicate(e) => e,
                };
                self.writer
                    .frame(&ServerFrame::Ack {
                        id,
                        room,
                        seq: event.seq,
                        msg_id: event.msg_id.clone(),
                        ts: crate::events::rfc3339(event.created_at),
                    })
                    .await
            }
            Ok(Err(error)) => {
                let (code, message) = crate::committer::append_error_reply(&error);
                self.error(id, code, &message).await
            }
            Err(()) => {
                self.error(
                    id,
                    ErrorCode::Unavailable,
                    "the commit was interrupted; retry with the same client_msg_id",
                )
                .await
            }
        }
    }

    /// On shutdown: wait (bounded) for queued sends to commit and acknowledge them.
    async fn drain_inflight(&mut self) {
        let deadline = Duration::from_secs(self.state.config.shutdown.drain_timeout_secs);
        let _ = tokio::time::timeout(deadline, async {
            while let Some(reply) = self.inflight.next().await {
                if self.on_reply(reply).await.is_err() {
                    break;
                }
            }
        })
        .await;
    }

    async fn on_outbound(&mut self, item: Outbound) -> Result<(), Gone> {
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
                if !policy::readable_stored(
                    event.purpose,
                    policy::session_purpose(self.identity.role),
                ) {
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
                // ended, a room just lost), and only data this session may read (C5).
                if !self.rooms.contains_key(&frame.room)
                    || !policy::session_receives(self.identity.role, frame.purpose)
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
            Outbound::RoomsChanged if self.identity.role == Role::Member => {
                self.refresh_rooms().await
            }
            Outbound::RoomsChanged => Ok(()),
            Outbound::GrantEnded(ended) => {
                let room = self.watched_room(&ended.grant);
                match room {
                    Some(room) => self.end_watch(&room, ended.reason, None).await,
                    None => Ok(()),
                }
            }
        }
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
        let reader_purpose = policy::session_purpose(self.identity.role);
        loop {
            let page = match timeline.events_after(&self.state.store, after).await {
                Ok(page) => page,
                Err(e) => {
                    tracing::error!(error = %e, "replay failed");
                    self.error(
                        None,
                        ErrorCode::Unavailable,
                        "storage is unavailable; resume later",
                    )
                    .await?;
                    return Ok(false);
                }
            };
            let full = page.len() as u64 == REPLAY_PAGE;
            for event in page {
                if until.is_some_and(|u| event.seq > u) {
                    return Ok(true);
                }
                after = event.seq;
                if let Some(state) = self.rooms.get_mut(room) {
                    state.next_seq = state.next_seq.max(event.seq + 1);
                }
                // An item collected for another purpose is skipped (its seq still counts).
                if !policy::readable_stored(event.purpose, reader_purpose) {
                    continue;
                }
                let frame = event_frame(room, &event);
                self.writer.feed(Utf8Bytes::from(frame.to_json())).await?;
            }
            if !full || until.is_some_and(|u| after >= u) {
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
    /// (they were committed between `hello` and this request), only the seqs before them are
    /// replayed: every seq still arrives exactly once, but those older ones come after the
    /// newer live ones (the client orders by seq).
    async fn on_resume(
        &mut self,
        id: Option<String>,
        rooms: BTreeMap<RoomId, u64>,
    ) -> Result<(), Gone> {
        for (room, last_seen) in rooms {
            if let Err(denied) = self.room_read(&room) {
                self.error(id.clone(), denied.code, denied.message).await?;
                continue;
            }
            let Some(state) = self.rooms.get_mut(&room) else {
                continue;
            };
            let from = last_seen.saturating_add(1);
            if state.next_seq == state.delivered_from {
                let old_next = state.next_seq;
                state.next_seq = from.min(old_next);
                state.delivered_from = state.next_seq;
                self.replay(&room, last_seen, None).await?;
                if let Some(state) = self.rooms.get_mut(&room) {
                    state.next_seq = state.next_seq.max(from.min(old_next));
                }
            } else if from < state.delivered_from {
                // Only once all of them went out: after a failure part of the way, a later
                // resume from the client's last seen seq sends the rest.
                let until = state.delivered_from - 1;
                if self.replay(&room, last_seen, Some(until)).await?
                    && let Some(state) = self.rooms.get_mut(&room)
                {
                    state.delivered_from = from;
                }
            }
        }
        self.writer
            .feed(Utf8Bytes::from(ServerFrame::Resumed { id }.to_json()))
            .await?;
        self.writer.flush().await
    }

    async fn on_history(
        &mut self,
        id: Option<String>,
        room: RoomId,
        before_seq: Option<u64>,
        limit: Option<u32>,
    ) -> Result<(), Gone> {
        let read = match self.room_read(&room) {
            Ok(read) => read,
            Err(denied) => return self.error(id, denied.code, denied.message).await,
        };
        let limit = limit
            .unwrap_or(HISTORY_DEFAULT_LIMIT)
            .clamp(1, HISTORY_MAX_LIMIT);
        match self
            .state
            .store
            .history(&read, before_seq.unwrap_or(u64::MAX), u64::from(limit))
            .await
        {
            Ok(rows) => {
                let messages = rows
                    .iter()
                    .filter(|e| policy::readable_stored(e.purpose, Purpose::Participation))
                    .map(|e| message_view(&room, e))
                    .collect();
                self.writer
                    .frame(&ServerFrame::History { id, room, messages })
                    .await
            }
            Err(e) => self.storage_failed(id, "history", &e).await,
        }
    }

    async fn on_read(&mut self, id: Option<String>, room: RoomId, seq: u64) -> Result<(), Gone> {
        if let Err(denied) = self.room_access(&room, Act::ReadRoom) {
            return self.error(id, denied.code, denied.message).await;
        }
        match self
            .state
            .store
            .set_read_marker(room.as_str(), &self.identity.user, seq)
            .await
        {
            Ok(stored) => {
                let frame = |id| ServerFrame::Read {
                    id,
                    room: room.clone(),
                    user: self.identity.user.clone(),
                    seq: stored,
                };
                let broadcast = Utf8Bytes::from(frame(None).to_json());
                self.state
                    .hub
                    .publish_ephemeral(&room, broadcast, Some(self.conn.id));
                self.writer.frame(&frame(id)).await
            }
            Err(e) => self.storage_failed(id, "read marker", &e).await,
        }
    }

    async fn on_typing(&mut self, id: Option<String>, room: RoomId) -> Result<(), Gone> {
        if let Err(denied) = self.room_access(&room, Act::WriteRoom) {
            return self.error(id, denied.code, denied.message).await;
        }
        let frame = ServerFrame::Typing {
            room: room.clone(),
            user: self.identity.user.clone(),
        };
        self.state.hub.publish_ephemeral(
            &room,
            Utf8Bytes::from(frame.to_json()),
            Some(self.conn.id),
        );
        Ok(())
    }

    async fn on_members(&mut self, id: Option<String>, room: RoomId) -> Result<(), Gone> {
        let read = match self.room_read(&room) {
            Ok(read) => read,
            Err(denied) => return self.error(id, denied.code, denied.message).await,
        };
        match self.state.store.room_members(&read).await {
            Ok(rows) => {
                let members = rows.into_iter().map(member_view).collect();
                self.writer
                    .frame(&ServerFrame::Members { id, room, members })
                    .await
            }
            Err(e) => self.storage_failed(id, "members", &e).await,
        }
    }

    /// Re-read the user's rooms after a membership change: subscribe to new ones, drop lost
    /// ones, update roles.
    async fn refresh_rooms(&mut self) -> Result<(), Gone> {
        let rows = match self.state.store.rooms_for_user(&self.identity.user).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(error = %e, "refreshing rooms failed");
                return Ok(());
            }
        };
        let mut seen = Vec::with_capacity(rows.len());
        for row in rows {
            let Some(summary) = summary(&row) else {
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
            self.writer
                .feed(Utf8Bytes::from(ServerFrame::RoomRemoved { room }.to_json()))
                .await?;
        }
        Ok(())
    }
}

/// When the token expires, as a sleep future.
/// Whether a read error is tungstenite refusing an over-long message or frame.
fn is_too_large(error: axum::Error) -> bool {
    match error.into_inner().downcast::<tungstenite::Error>() {
        Ok(inner) => matches!(*inner, tungstenite::Error::Capacity(_)),
        Err(_) => false,
    }
}

/// A client-safe description of why a frame did not decode, with its `id` when readable.
fn describe_decode_error(text: &str, error: &serde_json::Error) -> (Option<String>, String) {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(default)]
        id: Option<serde_json::Value>,
        #[serde(rename = "type", default)]
        kind: Option<serde_json::Value>,
    }
    match serde_json::from_str::<Probe>(text) {
        Err(_) => (None, format!("malformed JSON: {error}")),
        Ok(probe) => {
            let id = probe.id.and_then(|v| v.as_str().map(str::to_string));
            let message = match probe.kind {
                None => "missing field `type`".to_string(),
                Some(serde_json::Value::String(kind))
                    if !ClientFrame::KINDS.contains(&kind.as_str()) =>
                {
                    format!("unknown frame type `{kind}`")
                }
                Some(_) => format!("invalid frame: {error}"),
            };
            (id, message)
        }
    }
}
