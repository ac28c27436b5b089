//! What one node tells the others (C15): the cluster-wide half of the hub's fan-out.
//!
//! Every hub operation that other nodes' sessions must also see (a timeline batch committed,
//! typing, a room closed, a grant ended, a token revoked…) is queued here as a [`Signal`]
//! after it was applied locally; the bus link (`crate::bus`) publishes it. The queue is
//! bounded and never waits: a full queue drops the signal and counts it, because signals are
//! hints, not data. The database stays the truth: a timeline signal carries seqs, never a
//! body, and a receiver that misses one finds the events by seq (the session's gap fill,
//! the relay's sweep of room heads). Without a bus (one node) nothing is queued at all.

use serde::{Deserialize, Serialize};
use std::sync::OnceLock;
use tokio::sync::mpsc;
use workroom_protocol::{Purpose, RoomId};

/// One thing that happened on this node that other nodes' sessions must see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Signal {
    /// Events `first..=last` of `room` were committed (no bodies: receivers read them).
    Events { room: RoomId, first: u64, last: u64 },
    /// A typing or read-marker frame for the room's sessions, as serialized.
    Ephemeral { room: RoomId, text: String },
    /// A member's presence in a room changed on the sending node (`online`: they have a
    /// member session there now).
    Presence {
        room: RoomId,
        user: String,
        online: bool,
    },
    /// A frame for these users' sessions (contact release, screenshot), collected for
    /// `purpose`.
    Notify {
        users: Vec<String>,
        room: RoomId,
        text: String,
        purpose: Purpose,
    },
    /// These users' sets of rooms may have changed.
    RoomsChanged { users: Vec<String> },
    /// The room was closed.
    RoomClosed { room: RoomId },
    /// A moderator's grant ended (`revoked` or `expired`).
    GrantEnded {
        moderator: String,
        grant: String,
        reason: GrantEndReason,
    },
    /// Tokens of a user were revoked.
    Revoked { user: String, tokens: Revocation },
    /// A data key was destroyed (erasure): drop it from every cache now.
    KeyDestroyed { key: String },
    /// The sending node is alive.
    Heartbeat,
    /// The sending node joined the bus (started, or reconnected): the others answer with
    /// their presence state.
    Hello,
    /// The sending node's member sessions per room: its answer to `Hello`, and its own
    /// state when its link connects (what the others knew of it is replaced).
    PresenceState { online: Vec<(RoomId, Vec<String>)> },
    /// The sending node stops: its sessions are gone.
    Leaving,
}

/// Why a grant ended, as the `watch_ended` frame says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantEndReason {
    Revoked,
    Expired,
}

impl GrantEndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantEndReason::Revoked => "revoked",
            GrantEndReason::Expired => "expired",
        }
    }
}

/// Which of a user's tokens were revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Revocation {
    /// One token, by its `jti` (logout).
    Token(String),
    /// Every token issued before this (Unix seconds).
    IssuedBefore(u64),
    /// Every token (termination).
    All,
}

impl Revocation {
    /// Whether a token with this `jti`, issued at `iat`, is revoked.
    pub fn covers(&self, jti: &str, iat: u64) -> bool {
        match self {
            Revocation::Token(revoked) => revoked == jti,
            Revocation::IssuedBefore(before) => iat < *before,
            Revocation::All => true,
        }
    }
}

/// The bounded queue of signals waiting for the bus. Empty (and free) on a single node.
#[derive(Debug, Default)]
pub struct Outbox {
    tx: OnceLock<mpsc::Sender<Signal>>,
}

impl Outbox {
    /// Connect the outbox to the bus: from now on signals are queued, at most `capacity`.
    /// Called once, at start-up, when a bus is configured.
    pub fn open(&self, capacity: usize) -> Option<mpsc::Receiver<Signal>> {
        let (tx, rx) = mpsc::channel(capacity);
        self.tx.set(tx).ok().map(|()| rx)
    }

    /// Whether signals go anywhere (a bus is configured).
    pub fn is_open(&self) -> bool {
        self.tx.get().is_some()
    }

    /// Queue a signal; never waits. A full queue drops it (counted): receivers recover
    /// from the database.
    pub fn send(&self, signal: impl FnOnce() -> Signal) {
        let Some(tx) = self.tx.get() else {
            return;
        };
        if tx.try_send(signal()).is_err() {
            metrics::counter!("workroom_bus_signals_dropped_total", "stage" => "queue")
                .increment(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_bus_nothing_is_built_or_queued() {
        let outbox = Outbox::default();
        outbox.send(|| unreachable!("no signal is built without a bus"));
        assert!(!outbox.is_open());
    }

    #[test]
    fn a_full_queue_drops_instead_of_waiting() {
        let outbox = Outbox::default();
        let mut rx = outbox.open(1).expect("first open");
        assert!(outbox.open(1).is_none(), "opened once");
        let room = RoomId::try_from("r1").unwrap();
        outbox.send(|| Signal::RoomClosed { room: room.clone() });
        outbox.send(|| Signal::RoomClosed { room: room.clone() });
        assert_eq!(rx.try_recv().unwrap(), Signal::RoomClosed { room });
        assert!(rx.try_recv().is_err());
    }
}
