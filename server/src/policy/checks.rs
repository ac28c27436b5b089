//! The second half of a decision: once the role and purpose fit the act, does the resource
//! allow it? A room through the caller's access, a file through its room, a grant's owner,
//! state and scope, a report's messages, a screenshot's team and sharing, contacts between
//! contract parties.

use super::{
    Act, Caller, Denied, FORBIDDEN, NO_SUCH_FILE, NO_SUCH_ROOM, NO_SUCH_SCREENSHOT, PURGED,
    Resource, readable_stored,
};
use workroom_protocol::moderation::{GrantScope, GrantState};
use workroom_protocol::{ErrorCode, Purpose};
use workroom_storage::{AccountRole, FileMeta, GrantRow, RoomAccessRow, ScreenshotRow};

pub(super) fn check_resource(
    caller: Caller<'_>,
    act: Act,
    resource: Resource<'_>,
) -> Result<(), Denied> {
    match resource {
        Resource::Nothing => match act {
            // Acts that need no resource.
            Act::Probe
            | Act::Connect
            | Act::OpenSession
            | Act::Provision
            | Act::ListRooms
            | Act::ListOwnReports
            | Act::OpenGrant
            | Act::ListGrants
            | Act::ListReports
            | Act::ReadAudit
            | Act::KeepOwnContact
            | Act::KeepWorkView
            | Act::RevokeOwnBot
            | Act::ReviewScreenshots
            | Act::Logout
            | Act::RevokeTokens
            | Act::Terminate
            | Act::CheckBan
            | Act::ReadRetention
            | Act::ChangeRetention
            | Act::ManageHolds
            | Act::ListHolds
            | Act::ListErasures
            | Act::ExportLegal
            | Act::ListLegalExports
            | Act::DownloadLegalBundle
            | Act::ReadLegalPublicKey
            | Act::ReadAnalytics
            | Act::ReadApiDescription
            | Act::ServePage
            | Act::RedeemSignIn => Ok(()),
            _ => Err(FORBIDDEN),
        },
        Resource::Room(access) => match act {
            Act::ReadRoom | Act::ReadFile | Act::FileReport | Act::ListEndedGrants => {
                check_room(access, RoomAction::Read)
            }
            Act::WriteRoom => check_room(access, RoomAction::Write),
            Act::OpenGrant => Ok(()),
            _ => Err(FORBIDDEN),
        },
        Resource::RoomFile {
            room,
            room_id,
            file,
        } => match act {
            Act::ReadFile | Act::ReadFileByLink | Act::ReadRoom => {
                check_room(room, RoomAction::Read)?;
                let user = caller.user().ok_or(NO_SUCH_FILE)?;
                check_file(file, room_id, user)
            }
            _ => Err(FORBIDDEN),
        },
        Resource::Grant { grant, scope, now } => match act {
            Act::ApproveGrant => {
                if caller.user() == Some(grant.moderator_id.as_str()) {
                    return Err(Denied::new(
                        ErrorCode::Forbidden,
                        "a grant must be approved by a second moderator",
                    ));
                }
                match grant.state(now) {
                    GrantState::Pending => Ok(()),
                    _ => Err(Denied::new(
                        ErrorCode::Conflict,
                        "only a pending grant can be approved",
                    )),
                }
            }
            Act::RevokeGrant => {
                if grant.state(now).is_ended() {
                    Err(Denied::new(
                        ErrorCode::Conflict,
                        "the grant has already ended",
                    ))
                } else {
                    Ok(())
                }
            }
            Act::ReadHistoryUnderGrant
            | Act::ReadFileUnderGrant
            | Act::WatchUnderGrant
            | Act::ReadConnectionsUnderGrant
            | Act::PostNotice => {
                let needed = match act {
                    Act::ReadHistoryUnderGrant => GrantScope::History,
                    Act::ReadFileUnderGrant => GrantScope::Files,
                    Act::WatchUnderGrant => GrantScope::Live,
                    Act::ReadConnectionsUnderGrant => GrantScope::Connections,
                    _ => GrantScope::Notice,
                };
                if scope != Some(needed) {
                    return Err(FORBIDDEN);
                }
                check_grant_use(caller, grant, needed, now)
            }
            _ => Err(FORBIDDEN),
        },
        Resource::GrantFile { grant, file, now } => match act {
            Act::ReadFileUnderGrant => {
                check_grant_use(caller, grant, GrantScope::Files, now)?;
                // Any file that was attached in that room; withdrawn ones stay evidence.
                if file.room_id == grant.room_id
                    && file.msg_id.is_some()
                    && readable_stored(file.purpose, Purpose::Moderation)
                {
                    Ok(())
                } else {
                    Err(NO_SUCH_FILE)
                }
            }
            _ => Err(FORBIDDEN),
        },
        Resource::Report(_) => match act {
            Act::ReadReport | Act::CloseReport => Ok(()),
            _ => Err(FORBIDDEN),
        },
        Resource::Contacts {
            room,
            party,
            retained,
        } => match act {
            Act::ReleaseContacts | Act::ReadReleasedContacts => {
                check_contacts(room, party, retained)
            }
            _ => Err(FORBIDDEN),
        },
        Resource::TrackerTarget {
            contractor_party,
            contractor_role,
            closed,
            work_view,
        } => match act {
            Act::PostScreenshot if !contractor_party => Err(NO_SUCH_ROOM),
            Act::PostScreenshot => {
                // The contractor must still be able to post there themselves: an ended
                // contract's room, or a contractor no longer in their account, takes nothing.
                may_post(contractor_role.ok_or(NO_SUCH_ROOM)?, closed)?;
                if work_view {
                    Ok(())
                } else {
                    Err(Denied::new(
                        ErrorCode::Conflict,
                        "the contractor's Work View is off",
                    ))
                }
            }
            _ => Err(FORBIDDEN),
        },
        Resource::Screenshots {
            room,
            client_side,
            teams_of,
            shot,
        } => match act {
            Act::ReadScreenshots | Act::ShareScreenshot => {
                check_room(room, RoomAction::Read)?;
                // A screenshot is its contractor's team's, and the client side's while shared;
                // to anyone else (another contractor of a shared room) it does not exist.
                let visible = |shot: &ScreenshotRow| {
                    room.is_some_and(|r| r.room_id == shot.room_id)
                        && (teams_of.contains(&shot.contractor_id) || (shot.shared && client_side))
                };
                match (act, shot) {
                    (Act::ReadScreenshots, None) => Ok(()),
                    (_, Some(shot)) if !visible(shot) => Err(NO_SUCH_SCREENSHOT),
                    (Act::ReadScreenshots, Some(_)) => Ok(()),
                    (_, None) => Err(NO_SUCH_SCREENSHOT),
                    (_, Some(shot)) if caller.user() != Some(shot.contractor_id.as_str()) => {
                        Err(Denied::new(
                            ErrorCode::Forbidden,
                            "only the contractor shares or un-shares their screenshots",
                        ))
                    }
                    (_, Some(_)) => Ok(()),
                }
            }
            _ => Err(FORBIDDEN),
        },
        Resource::ReportFile { report, file } => match act {
            Act::ReadReportedFile => {
                let carried_by_reported = file.room_id == report.room_id
                    && readable_stored(file.purpose, Purpose::Moderation)
                    && file
                        .msg_id
                        .as_ref()
                        .is_some_and(|m| report.msg_ids.contains(m));
                if carried_by_reported {
                    Ok(())
                } else {
                    Err(NO_SUCH_FILE)
                }
            }
            _ => Err(FORBIDDEN),
        },
    }
}

/// Contact details pass only between the contract parties of a room the caller can see,
/// while the room is open or within retention after it closed.
fn check_contacts(
    access: Option<&RoomAccessRow>,
    party: bool,
    retained: bool,
) -> Result<(), Denied> {
    check_room(access, RoomAction::Read)?;
    if !party {
        return Err(Denied::new(
            ErrorCode::Forbidden,
            "contact details are exchanged only between the contract parties",
        ));
    }
    if !retained {
        return Err(Denied::new(
            ErrorCode::Forbidden,
            "this workroom closed past its retention period; contact details are no longer available",
        ));
    }
    Ok(())
}

/// A moderator acts under a grant: it must be theirs, active, and cover `scope`.
fn check_grant_use(
    caller: Caller<'_>,
    grant: &GrantRow,
    scope: GrantScope,
    now: i64,
) -> Result<(), Denied> {
    if caller.user() != Some(grant.moderator_id.as_str()) {
        return Err(Denied::new(
            ErrorCode::Forbidden,
            "this grant belongs to another moderator",
        ));
    }
    match grant.state(now) {
        GrantState::Active => {}
        GrantState::Pending => {
            return Err(Denied::new(
                ErrorCode::Forbidden,
                "the grant is awaiting a second moderator's approval",
            ));
        }
        GrantState::Revoked => {
            return Err(Denied::new(ErrorCode::Forbidden, "the grant was revoked"));
        }
        GrantState::Expired => {
            return Err(Denied::new(ErrorCode::Forbidden, "the grant has expired"));
        }
    }
    if !grant.allows(scope) {
        return Err(Denied::new(
            ErrorCode::Forbidden,
            "the grant's scope does not cover this",
        ));
    }
    Ok(())
}

/// What a member wants to do in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomAction {
    /// History, resume, members, read markers.
    Read,
    /// Send, edit, delete, typing.
    Write,
}

/// The decision for one room, given the caller's access row (or `None` when the caller
/// cannot see the room at all).
fn check_room(access: Option<&RoomAccessRow>, action: RoomAction) -> Result<(), Denied> {
    let Some(access) = access else {
        return Err(NO_SUCH_ROOM);
    };
    if access.purged {
        return Err(PURGED);
    }
    match action {
        RoomAction::Read => Ok(()),
        RoomAction::Write => may_post(access.role, access.closed),
    }
}

/// May someone with `role` in a room's account post there?
fn may_post(role: AccountRole, closed: bool) -> Result<(), Denied> {
    if !role.can_send() {
        Err(Denied::new(
            ErrorCode::Forbidden,
            "viewers of an account cannot post in its workrooms",
        ))
    } else if closed {
        Err(Denied::new(
            ErrorCode::Conflict,
            "the contract ended; this workroom is read-only",
        ))
    } else {
        Ok(())
    }
}

/// The decision for one file of a room the caller may read. Files the caller may not see
/// are `not_found`, like files that do not exist.
fn check_file(file: &FileMeta, room_id: &str, user: &str) -> Result<(), Denied> {
    if file.room_id != room_id || file.deleted_at.is_some() {
        return Err(NO_SUCH_FILE);
    }
    if !readable_stored(file.purpose, Purpose::Participation) {
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
    may_post(role, closed).is_ok()
}
