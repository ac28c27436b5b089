//! Live fan-out inside one process: which connection listens to which room, and the bounded
//! queue that feeds each connection.
//!
//! The hub never blocks and never waits for a slow peer. A frame is serialized once and its
//! bytes shared by every recipient; each delivery is a `try_send` into the connection's
//! bounded queue. A connection whose queue is full has fallen too far behind: it is kicked
//! (its task closes it with code 4008) and recovers by reconnecting and resuming by seq, so
//! one slow consumer costs the room nothing.
//!
//! Rooms are spread over shards, each a std `Mutex` held only for the map operation and the
//! `try_send`s (no `.await` under it), so rooms on different shards never contend.
//!
//! With a bus (C15), every operation other nodes' sessions must also see is queued in the
//! hub's [`Outbox`] after it was applied here (`crate::signals`); what arrives from other
//! nodes is applied through the `*_from_bus` methods, which queue nothing. Timeline events
//! are the exception: the committer signals each committed batch itself, and the relay
//! (`crate::bus::relay`) reads other nodes' events from the database and publishes them
//! here like local ones. Each room remembers the highest seq published to it
//! ([`Hub::published_seq`]), so the relay reads only what this node has not seen.

use crate::presence::Presence;
pub use crate::signals::Revocation;
use crate::signals::{GrantEndReason, Outbox, Signal};
use axum::extract::ws::Utf8Bytes;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use workroom_protocol::{Purpose, RoomId, ServerFrame};

const SHARDS: usize = 64;

/// A connection's identity inside this process.
pub type ConnId = u64;

/// A timeline event as fanned out: serialized once, shared by every recipient.
#[derive(Debug)]
pub struct LiveEvent {
    pub room: RoomId,
    /// The session uses it to drop duplicates and fill gaps.
    pub seq: u64,
    pub text: Utf8Bytes,
    /// What the event was collected for: a session skips what its purpose may not read
    /// (and, when the purpose is unknown, `None`, every session skips it).
    pub purpose: Option<Purpose>,
}

/// An ephemeral frame (typing, read marker, contact release, screenshot) and the room it is
/// about, so a session that no longer follows the room drops it, and the purpose its data
/// was collected for, so a session reading for another purpose (a moderator's live view)
/// never receives it.
#[derive(Debug)]
pub struct EphemeralFrame {
    pub room: RoomId,
    pub text: Utf8Bytes,
    pub purpose: Purpose,
    /// Presence: for the room's members only, whatever else a session may read (C3).
    pub presence: bool,
}

/// What a connection's queue carries. Kept to three words (payloads behind `Arc`), because
/// every connection's queue allocates its first block of slots up front.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// A timeline event.
    Event(Arc<LiveEvent>),
    /// An ephemeral frame (typing, read marker, contact release), delivered as is while the
    /// connection follows its room.
    Ephemeral(Arc<EphemeralFrame>),
    /// The user's set of rooms may have changed: re-read it.
    RoomsChanged,
    /// The room was closed (contract ended).
    RoomClosed(RoomId),
    /// A moderator's grant ended: live views under it stop at once.
    GrantEnded(Arc<GrantEnded>),
    /// Tokens of the connection's user were revoked (logout, revocation, termination):
    /// a session whose token is among them closes at once.
    Revoked(Arc<Revocation>),
}

/// Which grant ended and why (`revoked` or `expired`).
#[derive(Debug)]
pub struct GrantEnded {
    pub grant: String,
    pub reason: &'static str,
}

/// How the hub reaches one connection. Cloned into every room the connection listens to.
#[derive(Debug, Clone)]
pub struct ConnHandle {
    pub id: ConnId,
    pub tx: mpsc::Sender<Outbound>,
    /// Cancelled by the hub when the queue overflows; the session then closes the socket.
    pub kick: CancellationToken,
}

impl ConnHandle {
    /// Queue a frame; a full queue kicks the connection. Returns false when it is gone.
    fn deliver(&self, item: Outbound) -> bool {
        match self.tx.try_send(item) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                if !self.kick.is_cancelled() {
                    metrics::counter!("workroom_slow_consumers_total").increment(1);
                }
                self.kick.cancel();
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

type Shard<K, V> = Mutex<HashMap<K, V>>;

/// A followed room: its connections, and the highest seq published to them here.
#[derive(Debug, Default)]
struct RoomEntry {
    subs: Vec<ConnHandle>,
    published: u64,
}

/// The registry. One per server; shared through [`crate::app::AppState`].
pub struct Hub {
    rooms: Box<[Shard<RoomId, RoomEntry>]>,
    users: Box<[Shard<String, Vec<ConnHandle>>]>,
    hasher: std::collections::hash_map::RandomState,
    next_conn: AtomicU64,
    presence: Presence,
    outbox: Outbox,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hub")
    }
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding a shard lock cannot leave the map half-updated in a way that
    // matters (each operation is a single push/retain), so poisoning is ignored.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Hub {
    pub fn new() -> Self {
        Hub {
            rooms: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            users: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
            next_conn: AtomicU64::new(1),
            presence: Presence::default(),
            outbox: Outbox::default(),
        }
    }

    /// Where this node's signals for the other nodes wait (empty without a bus).
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    pub fn next_conn_id(&self) -> ConnId {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    fn shard_of<K: Hash>(&self, key: &K) -> usize {
        (self.hasher.hash_one(key) as usize) % SHARDS
    }

    /// `conn` follows `room` from now on; it has seen the room up to `seen` (its last seq
    /// when the session read it), which the relay takes as already published here.
    pub fn subscribe(&self, room: &RoomId, conn: &ConnHandle, seen: u64) {
        let mut shard = lock(&self.rooms[self.shard_of(room)]);
        let entry = shard.entry(room.clone()).or_default();
        entry.published = entry.published.max(seen);
        if !entry.subs.iter().any(|c| c.id == conn.id) {
            entry.subs.push(conn.clone());
        }
    }

    pub fn unsubscribe(&self, room: &RoomId, conn: ConnId) {
        let mut shard = lock(&self.rooms[self.shard_of(room)]);
        if let Some(entry) = shard.get_mut(room) {
            entry.subs.retain(|c| c.id != conn);
            if entry.subs.is_empty() {
                shard.remove(room);
            }
        }
    }

    /// The rooms some connection here follows, with the highest seq published to them
    /// (0: none yet).
    pub fn followed_rooms(&self) -> Vec<(RoomId, u64)> {
        let mut rooms = Vec::new();
        for shard in self.rooms.iter() {
            rooms.extend(lock(shard).iter().map(|(r, e)| (r.clone(), e.published)));
        }
        rooms
    }

    /// The highest seq published to `room`'s connections here; `None` when no connection
    /// here follows it.
    pub fn published_seq(&self, room: &RoomId) -> Option<u64> {
        lock(&self.rooms[self.shard_of(room)])
            .get(room)
            .map(|e| e.published)
    }

    pub fn register_user(&self, user: &str, conn: &ConnHandle) {
        let key = user.to_string();
        let mut shard = lock(&self.users[self.shard_of(&key)]);
        shard.entry(key).or_default().push(conn.clone());
    }

    pub fn unregister_user(&self, user: &str, conn: ConnId) {
        let key = user.to_string();
        let mut shard = lock(&self.users[self.shard_of(&key)]);
        if let Some(conns) = shard.get_mut(&key) {
            conns.retain(|c| c.id != conn);
            if conns.is_empty() {
                shard.remove(&key);
            }
        }
    }

    /// Deliver a timeline event to every connection listening to the room.
    pub fn publish_event(
        &self,
        room: &RoomId,
        seq: u64,
        text: Utf8Bytes,
        purpose: Option<Purpose>,
    ) {
        let mut shard = lock(&self.rooms[self.shard_of(room)]);
        if let Some(entry) = shard.get_mut(room) {
            entry.published = entry.published.max(seq);
            let event = Arc::new(LiveEvent {
                room: room.clone(),
                seq,
                text,
                purpose,
            });
            entry
                .subs
                .retain(|c| c.deliver(Outbound::Event(event.clone())));
        }
    }

    /// Deliver an ephemeral frame to the room's connections except `except`, and to the
    /// other nodes'. Ephemeral frames (typing, read markers) are dropped, not queued, for a
    /// connection whose queue is full; presence instead kicks it (see `fan_out_ephemeral`).
    pub fn publish_ephemeral(&self, room: &RoomId, text: Utf8Bytes, except: Option<ConnId>) {
        self.outbox.send(|| Signal::Ephemeral {
            room: room.clone(),
            text: text.to_string(),
        });
        self.fan_out_ephemeral(room, text, except, false);
    }

    /// An ephemeral frame from another node.
    pub fn ephemeral_from_bus(&self, room: &RoomId, text: Utf8Bytes) {
        self.fan_out_ephemeral(room, text, None, false);
    }

    fn fan_out_ephemeral(
        &self,
        room: &RoomId,
        text: Utf8Bytes,
        except: Option<ConnId>,
        presence: bool,
    ) {
        let shard = lock(&self.rooms[self.shard_of(room)]);
        if let Some(entry) = shard.get(room) {
            let frame = Arc::new(EphemeralFrame {
                room: room.clone(),
                text,
                purpose: Purpose::Participation,
                presence,
            });
            for c in entry.subs.iter().filter(|c| Some(c.id) != except) {
                let item = Outbound::Ephemeral(frame.clone());
                if presence {
                    // A missed presence change would stay wrong until the next `members`:
                    // like a timeline event, a connection too slow to take it is kicked and
                    // re-reads on reconnecting.
                    c.deliver(item);
                } else {
                    let _ = c.tx.try_send(item);
                }
            }
        }
    }

    /// A member session of `user` follows `room` from now on: when it is their first
    /// anywhere, the room's members are told they came online (members only: a moderator's
    /// live view never receives it, `policy::session_receives_presence`); when it is their
    /// first here, the other nodes hear of it. `conn` is the session's own connection,
    /// which needs no telling. Told under the presence entry's lock (see
    /// `Presence::joined`); the room's shard is taken inside it, and nothing takes them the
    /// other way round.
    pub fn member_joined(&self, room: &RoomId, user: &str, conn: ConnId) {
        self.presence.joined(room, user, |change| {
            if change.here {
                self.signal_presence(room, user, true);
            }
            if change.told {
                self.publish_presence(room, user, true, Some(conn));
            }
        });
    }

    /// A member session of `user` no longer follows `room`: when it was their last
    /// anywhere, the room's members are told they went offline.
    pub fn member_left(&self, room: &RoomId, user: &str) {
        self.presence.left(room, user, |change| {
            if change.here {
                self.signal_presence(room, user, false);
            }
            if change.told {
                self.publish_presence(room, user, false, None);
            }
        });
    }

    fn signal_presence(&self, room: &RoomId, user: &str, online: bool) {
        self.outbox.send(|| Signal::Presence {
            room: room.clone(),
            user: user.to_string(),
            online,
        });
    }

    /// Another node says `user` has (or no longer has) a member session in `room`.
    pub fn presence_from_bus(&self, node: &str, room: &RoomId, user: &str, online: bool) {
        self.presence.remote(node, room, user, online, |now| {
            self.publish_presence(room, user, now, None);
        });
    }

    /// Another node's whole presence state (sent when a node joins the bus).
    pub fn presence_state_from_bus(&self, node: &str, online: &[(RoomId, Vec<String>)]) {
        self.presence.remote_state(node, online, |room, user, now| {
            self.publish_presence(room, user, now, None);
        });
    }

    /// A node left or went silent: the members it held go offline unless elsewhere.
    pub fn node_gone(&self, node: &str) {
        self.presence.node_gone(node, |room, user, now| {
            self.publish_presence(room, user, now, None);
        });
    }

    /// Who has a member session here, per room (for a node joining the bus).
    pub fn local_presence(&self) -> Vec<(RoomId, Vec<String>)> {
        self.presence.local_state()
    }

    /// Whether `user` has a member session following `room`, on any node.
    pub fn is_online(&self, room: &RoomId, user: &str) -> bool {
        self.presence.is_online(room, user)
    }

    fn publish_presence(&self, room: &RoomId, user: &str, online: bool, except: Option<ConnId>) {
        let frame = ServerFrame::Presence {
            room: room.clone(),
            user: user.to_string(),
            online,
        };
        self.fan_out_ephemeral(room, Utf8Bytes::from(frame.to_json()), except, true);
    }

    /// Tell every connection of the room, here and on the other nodes, that it closed.
    pub fn room_closed(&self, room: &RoomId) {
        self.outbox
            .send(|| Signal::RoomClosed { room: room.clone() });
        self.room_closed_from_bus(room);
    }

    /// A room closed on another node.
    pub fn room_closed_from_bus(&self, room: &RoomId) {
        let shard = lock(&self.rooms[self.shard_of(room)]);
        if let Some(entry) = shard.get(room) {
            for c in &entry.subs {
                c.deliver(Outbound::RoomClosed(room.clone()));
            }
        }
    }

    /// Tell the moderator's connections, here and on the other nodes, that one of their
    /// grants ended.
    pub fn grant_ended(&self, moderator: &str, grant: &str, reason: GrantEndReason) {
        self.outbox.send(|| Signal::GrantEnded {
            moderator: moderator.to_string(),
            grant: grant.to_string(),
            reason,
        });
        self.grant_ended_from_bus(moderator, grant, reason);
    }

    /// A grant ended on another node.
    pub fn grant_ended_from_bus(&self, moderator: &str, grant: &str, reason: GrantEndReason) {
        let key = moderator.to_string();
        let shard = lock(&self.users[self.shard_of(&key)]);
        if let Some(conns) = shard.get(&key) {
            let ended = Arc::new(GrantEnded {
                grant: grant.to_string(),
                reason: reason.as_str(),
            });
            for c in conns {
                c.deliver(Outbound::GrantEnded(ended.clone()));
            }
        }
    }

    /// Deliver a frame about `room`, holding data collected for `purpose`, to every
    /// connection of these users. Unlike typing, these frames change what the user sees (a
    /// screenshot appears or goes, details are released), so a connection too slow to take
    /// one is kicked, like for timeline events, and re-reads on reconnecting.
    pub fn notify_users(&self, users: &[String], room: &RoomId, text: Utf8Bytes, purpose: Purpose) {
        self.outbox.send(|| Signal::Notify {
            users: users.to_vec(),
            room: room.clone(),
            text: text.to_string(),
            purpose,
        });
        self.notify_users_from_bus(users, room, text, purpose);
    }

    /// A frame for these users from another node.
    pub fn notify_users_from_bus(
        &self,
        users: &[String],
        room: &RoomId,
        text: Utf8Bytes,
        purpose: Purpose,
    ) {
        let frame = Arc::new(EphemeralFrame {
            room: room.clone(),
            text,
            purpose,
            presence: false,
        });
        for user in users {
            let shard = lock(&self.users[self.shard_of(user)]);
            if let Some(conns) = shard.get(user) {
                for c in conns {
                    c.deliver(Outbound::Ephemeral(frame.clone()));
                }
            }
        }
    }

    /// Tell `user`'s connections, here and on the other nodes, that some of their tokens
    /// were revoked.
    pub fn tokens_revoked(&self, user: &str, revocation: Revocation) {
        self.outbox.send(|| Signal::Revoked {
            user: user.to_string(),
            tokens: revocation.clone(),
        });
        self.tokens_revoked_from_bus(user, revocation);
    }

    /// Tokens revoked on another node (or read from the audit trail).
    pub fn tokens_revoked_from_bus(&self, user: &str, revocation: Revocation) {
        let key = user.to_string();
        let shard = lock(&self.users[self.shard_of(&key)]);
        if let Some(conns) = shard.get(&key) {
            let revocation = Arc::new(revocation);
            for c in conns {
                c.deliver(Outbound::Revoked(revocation.clone()));
            }
        }
    }

    /// Tell every connection of these users, here and on the other nodes, to re-read
    /// their rooms.
    pub fn rooms_changed(&self, users: &[String]) {
        self.outbox.send(|| Signal::RoomsChanged {
            users: users.to_vec(),
        });
        self.rooms_changed_from_bus(users);
    }

    /// Rooms changed on another node.
    pub fn rooms_changed_from_bus(&self, users: &[String]) {
        for user in users {
            let shard = lock(&self.users[self.shard_of(user)]);
            if let Some(conns) = shard.get(user) {
                for c in conns {
                    c.deliver(Outbound::RoomsChanged);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Outbound;

    #[test]
    fn queue_items_stay_three_words() {
        assert!(std::mem::size_of::<Outbound>() <= 24);
    }
}
