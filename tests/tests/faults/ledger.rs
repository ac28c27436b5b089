//! What the server promised, and the checks that its store keeps every promise.
//!
//! The drivers write down every send they attempted and how it was answered, every live
//! delivery a listener saw, every upload and workroom the server acknowledged. After the
//! fault (and after restarts), [`Ledger::check_timeline`] reads each room back from the
//! server (a `resume` from 0) and compares: every acknowledged message and every delivered
//! one is stored at its seq with its id and body, seqs run 1..=last without a gap, no
//! `client_msg_id` is stored twice, and nothing is stored that was never sent. Retrying
//! every unacknowledged send with its `client_msg_id` must then leave each attempt stored
//! exactly once ([`Ledger::retry_unacknowledged`]).

use crate::node::Node;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;
use workroom_client::Connection;
use workroom_protocol::{ClientFrame, ClientMsgId, RoomId, ServerFrame};

/// How long a check waits for one frame.
const WAIT: Duration = Duration::from_secs(20);

/// How a send ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SendEnd {
    Acked {
        seq: u64,
        msg_id: String,
    },
    /// An `error` reply with this code: the server says it did not store it (or, on a
    /// commit whose outcome it could not learn, that the client must retry).
    Refused(String),
    /// No reply: the connection broke or the reply did not come.
    Lost,
}

/// An acknowledged upload.
#[derive(Debug, Clone)]
pub(crate) struct AckedFile {
    pub(crate) room: String,
    pub(crate) id: String,
    pub(crate) sha256: String,
}

#[derive(Default)]
struct Book {
    /// Every send attempted, by `client_msg_id`: its room and body, and how it ended last.
    sends: BTreeMap<String, (String, String, SendEnd)>,
    /// Live deliveries seen by listeners: (room, seq) → (msg_id, client_msg_id).
    delivered: HashMap<(String, u64), (String, Option<String>)>,
    files: Vec<AckedFile>,
    /// Uploads answered with an error, or not answered.
    uploads_refused: usize,
    /// Workrooms by bid: the room once acknowledged.
    bids: BTreeMap<String, Option<String>>,
    /// Contradictions seen as they happened (one seq acknowledged for two messages...).
    violations: Vec<String>,
}

/// The record of one scenario.
#[derive(Default)]
pub(crate) struct Ledger {
    book: Mutex<Book>,
}

/// A room as read back from the server.
pub(crate) struct StoredRoom {
    pub(crate) last_seq: u64,
    /// seq → (msg_id, client_msg_id, body).
    pub(crate) events: BTreeMap<u64, (String, Option<String>, String)>,
}

impl Ledger {
    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn send_ended(&self, cmid: &str, room: &str, body: &str, end: SendEnd) {
        let mut book = self.book();
        if let SendEnd::Acked { seq, msg_id } = &end {
            let clash = book
                .sends
                .iter()
                .find(|(other, (r, _, e))| {
                    other.as_str() != cmid
                        && r == room
                        && matches!(e, SendEnd::Acked { seq: s, .. } if s == seq)
                })
                .map(|(other, _)| other.clone());
            if let Some(other) = clash {
                book.violations.push(format!(
                    "seq {seq} of {room} acknowledged for {other} and {cmid}"
                ));
            }
            if let Some((
                _,
                _,
                SendEnd::Acked {
                    seq: before,
                    msg_id: id,
                },
            )) = book.sends.get(cmid)
                && (before != seq || id != msg_id)
            {
                let text =
                    format!("{cmid} acknowledged twice differently: seq {before} then {seq}");
                book.violations.push(text);
            }
        }
        // Once acknowledged, a later failed retry does not undo the acknowledgement.
        let keep = matches!(book.sends.get(cmid), Some((_, _, SendEnd::Acked { .. })))
            && !matches!(end, SendEnd::Acked { .. });
        if !keep {
            book.sends
                .insert(cmid.to_string(), (room.to_string(), body.to_string(), end));
        }
    }

    pub(crate) fn delivered(&self, room: &str, seq: u64, msg_id: &str, cmid: Option<&str>) {
        let mut book = self.book();
        let entry = (msg_id.to_string(), cmid.map(str::to_string));
        match book.delivered.get(&(room.to_string(), seq)) {
            Some(seen) if *seen != entry => {
                let text = format!("seq {seq} of {room} delivered as {seen:?} and as {entry:?}");
                book.violations.push(text);
            }
            _ => {
                book.delivered.insert((room.to_string(), seq), entry);
            }
        }
    }

    pub(crate) fn file_acked(&self, file: AckedFile) {
        self.book().files.push(file);
    }

    pub(crate) fn upload_refused(&self) {
        self.book().uploads_refused += 1;
    }

    pub(crate) fn uploads_refused(&self) -> usize {
        self.book().uploads_refused
    }

    pub(crate) fn bid_ended(&self, bid: &str, room: Option<String>) {
        let mut book = self.book();
        let known = book.bids.entry(bid.to_string()).or_default();
        match (&*known, room) {
            (Some(before), Some(now)) if *before != now => {
                let text = format!("bid {bid} acknowledged as room {before}, then {now}");
                book.violations.push(text);
            }
            (Some(_), _) => {}
            (None, now) => *known = now,
        }
    }

    pub(crate) fn acked_count(&self) -> usize {
        self.book()
            .sends
            .values()
            .filter(|(_, _, e)| matches!(e, SendEnd::Acked { .. }))
            .count()
    }

    pub(crate) fn files(&self) -> Vec<AckedFile> {
        self.book().files.clone()
    }

    pub(crate) fn acked_rooms(&self) -> Vec<(String, String)> {
        self.book()
            .bids
            .iter()
            .filter_map(|(bid, room)| room.clone().map(|r| (bid.clone(), r)))
            .collect()
    }

    pub(crate) fn unacked_bids(&self) -> Vec<String> {
        self.book()
            .bids
            .iter()
            .filter(|(_, room)| room.is_none())
            .map(|(bid, _)| bid.clone())
            .collect()
    }

    /// Write down a contradiction a driver saw.
    pub(crate) fn violation(&self, text: String) {
        self.book().violations.push(text);
    }

    /// Contradictions seen while the load ran.
    pub(crate) fn violations(&self) -> Vec<String> {
        self.book().violations.clone()
    }

    /// Read `rooms` back from `node` as `user` sees them (hello's `last_seq`, then a
    /// `resume` from 0) and check every promise about messages. Returns what is stored
    /// and the problems found. `refused_may_be_stored`: on PostgreSQL a commit whose
    /// connection broke is answered `unavailable` although it may have landed (the client
    /// retries with the same `client_msg_id`); on SQLite an `unavailable` means not stored.
    pub(crate) async fn check_timeline(
        &self,
        node: &Node,
        user: &str,
        rooms: &[String],
        refused_may_be_stored: bool,
    ) -> (HashMap<String, StoredRoom>, Vec<String>) {
        let stored = read_rooms(node, user, rooms).await;
        let mut problems = Vec::new();
        let book = self.book();
        let mut cmids_seen = HashSet::new();
        for (room, got) in &stored {
            let seqs: Vec<u64> = got.events.keys().copied().collect();
            let expected: Vec<u64> = (1..=got.last_seq).collect();
            if seqs != expected {
                problems.push(format!(
                    "{room}: stored seqs are not 1..={} without a gap ({} events, first missing: {:?})",
                    got.last_seq,
                    seqs.len(),
                    expected.iter().find(|s| !got.events.contains_key(s))
                ));
            }
            for (seq, (_, cmid, _)) in &got.events {
                if let Some(cmid) = cmid {
                    if !cmids_seen.insert(cmid.clone()) {
                        problems.push(format!("{cmid} is stored twice (again at seq {seq})"));
                    }
                    if !book.sends.contains_key(cmid) {
                        problems.push(format!("{cmid} at seq {seq} was never sent"));
                    }
                }
            }
        }
        for (cmid, (room, body, end)) in &book.sends {
            let Some(got) = stored.get(room) else {
                continue;
            };
            let found = got
                .events
                .iter()
                .find(|(_, (_, c, _))| c.as_deref() == Some(cmid.as_str()));
            match (end, found) {
                (SendEnd::Acked { seq, msg_id }, Some((at, (id, _, text)))) => {
                    if at != seq || id != msg_id {
                        problems.push(format!(
                            "{cmid} acknowledged as seq {seq} ({msg_id}) is stored as seq {at} ({id})"
                        ));
                    }
                    if text != body {
                        problems.push(format!("{cmid} is stored with another body"));
                    }
                }
                (SendEnd::Acked { seq, .. }, None) => {
                    problems.push(format!(
                        "{cmid} acknowledged as seq {seq} of {room} is lost"
                    ));
                }
                (SendEnd::Refused(code), Some((at, _))) if !refused_may_be_stored => {
                    problems.push(format!(
                        "{cmid} was refused ({code}) but is stored at seq {at}"
                    ));
                }
                _ => {}
            }
        }
        for ((room, seq), (msg_id, _)) in &book.delivered {
            match stored.get(room).and_then(|got| got.events.get(seq)) {
                Some((id, _, _)) if id == msg_id => {}
                Some((id, _, _)) => problems.push(format!(
                    "seq {seq} of {room} was delivered live as {msg_id} but is stored as {id}"
                )),
                None if stored.contains_key(room) => problems.push(format!(
                    "seq {seq} of {room} was delivered live ({msg_id}) but is not stored"
                )),
                None => {}
            }
        }
        (stored, problems)
    }

    /// Send again, with the same `client_msg_id` and body, everything that was never
    /// acknowledged; every retry must now be acknowledged. Returns how many were retried.
    pub(crate) async fn retry_unacknowledged(&self, node: &Node, user: &str) -> usize {
        let pending: Vec<(String, String, String)> = self
            .book()
            .sends
            .iter()
            .filter(|(_, (_, _, end))| !matches!(end, SendEnd::Acked { .. }))
            .map(|(cmid, (room, body, _))| (cmid.clone(), room.clone(), body.clone()))
            .collect();
        if pending.is_empty() {
            return 0;
        }
        let mut conn = Connection::connect(&node.ws(user))
            .await
            .expect("connect to retry");
        let _hello = conn.next(WAIT).await.expect("hello");
        for (i, (cmid, room, body)) in pending.iter().enumerate() {
            let id = format!("retry-{i}");
            conn.send(&ClientFrame::Send {
                id: Some(id.clone()),
                room: RoomId::try_from(room.as_str()).expect("room id"),
                client_msg_id: ClientMsgId::try_from(cmid.clone()).expect("cmid"),
                body: body.clone(),
                attachments: Vec::new(),
            })
            .await
            .expect("retry send");
            let end = loop {
                match conn.next(WAIT).await.expect("retry reply") {
                    ServerFrame::Ack {
                        id: Some(got),
                        seq,
                        msg_id,
                        ..
                    } if got == id => break SendEnd::Acked { seq, msg_id },
                    ServerFrame::Error {
                        id: Some(got),
                        code,
                        message,
                        ..
                    } if got == id => panic!("retry of {cmid} refused: {code:?} {message}"),
                    _ => continue,
                }
            };
            self.send_ended(cmid, room, body, end);
        }
        pending.len()
    }

    /// Every send ever attempted is stored exactly once, and nothing else: to be called
    /// after [`Ledger::retry_unacknowledged`].
    pub(crate) fn all_attempts_stored_once(
        &self,
        stored: &HashMap<String, StoredRoom>,
    ) -> Vec<String> {
        let book = self.book();
        let stored_cmids: usize = stored
            .values()
            .map(|r| r.events.values().filter(|(_, c, _)| c.is_some()).count())
            .sum();
        let mut problems = Vec::new();
        if stored_cmids != book.sends.len() {
            problems.push(format!(
                "{} sends attempted, {} stored",
                book.sends.len(),
                stored_cmids
            ));
        }
        problems
    }
}

/// Read `rooms` as `user`: hello's `last_seq` of each, then every event from a resume at 0.
async fn read_rooms(node: &Node, user: &str, rooms: &[String]) -> HashMap<String, StoredRoom> {
    let mut conn = Connection::connect(&node.ws(user))
        .await
        .expect("connect to read back");
    let last: HashMap<String, u64> = match conn.next(WAIT).await.expect("hello") {
        ServerFrame::Hello { rooms, .. } => rooms
            .into_iter()
            .map(|r| (r.id.to_string(), r.last_seq))
            .collect(),
        other => panic!("expected hello, got {other:?}"),
    };
    let mut out = HashMap::new();
    for room in rooms {
        let mut wanted = BTreeMap::new();
        wanted.insert(RoomId::try_from(room.as_str()).expect("room id"), 0);
        conn.send(&ClientFrame::Resume {
            id: Some(format!("read-{room}")),
            rooms: wanted,
        })
        .await
        .expect("resume");
        let mut events = BTreeMap::new();
        loop {
            match conn.next(WAIT).await.expect("resumed events") {
                ServerFrame::Message(m) if m.room.as_str() == room => {
                    events.insert(m.seq, (m.msg_id, m.client_msg_id, m.body));
                }
                ServerFrame::Resumed { .. } => break,
                _ => {}
            }
        }
        out.insert(
            room.clone(),
            StoredRoom {
                last_seq: last.get(room).copied().unwrap_or(0),
                events,
            },
        );
    }
    out
}

/// Fail with every problem, and the server's log, when there are any.
pub(crate) fn assert_none(what: &str, problems: &[String], node: &Node) {
    if !problems.is_empty() {
        let shown: Vec<&String> = problems.iter().take(25).collect();
        panic!(
            "{what}: {} problem(s):\n  {}\n--- server log (tail) ---\n{}",
            problems.len(),
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n  "),
            node.log_tail(60)
        );
    }
}
