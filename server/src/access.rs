//! Authorization: the one module that decides what an identity may do. Deny by default.
//!
//! Every HTTP route and every WebSocket frame handler asks here, through one of the
//! functions below, before it touches data. The rules of the real-time core:
//!
//! - WebSocket sessions are for `member` tokens; other roles get `forbidden` (moderator live
//!   views arrive with access grants, bots read nothing).
//! - A member sees a room only through membership in one of the room's party accounts. A
//!   room they cannot see is `not_found`, exactly like a room that does not exist, so room
//!   ids cannot be probed.
//! - Owners and members of a party account send; viewers read only (`forbidden`).
//! - A closed room is read-only for everyone (`conflict` on send).
//! - Marketplace service calls need a `service` token.
//! - The audit trail is read by `auditor` tokens only.
//! - Files: a reader of the room sees a file once it is attached to a message, and the
//!   uploader also sees their own upload before it is attached. Deleting the carrying
//!   message withdraws the file from members. Uploading is a write. A signed link is only a
//!   bearer of the same check for the user it was issued to, made again at download time.

use crate::auth::Identity;
use workroom_protocol::{ErrorCode, Role};
use workroom_storage::{AccountRole, FileMeta, RoomAccessRow};

/// What a caller wants to do in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomAction {
    /// History, resume, members, read markers.
    Read,
    /// Send, edit, delete, typing.
    Write,
}

/// A refusal, with the wire code and a message safe to show the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub code: ErrorCode,
    pub message: &'static str,
}

impl Denied {
    const fn new(code: ErrorCode, message: &'static str) -> Self {
        Denied { code, message }
    }
}

const NO_SUCH_ROOM: Denied = Denied::new(ErrorCode::NotFound, "no such room");
const NO_SUCH_FILE: Denied = Denied::new(ErrorCode::NotFound, "no such file");

/// May this identity open a WebSocket session?
pub fn may_open_session(identity: &Identity) -> Result<(), Denied> {
    match identity.role {
        Role::Member => Ok(()),
        _ => Err(Denied::new(
            ErrorCode::Forbidden,
            "this role cannot open a messaging session",
        )),
    }
}

/// May this identity make marketplace service calls?
pub fn may_call_marketplace(identity: &Identity) -> Result<(), Denied> {
    match identity.role {
        Role::Service => Ok(()),
        _ => Err(Denied::new(
            ErrorCode::Forbidden,
            "marketplace calls need a service token",
        )),
    }
}

/// May this identity read the audit trail (`GET /v1/audit`)? Auditors only.
pub fn may_read_audit(identity: &Identity) -> Result<(), Denied> {
    match identity.role {
        Role::Auditor => Ok(()),
        _ => Err(Denied::new(
            ErrorCode::Forbidden,
            "the audit trail is for auditor tokens",
        )),
    }
}

/// May this identity read member-facing room data over HTTP?
pub fn may_use_member_api(identity: &Identity) -> Result<(), Denied> {
    may_open_session(identity)
}

/// The decision for one room, given the caller's access row (or `None` when the caller
/// cannot see the room at all).
pub fn check_room(access: Option<&RoomAccessRow>, action: RoomAction) -> Result<(), Denied> {
    let Some(access) = access else {
        return Err(NO_SUCH_ROOM);
    };
    match action {
        RoomAction::Read => Ok(()),
        RoomAction::Write if !access.role.can_send() => Err(Denied::new(
            ErrorCode::Forbidden,
            "viewers of an account cannot post in its workrooms",
        )),
        RoomAction::Write if access.closed => Err(Denied::new(
            ErrorCode::Conflict,
            "the contract ended; this workroom is read-only",
        )),
        RoomAction::Write => Ok(()),
    }
}

/// The decision for one file of a room the caller may read (checked by [`check_room`]
/// first). Files the caller may not see are `not_found`, like files that do not exist.
pub fn check_file(file: &FileMeta, room_id: &str, user: &str) -> Result<(), Denied> {
    if file.room_id != room_id || file.deleted_at.is_some() {
        return Err(NO_SUCH_FILE);
    }
    if file.msg_id.is_some() || file.uploader_id == user {
        Ok(())
    } else {
        Err(NO_SUCH_FILE)
    }
}

/// Whether a role in a room may send right now (for `hello`).
pub fn can_send(role: AccountRole, closed: bool) -> bool {
    role.can_send() && !closed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(role: AccountRole, closed: bool) -> RoomAccessRow {
        RoomAccessRow {
            room_id: "r".into(),
            role,
            last_seq: 0,
            read_seq: 0,
            closed,
        }
    }

    #[test]
    fn unseen_rooms_are_not_found_for_every_action() {
        for action in [RoomAction::Read, RoomAction::Write] {
            assert_eq!(
                check_room(None, action).unwrap_err().code,
                ErrorCode::NotFound
            );
        }
    }

    #[test]
    fn viewers_read_but_do_not_write() {
        let viewer = row(AccountRole::Viewer, false);
        assert!(check_room(Some(&viewer), RoomAction::Read).is_ok());
        assert_eq!(
            check_room(Some(&viewer), RoomAction::Write)
                .unwrap_err()
                .code,
            ErrorCode::Forbidden
        );
    }

    fn file(uploader: &str, msg_id: Option<&str>, deleted: bool) -> FileMeta {
        FileMeta {
            id: "f".into(),
            room_id: "r".into(),
            uploader_id: uploader.into(),
            name: Some("n".into()),
            erased: false,
            declared_type: None,
            sniffed_type: "text/plain".into(),
            size: 1,
            sha256: String::new(),
            msg_id: msg_id.map(str::to_string),
            created_at: 0,
            deleted_at: deleted.then_some(1),
        }
    }

    #[test]
    fn files_are_seen_once_attached_and_lost_with_their_message() {
        let pending = file("u1", None, false);
        assert!(
            check_file(&pending, "r", "u1").is_ok(),
            "uploader sees own upload"
        );
        assert_eq!(
            check_file(&pending, "r", "u2").unwrap_err().code,
            ErrorCode::NotFound
        );
        let attached = file("u1", Some("m"), false);
        assert!(check_file(&attached, "r", "u2").is_ok());
        assert_eq!(
            check_file(&attached, "other", "u2").unwrap_err().code,
            ErrorCode::NotFound
        );
        let deleted = file("u1", Some("m"), true);
        assert_eq!(
            check_file(&deleted, "r", "u1").unwrap_err().code,
            ErrorCode::NotFound
        );
        assert_eq!(
            check_file(&deleted, "r", "u2").unwrap_err().code,
            ErrorCode::NotFound
        );
    }

    #[test]
    fn closed_rooms_are_read_only() {
        let owner = row(AccountRole::Owner, true);
        assert!(check_room(Some(&owner), RoomAction::Read).is_ok());
        assert_eq!(
            check_room(Some(&owner), RoomAction::Write)
                .unwrap_err()
                .code,
            ErrorCode::Conflict
        );
    }
}
