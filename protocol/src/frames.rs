//! WebSocket frames. Client frames decode into one closed enum so the server dispatches in
//! one `match`; server frames serialize from another. Both are internally tagged by `type`.
//!
//! Sequence numbers count every timeline event of a room (a message, an edit, a delete), so
//! that "resume from seq N" replays edits and deletes too, with no gap and no duplicate.

use crate::error::ErrorCode;
use crate::ids::{ClientMsgId, RoomId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Default and maximum page size of `history`.
pub const HISTORY_DEFAULT_LIMIT: u32 = 50;
pub const HISTORY_MAX_LIMIT: u32 = 200;

/// Every frame a client may send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[derive(strum::EnumDiscriminants)]
#[strum_discriminants(
    name(FrameKind),
    derive(strum::EnumIter, strum::IntoStaticStr, Hash),
    strum(serialize_all = "snake_case"),
    doc = "The type of a client frame: the enum itself, so a new frame type is a new kind."
)]
pub enum ClientFrame {
    /// Browser authentication: must be the first frame when no `Authorization` header was
    /// sent on the upgrade.
    Auth { token: String },
    /// Post a message. Idempotent on (room, sender, `client_msg_id`).
    Send {
        #[serde(default)]
        id: Option<String>,
        room: RoomId,
        client_msg_id: ClientMsgId,
        body: String,
        /// Ids of files the sender uploaded to this room (`POST /v1/rooms/{room}/files`)
        /// and has not attached elsewhere.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<String>,
    },
    /// Replay everything after the given seq of each room, then `resumed`.
    Resume {
        #[serde(default)]
        id: Option<String>,
        rooms: BTreeMap<RoomId, u64>,
    },
    /// One page of history: the newest `limit` messages with `seq < before_seq`.
    History {
        #[serde(default)]
        id: Option<String>,
        room: RoomId,
        #[serde(default)]
        before_seq: Option<u64>,
        #[serde(default)]
        limit: Option<u32>,
    },
    /// Move the caller's read marker forward to `seq`.
    Read {
        #[serde(default)]
        id: Option<String>,
        room: RoomId,
        seq: u64,
    },
    /// The caller is typing (ephemeral, never stored).
    Typing {
        #[serde(default)]
        id: Option<String>,
        room: RoomId,
    },
    /// Replace the body of one of the caller's own messages.
    Edit {
        #[serde(default)]
        id: Option<String>,
        room: RoomId,
        /// The seq of the message to edit.
        seq: u64,
        body: String,
        #[serde(default)]
        client_msg_id: Option<ClientMsgId>,
    },
    /// Delete one of the caller's own messages (the room shows a tombstone).
    Delete {
        #[serde(default)]
        id: Option<String>,
        room: RoomId,
        /// The seq of the message to delete.
        seq: u64,
        #[serde(default)]
        client_msg_id: Option<ClientMsgId>,
    },
    /// The members of a room with their names and emails (released on opening, C1).
    Members {
        #[serde(default)]
        id: Option<String>,
        room: RoomId,
    },
    /// Moderators: start the live view of a grant's workroom (scope `live`).
    Watch {
        #[serde(default)]
        id: Option<String>,
        grant: String,
    },
    /// Moderators: end a live view.
    Unwatch {
        #[serde(default)]
        id: Option<String>,
        grant: String,
    },
    /// Liveness probe at the application level; answered with `pong`.
    Ping {
        #[serde(default)]
        id: Option<String>,
    },
}

impl ClientFrame {
    /// The wire name of the frame type (its `type`), for metrics and logs.
    pub fn kind(&self) -> &'static str {
        FrameKind::from(self).into()
    }

    /// The request id, when the frame carries one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            ClientFrame::Auth { .. } => None,
            ClientFrame::Send { id, .. }
            | ClientFrame::Resume { id, .. }
            | ClientFrame::History { id, .. }
            | ClientFrame::Read { id, .. }
            | ClientFrame::Typing { id, .. }
            | ClientFrame::Edit { id, .. }
            | ClientFrame::Delete { id, .. }
            | ClientFrame::Members { id, .. }
            | ClientFrame::Watch { id, .. }
            | ClientFrame::Unwatch { id, .. }
            | ClientFrame::Ping { id } => id.as_deref(),
        }
    }

    /// The room the frame acts on, when it names exactly one.
    pub fn room(&self) -> Option<&RoomId> {
        match self {
            ClientFrame::Send { room, .. }
            | ClientFrame::History { room, .. }
            | ClientFrame::Read { room, .. }
            | ClientFrame::Typing { room, .. }
            | ClientFrame::Edit { room, .. }
            | ClientFrame::Delete { room, .. }
            | ClientFrame::Members { room, .. } => Some(room),
            ClientFrame::Auth { .. }
            | ClientFrame::Resume { .. }
            | ClientFrame::Watch { .. }
            | ClientFrame::Unwatch { .. }
            | ClientFrame::Ping { .. } => None,
        }
    }

    /// Every client frame type's wire name, in declaration order: derived from the enum
    /// the server dispatches on, so tests that walk it cannot miss a type.
    pub fn kinds() -> impl Iterator<Item = &'static str> {
        <FrameKind as strum::IntoEnumIterator>::iter().map(<&'static str>::from)
    }
}

/// A room as listed in `hello`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct RoomSummary {
    pub id: RoomId,
    pub last_seq: u64,
    /// The caller's persisted read marker.
    #[serde(default)]
    pub read_seq: u64,
    /// `true` once the contract ended: readable, no longer writable.
    #[serde(default)]
    pub closed: bool,
    /// `true` when the caller may send (account role owner or member, room open).
    #[serde(default)]
    pub can_send: bool,
    /// For a closed room: when it will be purged (RFC 3339), after which nothing of it can
    /// be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_at: Option<String>,
}

/// The kind of a timeline event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Message,
    Edit,
    Delete,
}

/// A timeline event as delivered live, replayed on resume, and paged in history.
///
/// For `kind = message` it is exactly the SPEC `message` frame. Edits and deletes are
/// delivered as `edited` / `deleted` frames carrying `target_seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct MessageView {
    pub room: RoomId,
    pub seq: u64,
    pub msg_id: String,
    pub sender: String,
    pub body: String,
    pub ts: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_msg_id: Option<String>,
    /// Set when the message was edited; the body is the latest version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_ts: Option<String>,
    /// `true` for a deleted message (the body is empty).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// Ids of the files attached to the message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<String>,
    /// Set when the stored body cannot be shown (the body is empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<Unreadable>,
    /// `true` for a system notice posted by a moderator under a grant (not a member's
    /// message; `sender` is the moderator).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub notice: bool,
}

/// Why a stored item cannot be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Unreadable {
    /// Its key was destroyed (account terminated, workroom purged): gone for good.
    Erased,
    /// It failed its integrity check (altered at rest); the server logged it.
    Damaged,
}

/// A member of a room as returned by `members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct MemberView {
    pub user: String,
    pub account: String,
    /// `client` or `contractor`.
    pub side: String,
    /// The account role: `owner`, `member` or `viewer`.
    pub role: String,
    /// `true` for the user named on the accepted bid (the contract party).
    pub party: bool,
    /// Name and email are released for contract parties only (policy: emails are shared
    /// once a project is awarded); team members are listed without them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `true` when the person's personal data was erased (their key destroyed).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub erased: bool,
    /// `true` for a contract party whose membership was terminated: `user` is a label
    /// (`former~…`, stable within the workroom) that names nobody; their messages carry
    /// the same label as `sender`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub former: bool,
    /// Whether the member has a session open on the server now (presence, C3): listed to
    /// the room's members only, never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online: Option<bool>,
}

/// Every frame the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
#[derive(strum::EnumDiscriminants)]
#[strum_discriminants(
    name(ServerFrameKind),
    derive(strum::EnumIter, strum::IntoStaticStr, Hash),
    strum(serialize_all = "snake_case"),
    doc = "The type of a server frame: the enum itself, so a new frame type is a new kind."
)]
pub enum ServerFrame {
    Hello {
        user: String,
        rooms: Vec<RoomSummary>,
    },
    Ack {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        room: RoomId,
        seq: u64,
        msg_id: String,
        ts: String,
    },
    Message(MessageView),
    Edited {
        room: RoomId,
        seq: u64,
        target_seq: u64,
        msg_id: String,
        sender: String,
        body: String,
        ts: String,
    },
    Deleted {
        room: RoomId,
        seq: u64,
        target_seq: u64,
        msg_id: String,
        sender: String,
        ts: String,
    },
    Resumed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// Rooms whose replay was capped (`limits.resume_max_events`): for each, the seq
        /// the replay started at. Messages after the client's last seen seq and before it
        /// were not sent: page them with `history` `before_seq` = that seq.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        truncated: BTreeMap<RoomId, u64>,
    },
    History {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        room: RoomId,
        messages: Vec<MessageView>,
    },
    /// Someone's read marker moved (also confirms the caller's own `read`).
    Read {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        room: RoomId,
        user: String,
        seq: u64,
    },
    Typing {
        room: RoomId,
        user: String,
    },
    Members {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        room: RoomId,
        members: Vec<MemberView>,
    },
    /// A room became visible to the caller (a bid was accepted, an account role granted).
    RoomOpened {
        room: RoomSummary,
    },
    /// The contract ended: the room is read-only from now on.
    RoomClosed {
        room: RoomId,
    },
    /// The caller lost access to a room (removed from the account).
    RoomRemoved {
        room: RoomId,
    },
    Pong {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// A Tracker screenshot was posted or re-shared (members of the room; the client side
    /// only sees shared ones).
    Screenshot {
        room: RoomId,
        screenshot: crate::tracker::ScreenshotView,
    },
    /// A screenshot was un-shared: remove it from the client side's view.
    ScreenshotRemoved {
        room: RoomId,
        id: String,
    },
    /// A member of the room came online (their first session opened) or went offline
    /// (their last one closed). Sent to the room's members only; never stored.
    Presence {
        room: RoomId,
        user: String,
        online: bool,
    },
    /// Contact details were released between two parties of a room (sent to both).
    ContactReleased {
        room: RoomId,
        between: [String; 2],
    },
    /// Moderators: the live view of a grant's workroom started; `message`, `edited` and
    /// `deleted` frames of that room follow.
    Watching {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        room: RoomId,
        grant: String,
        expires_at: String,
    },
    /// Moderators: a live view ended. `reason`: `unwatched`, `revoked`, `expired`.
    WatchEnded {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        room: RoomId,
        grant: String,
        reason: String,
    },
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        code: ErrorCode,
        message: String,
        /// With `rate_limited`: milliseconds until the refused request would be accepted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
}

impl ServerFrame {
    /// Every server frame type's wire name, in declaration order (see
    /// [`ClientFrame::kinds`]).
    pub fn kinds() -> impl Iterator<Item = &'static str> {
        <ServerFrameKind as strum::IntoEnumIterator>::iter().map(<&'static str>::from)
    }

    pub fn error(id: Option<String>, code: ErrorCode, message: impl Into<String>) -> Self {
        ServerFrame::Error {
            id,
            code,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    /// A `rate_limited` refusal, with when to retry.
    pub fn rate_limited(
        id: Option<String>,
        retry_after_ms: u64,
        message: impl Into<String>,
    ) -> Self {
        ServerFrame::Error {
            id,
            code: ErrorCode::RateLimited,
            message: message.into(),
            retry_after_ms: Some(retry_after_ms),
        }
    }

    /// Serialize to the JSON text sent on the socket. Serialization of these types cannot
    /// fail (string keys, no non-finite floats).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| {
            r#"{"type":"error","code":"internal","message":"encoding failed"}"#.to_string()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One frame of each kind: the match is exhaustive, so a new kind needs a sample here.
    fn sample(kind: FrameKind) -> ClientFrame {
        let room = RoomId::try_from("r1").unwrap();
        let id = None;
        match kind {
            FrameKind::Auth => ClientFrame::Auth { token: "t".into() },
            FrameKind::Send => ClientFrame::Send {
                id,
                room,
                client_msg_id: ClientMsgId::try_from("c1".to_string()).unwrap(),
                body: "b".into(),
                attachments: Vec::new(),
            },
            FrameKind::Resume => ClientFrame::Resume {
                id,
                rooms: BTreeMap::new(),
            },
            FrameKind::History => ClientFrame::History {
                id,
                room,
                before_seq: None,
                limit: None,
            },
            FrameKind::Read => ClientFrame::Read { id, room, seq: 1 },
            FrameKind::Typing => ClientFrame::Typing { id, room },
            FrameKind::Edit => ClientFrame::Edit {
                id,
                room,
                seq: 1,
                body: "b".into(),
                client_msg_id: None,
            },
            FrameKind::Delete => ClientFrame::Delete {
                id,
                room,
                seq: 1,
                client_msg_id: None,
            },
            FrameKind::Members => ClientFrame::Members { id, room },
            FrameKind::Watch => ClientFrame::Watch {
                id,
                grant: "g".into(),
            },
            FrameKind::Unwatch => ClientFrame::Unwatch {
                id,
                grant: "g".into(),
            },
            FrameKind::Ping => ClientFrame::Ping { id },
        }
    }

    #[test]
    fn every_kind_is_named_as_on_the_wire() {
        let kinds: Vec<&str> = ClientFrame::kinds().collect();
        assert_eq!(kinds.len(), 12);
        for kind in <FrameKind as strum::IntoEnumIterator>::iter() {
            let frame = sample(kind);
            let wire = serde_json::to_value(&frame).unwrap();
            assert_eq!(wire["type"], frame.kind(), "{frame:?}");
            assert_eq!(serde_json::from_value::<ClientFrame>(wire).unwrap(), frame);
        }
    }

    #[test]
    fn send_frame_matches_spec() {
        let f: ClientFrame = serde_json::from_str(
            r#"{"type":"send","id":"r1","room":"room1","client_msg_id":"c1","body":"hi"}"#,
        )
        .unwrap();
        assert_eq!(f.kind(), "send");
        assert_eq!(f.request_id(), Some("r1"));
    }

    #[test]
    fn message_frame_is_flat() {
        let frame = ServerFrame::Message(MessageView {
            room: RoomId::try_from("r").unwrap(),
            seq: 3,
            msg_id: "m".into(),
            sender: "u".into(),
            body: "b".into(),
            ts: "2026-01-01T00:00:00Z".into(),
            client_msg_id: Some("c".into()),
            edited_ts: None,
            deleted: false,
            attachments: vec!["f1".into()],
            unreadable: None,
            notice: false,
        });
        let v: serde_json::Value = serde_json::from_str(&frame.to_json()).unwrap();
        assert_eq!(v["type"], "message");
        assert_eq!(v["seq"], 3);
        assert_eq!(v["client_msg_id"], "c");
        assert_eq!(v["attachments"][0], "f1");
        assert!(v.get("deleted").is_none());
        assert!(v.get("unreadable").is_none());
    }

    #[test]
    fn resume_takes_a_map() {
        let f: ClientFrame =
            serde_json::from_str(r#"{"type":"resume","id":"r2","rooms":{"a":1,"b":0}}"#).unwrap();
        match f {
            ClientFrame::Resume { rooms, .. } => assert_eq!(rooms.len(), 2),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unknown_fields_and_types_are_refused() {
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"nope"}"#).is_err());
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"ping","x":1}"#).is_err());
    }
}
