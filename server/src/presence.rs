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
//! Per process until the bus carries it between nodes (issue 17): on many nodes a member
//! is online on the node that holds their session.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::Mutex;
use workroom_protocol::RoomId;

const SHARDS: usize = 64;

type Shard = Mutex<HashMap<RoomId, HashMap<String, u32>>>;

/// The open member sessions per room and user, sharded by room like the hub.
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

impl Presence {
    fn shard<K: Hash>(
        &self,
        key: &K,
    ) -> std::sync::MutexGuard<'_, HashMap<RoomId, HashMap<String, u32>>> {
        let index = (self.hasher.hash_one(key) as usize) % SHARDS;
        // Each operation is one counter change: a panic cannot leave it half done.
        self.shards[index].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A member session of `user` started following `room`; true when that made them
    /// online there (their first one), and then `tell` runs before the room's entry is
    /// released, so that the changes of one user in one room are told in the order they
    /// happened (a last tab closing as a new one opens never ends as "offline").
    pub fn joined(&self, room: &RoomId, user: &str, tell: impl FnOnce()) -> bool {
        let mut shard = self.shard(room);
        let count = shard
            .entry(room.clone())
            .or_default()
            .entry(user.to_string())
            .or_insert(0);
        *count += 1;
        let changed = *count == 1;
        if changed {
            tell();
        }
        changed
    }

    /// A member session of `user` stopped following `room`; true when that made them
    /// offline there (their last one), and then `tell` runs, as in [`Presence::joined`].
    pub fn left(&self, room: &RoomId, user: &str, tell: impl FnOnce()) -> bool {
        let mut shard = self.shard(room);
        let Some(users) = shard.get_mut(room) else {
            return false;
        };
        let Some(count) = users.get_mut(user) else {
            return false;
        };
        *count -= 1;
        if *count > 0 {
            return false;
        }
        users.remove(user);
        if users.is_empty() {
            shard.remove(room);
        }
        tell();
        true
    }

    /// Whether `user` has a member session following `room` now.
    pub fn is_online(&self, room: &RoomId, user: &str) -> bool {
        self.shard(room)
            .get(room)
            .is_some_and(|users| users.contains_key(user))
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
        assert!(presence.joined(&r, "u1", || ()), "first session: online");
        assert!(
            !presence.joined(&r, "u1", || ()),
            "second session: no change"
        );
        assert!(presence.is_online(&r, "u1"));
        assert!(!presence.left(&r, "u1", || ()), "one session still open");
        assert!(presence.is_online(&r, "u1"));
        assert!(presence.left(&r, "u1", || ()), "last session: offline");
        assert!(!presence.is_online(&r, "u1"));
    }

    #[test]
    fn rooms_and_users_are_apart_and_nothing_stays_behind() {
        let presence = Presence::default();
        let (a, b) = (room("ra"), room("rb"));
        assert!(presence.joined(&a, "u1", || ()));
        assert!(!presence.is_online(&b, "u1"), "online in a, not in b");
        assert!(!presence.is_online(&a, "u2"));
        assert!(
            !presence.left(&b, "u1", || ()),
            "leaving a room never joined changes nothing"
        );
        assert!(presence.left(&a, "u1", || ()));
        assert!(
            presence.shards.iter().all(|s| s.lock().unwrap().is_empty()),
            "no empty entries kept"
        );
    }
}
