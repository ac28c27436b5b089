//! Presence (C3): which members of a workroom have a session open in this process, kept in
//! memory only. Nothing here is stored, logged or audited: presence is a courtesy between
//! the people of one workroom, not a record.
//!
//! A member is online in a room while at least one of their member sessions follows it, so
//! two tabs count once and the second closing is what takes them offline. Only member
//! sessions count: a moderator's live view and a bot are never present, so members learn
//! nothing about them. Who is told is the hub's business (room subscribers reading for
//! participation); this registry only answers "did that change anything?".
//!
//! On many nodes (C15) a member is online while they have a member session on any node:
//! each room keeps, per user, their sessions here and the other nodes that said they have
//! one (`Signal::Presence`, and a node's whole state when another joins the bus). A node
//! that goes silent (no heartbeat) or leaves takes its sessions' presence with it. Each
//! node tells only its own sessions, and only of changes of the cluster-wide answer.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hash};
use std::sync::Mutex;
use workroom_protocol::RoomId;

const SHARDS: usize = 64;

/// One member in one room: their member sessions here, and the other nodes where they
/// have one.
#[derive(Debug, Default)]
struct Seen {
    local: u32,
    nodes: HashSet<String>,
}

impl Seen {
    fn online(&self) -> bool {
        self.local > 0 || !self.nodes.is_empty()
    }
}

type Rooms = HashMap<RoomId, HashMap<String, Seen>>;
type Shard = Mutex<Rooms>;

/// What a local session change means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalChange {
    /// The member's presence on this node changed (first or last session here): the other
    /// nodes must hear of it.
    pub here: bool,
    /// Their presence in the cluster changed: this node's sessions were told.
    pub told: bool,
}

/// The member sessions per room and user, here and on the other nodes, sharded by room like
/// the hub.
pub struct Presence {
    shards: Box<[Shard]>,
    hasher: std::collections::hash_map::RandomState,
}

impl std::fmt::Debug for Presence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Presence")
    }
}

impl Default for Presence {
    fn default() -> Self {
        Presence {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }
}

fn lock(shard: &Shard) -> std::sync::MutexGuard<'_, Rooms> {
    // Each operation is one small change: a panic cannot leave it half done.
    shard.lock().unwrap_or_else(|p| p.into_inner())
}

/// The entry of `user` in `room`, made empty when there is none.
fn entry<'a>(rooms: &'a mut Rooms, room: &RoomId, user: &str) -> &'a mut Seen {
    rooms
        .entry(room.clone())
        .or_default()
        .entry(user.to_string())
        .or_default()
}

/// Remove an entry left with nobody, so nothing stays behind.
fn tidy(rooms: &mut Rooms, room: &RoomId, user: &str) {
    if let Some(users) = rooms.get_mut(room) {
        if users.get(user).is_some_and(|seen| !seen.online()) {
            users.remove(user);
        }
        if users.is_empty() {
            rooms.remove(room);
        }
    }
}

impl Presence {
    fn shard<K: Hash>(&self, key: &K) -> std::sync::MutexGuard<'_, Rooms> {
        let index = (self.hasher.hash_one(key) as usize) % SHARDS;
        lock(&self.shards[index])
    }

    /// A member session of `user` started following `room`. When that changed anything
    /// (their first session here, or online where they were nowhere before), `tell` runs
    /// with the change before the room's entry is released, so that the changes of one user
    /// in one room are told (and signalled) in the order they happened (a last tab closing
    /// as a new one opens never ends as "offline").
    pub fn joined(&self, room: &RoomId, user: &str, tell: impl FnOnce(LocalChange)) -> LocalChange {
        let mut shard = self.shard(room);
        let seen = entry(&mut shard, room, user);
        let was_online = seen.online();
        seen.local += 1;
        let change = LocalChange {
            here: seen.local == 1,
            told: !was_online,
        };
        if change.here || change.told {
            tell(change);
        }
        change
    }

    /// A member session of `user` stopped following `room`: `tell` runs with what changed,
    /// as in [`Presence::joined`].
    pub fn left(&self, room: &RoomId, user: &str, tell: impl FnOnce(LocalChange)) -> LocalChange {
        let mut shard = self.shard(room);
        let Some(seen) = shard.get_mut(room).and_then(|users| users.get_mut(user)) else {
            return LocalChange {
                here: false,
                told: false,
            };
        };
        if seen.local == 0 {
            return LocalChange {
                here: false,
                told: false,
            };
        }
        seen.local -= 1;
        let change = LocalChange {
            here: seen.local == 0,
            told: !seen.online(),
        };
        tidy(&mut shard, room, user);
        if change.here || change.told {
            tell(change);
        }
        change
    }

    /// Another node says `user` has (or no longer has) a member session following `room`
    /// there. `tell(online)` runs when that changed their presence in the cluster.
    pub fn remote(
        &self,
        node: &str,
        room: &RoomId,
        user: &str,
        online: bool,
        tell: impl FnOnce(bool),
    ) {
        let mut shard = self.shard(room);
        let seen = entry(&mut shard, room, user);
        let was_online = seen.online();
        if online {
            seen.nodes.insert(node.to_string());
        } else {
            seen.nodes.remove(node);
        }
        let now_online = seen.online();
        tidy(&mut shard, room, user);
        if was_online != now_online {
            tell(now_online);
        }
    }

    /// Another node's whole state (it answered a node joining the bus): who has member
    /// sessions where, there. `tell(room, user, online)` runs for each change.
    pub fn remote_state(
        &self,
        node: &str,
        online: &[(RoomId, Vec<String>)],
        tell: impl Fn(&RoomId, &str, bool),
    ) {
        let mut present: HashMap<&RoomId, HashSet<&str>> = HashMap::new();
        for (room, users) in online {
            present
                .entry(room)
                .or_default()
                .extend(users.iter().map(String::as_str));
        }
        // Gone from the node's state: offline there.
        self.node_gone_except(node, &present, &tell);
        for (room, users) in &present {
            for user in users {
                self.remote(node, room, user, true, |now| tell(room, user, now));
            }
        }
    }

    /// A node left or went silent: its sessions are gone. `tell` runs for each member that
    /// this took offline.
    pub fn node_gone(&self, node: &str, tell: impl Fn(&RoomId, &str, bool)) {
        self.node_gone_except(node, &HashMap::new(), &tell);
    }

    fn node_gone_except(
        &self,
        node: &str,
        keep: &HashMap<&RoomId, HashSet<&str>>,
        tell: &impl Fn(&RoomId, &str, bool),
    ) {
        for shard in self.shards.iter() {
            let mut rooms = lock(shard);
            let mut gone = Vec::new();
            for (room, users) in rooms.iter_mut() {
                for (user, seen) in users.iter_mut() {
                    let kept = keep
                        .get(room)
                        .is_some_and(|users| users.contains(user.as_str()));
                    if !kept && seen.nodes.remove(node) && !seen.online() {
                        gone.push((room.clone(), user.clone()));
                    }
                }
            }
            for (room, user) in &gone {
                tidy(&mut rooms, room, user);
                tell(room, user, false);
            }
        }
    }

    /// Who has a member session here, per room (what this node tells a node that joins).
    pub fn local_state(&self) -> Vec<(RoomId, Vec<String>)> {
        let mut state = Vec::new();
        for shard in self.shards.iter() {
            for (room, users) in lock(shard).iter() {
                let here: Vec<String> = users
                    .iter()
                    .filter(|(_, seen)| seen.local > 0)
                    .map(|(user, _)| user.clone())
                    .collect();
                if !here.is_empty() {
                    state.push((room.clone(), here));
                }
            }
        }
        state
    }

    /// Whether `user` has a member session following `room` now, on any node.
    pub fn is_online(&self, room: &RoomId, user: &str) -> bool {
        self.shard(room)
            .get(room)
            .and_then(|users| users.get(user))
            .is_some_and(Seen::online)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(id: &str) -> RoomId {
        RoomId::try_from(id).unwrap()
    }

    #[test]
    fn a_member_is_online_from_their_first_session_to_their_last() {
        let presence = Presence::default();
        let r = room("r1");
        assert!(
            presence.joined(&r, "u1", |_| ()).told,
            "first session: online"
        );
        assert!(
            !presence.joined(&r, "u1", |_| ()).told,
            "second session: no change"
        );
        assert!(presence.is_online(&r, "u1"));
        assert!(
            !presence.left(&r, "u1", |_| ()).told,
            "one session still open"
        );
        assert!(presence.is_online(&r, "u1"));
        assert!(
            presence.left(&r, "u1", |_| ()).told,
            "last session: offline"
        );
        assert!(!presence.is_online(&r, "u1"));
    }

    #[test]
    fn rooms_and_users_are_apart_and_nothing_stays_behind() {
        let presence = Presence::default();
        let (a, b) = (room("ra"), room("rb"));
        assert!(presence.joined(&a, "u1", |_| ()).told);
        assert!(!presence.is_online(&b, "u1"), "online in a, not in b");
        assert!(!presence.is_online(&a, "u2"));
        assert!(
            !presence.left(&b, "u1", |_| ()).told,
            "leaving a room never joined changes nothing"
        );
        assert!(presence.left(&a, "u1", |_| ()).told);
        assert!(
            presence.shards.iter().all(|s| s.lock().unwrap().is_empty()),
            "no empty entries kept"
        );
    }

    #[test]
    fn a_member_is_online_while_any_node_has_their_session() {
        let presence = Presence::default();
        let r = room("r1");
        let told = std::cell::RefCell::new(Vec::new());
        presence.remote("b", &r, "u1", true, |on| told.borrow_mut().push(on));
        assert_eq!(*told.borrow(), [true], "online on node b: told once");
        let here = presence.joined(&r, "u1", |c| {
            if c.told {
                told.borrow_mut().push(true)
            }
        });
        assert!(
            here.here && !here.told,
            "already online: the others hear, nobody is told"
        );
        let left = presence.left(&r, "u1", |c| {
            if c.told {
                told.borrow_mut().push(false)
            }
        });
        assert!(left.here && !left.told, "still online on b");
        presence.node_gone("b", |_, _, on| told.borrow_mut().push(on));
        assert_eq!(*told.borrow(), [true, false], "b went silent: offline");
        assert!(!presence.is_online(&r, "u1"));
        assert!(presence.shards.iter().all(|s| s.lock().unwrap().is_empty()));
    }

    #[test]
    fn a_nodes_whole_state_replaces_what_was_known_of_it() {
        let presence = Presence::default();
        let (a, b) = (room("ra"), room("rb"));
        presence.remote("n2", &a, "u1", true, |_| ());
        let told = std::cell::RefCell::new(Vec::new());
        presence.remote_state("n2", &[(b.clone(), vec!["u2".into()])], |r, u, on| {
            told.borrow_mut().push((r.clone(), u.to_string(), on))
        });
        assert_eq!(
            *told.borrow(),
            [
                (a.clone(), "u1".into(), false),
                (b.clone(), "u2".into(), true)
            ]
        );
        presence.joined(&a, "u3", |_| ());
        assert_eq!(presence.local_state(), [(a, vec!["u3".to_string()])]);
    }
}
