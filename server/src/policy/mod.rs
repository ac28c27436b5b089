//! The policy: the one module that decides every read and write (C5, C6). Deny by default.
//!
//! A handler asks [`decide`] with who is calling ([`Caller`]), what they want to do
//! ([`Act`]), the purpose the act serves ([`Purpose`]) and the resource it touches
//! ([`Resource`]). The answer is a refusal with a wire code, or a [`Decision`] that says
//! whether the act must be written to the audit trail before anything is returned. Every
//! act has a fixed table of the roles that may perform it and the purpose each serves; a
//! pair not in that table is refused, whatever the resource.
//!
//! Items carry the purpose they were collected for. [`readable`] says which read purposes
//! may see an item of which collection purpose; a read for another purpose is refused (or
//! the item left out of a page).
//!
//! [`guard`] makes bypassing this module visible: an HTTP route that answers with success,
//! or a WebSocket frame handler that returns, without having asked [`decide`] is turned into
//! an `internal` error and counted (`workroom_policy_bypass_total`).
//!
//! The rules, in words (docs/compliance.md has the full table):
//! - Members reach a room only through one of its party accounts; a room they cannot see is
//!   `not_found`, like one that does not exist. Viewers read, owners and members write; a
//!   closed room is read-only.
//! - Files: readers see a file once attached; the uploader sees their own upload before.
//! - Moderators read a room only under a grant that is theirs, active (approved when
//!   four-eyes is on, not expired, not revoked) and whose scope covers the act. Without one
//!   they are like any outsider. Reports expose exactly the reported messages and their
//!   files. Moderators never post as members; a notice needs its own scope and the config.
//! - Bots read nothing. Auditors read the audit trail and nothing else. Services provision.

pub mod guard;
mod proofs;

pub use proofs::Proofs;

use crate::auth::Identity;
use workroom_protocol::moderation::{GrantScope, GrantState};
use workroom_protocol::{ErrorCode, Purpose, Role};
use workroom_storage::{AccountRole, FileMeta, GrantRow, ReportRow, RoomAccessRow, ScreenshotRow};

/// Everything a caller can ask to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Act {
    /// Health, readiness, metrics.
    Probe,
    /// Accept a WebSocket upgrade that will authenticate with its first frame (browsers);
    /// the session itself is decided by `OpenSession` once the token is known.
    Connect,
    /// Open a WebSocket session.
    OpenSession,
    /// Marketplace calls: open and close workrooms, change account membership.
    Provision,
    /// List the caller's rooms.
    ListRooms,
    /// History, resume, members, read markers, file metadata.
    ReadRoom,
    /// Send, edit, delete, typing, upload.
    WriteRoom,
    /// Download a file of a room, or get a link to it.
    ReadFile,
    /// Download through a signed link.
    ReadFileByLink,
    /// Report messages of a room.
    FileReport,
    /// The caller's own reports and their state.
    ListOwnReports,
    /// The ended grants of a room (transparency).
    ListEndedGrants,
    OpenGrant,
    ListGrants,
    ApproveGrant,
    RevokeGrant,
    /// Page a room's history under a grant (prior versions included).
    ReadHistoryUnderGrant,
    /// Download a room's file under a grant.
    ReadFileUnderGrant,
    /// Watch a room live under a grant.
    WatchUnderGrant,
    /// Link a room's members to their (pseudonymised) connections under a grant.
    ReadConnectionsUnderGrant,
    /// Post a system notice under a grant.
    PostNotice,
    ListReports,
    /// Read a report's case (the reported messages).
    ReadReport,
    /// Download a file attached to a reported message.
    ReadReportedFile,
    CloseReport,
    /// Read the audit trail.
    ReadAudit,
    /// Keep one's own contact details (`PUT`/`GET /v1/me/contact`).
    KeepOwnContact,
    /// Release contact details with the other party of a room (both ways).
    ReleaseContacts,
    /// Read the contact details released to one in a room.
    ReadReleasedContacts,
    /// Turn one's Work View (Tracker screenshots) on or off, or read it.
    KeepWorkView,
    /// Revoke a bot token that acts for oneself.
    RevokeOwnBot,
    /// The Tracker posts a screenshot for its contractor.
    PostScreenshot,
    /// List or download a room's screenshots (the client side: shared ones only).
    ReadScreenshots,
    /// Share or un-share one's own screenshot.
    ShareScreenshot,
    /// Payment-guarantee review of a room's screenshots, shared or not.
    ReviewScreenshots,
}

/// Who may perform an act, for which purpose, and whether it is audited.
struct Rule {
    /// `None`: no token needed.
    allowed: &'static [(Option<Role>, Purpose)],
    audited: bool,
}

const MEMBER: Option<Role> = Some(Role::Member);
const MODERATOR: Option<Role> = Some(Role::Moderator);

impl Act {
    /// Every act, so tests can walk the table.
    pub const ALL: &'static [Act] = &[
        Act::Probe,
        Act::Connect,
        Act::OpenSession,
        Act::Provision,
        Act::ListRooms,
        Act::ReadRoom,
        Act::WriteRoom,
        Act::ReadFile,
        Act::ReadFileByLink,
        Act::FileReport,
        Act::ListOwnReports,
        Act::ListEndedGrants,
        Act::OpenGrant,
        Act::ListGrants,
        Act::ApproveGrant,
        Act::RevokeGrant,
        Act::ReadHistoryUnderGrant,
        Act::ReadFileUnderGrant,
        Act::WatchUnderGrant,
        Act::ReadConnectionsUnderGrant,
        Act::PostNotice,
        Act::ListReports,
        Act::ReadReport,
        Act::ReadReportedFile,
        Act::CloseReport,
        Act::ReadAudit,
        Act::KeepOwnContact,
        Act::ReleaseContacts,
        Act::ReadReleasedContacts,
        Act::KeepWorkView,
        Act::RevokeOwnBot,
        Act::PostScreenshot,
        Act::ReadScreenshots,
        Act::ShareScreenshot,
        Act::ReviewScreenshots,
    ];

    fn rule(self) -> Rule {
        use Purpose::*;
        let (allowed, audited): (&'static [(Option<Role>, Purpose)], bool) = match self {
            Act::Probe => (&[(None, Operations)], false),
            Act::Connect => (&[(None, Participation)], false),
            Act::OpenSession => (&[(MEMBER, Participation), (MODERATOR, Moderation)], false),
            Act::Provision => (&[(Some(Role::Service), Participation)], true),
            Act::ListRooms | Act::ReadRoom | Act::WriteRoom | Act::ReadFile => {
                (&[(MEMBER, Participation)], false)
            }
            // The link was issued to a member; the check is made again for that member.
            Act::ReadFileByLink => (&[(MEMBER, Participation)], false),
            Act::FileReport => (&[(MEMBER, Moderation)], true),
            Act::ListOwnReports | Act::ListEndedGrants => (&[(MEMBER, Moderation)], false),
            Act::ListGrants | Act::ListReports => (&[(MODERATOR, Moderation)], false),
            Act::OpenGrant
            | Act::ApproveGrant
            | Act::RevokeGrant
            | Act::ReadHistoryUnderGrant
            | Act::ReadFileUnderGrant
            | Act::WatchUnderGrant
            | Act::PostNotice
            | Act::ReadReport
            | Act::ReadReportedFile
            | Act::CloseReport => (&[(MODERATOR, Moderation)], true),
            Act::ReadConnectionsUnderGrant => (&[(MODERATOR, Security)], true),
            Act::ReadAudit => (&[(Some(Role::Auditor), Oversight)], false),
            Act::KeepOwnContact | Act::ReadReleasedContacts => (&[(MEMBER, Participation)], false),
            Act::ReleaseContacts => (&[(MEMBER, Participation)], true),
            Act::KeepWorkView => (&[(MEMBER, PaymentGuarantee)], true),
            Act::RevokeOwnBot => (&[(MEMBER, Security)], true),
            Act::PostScreenshot => (&[(Some(Role::Bot), PaymentGuarantee)], false),
            Act::ReadScreenshots => (&[(MEMBER, PaymentGuarantee)], false),
            Act::ShareScreenshot => (&[(MEMBER, PaymentGuarantee)], true),
            Act::ReviewScreenshots => (&[(Some(Role::Service), PaymentGuarantee)], true),
        };
        Rule { allowed, audited }
    }
}

/// Who is asking.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// No credentials (probes, signed links before they are checked).
    Anonymous,
    /// A verified token.
    Token(&'a Identity),
    /// The user a verified signed link was issued to (always a member).
    LinkBearer(&'a str),
}

impl Caller<'_> {
    fn role(&self) -> Option<Role> {
        match self {
            Caller::Anonymous => None,
            Caller::Token(identity) => Some(identity.role()),
            Caller::LinkBearer(_) => Some(Role::Member),
        }
    }

    fn user(&self) -> Option<&str> {
        match self {
            Caller::Anonymous => None,
            Caller::Token(identity) => Some(identity.user()),
            Caller::LinkBearer(user) => Some(user),
        }
    }
}

/// What the act touches.
#[derive(Debug, Clone, Copy)]
pub enum Resource<'a> {
    Nothing,
    /// A room, through the caller's access row (`None`: the caller cannot see it).
    Room(Option<&'a RoomAccessRow>),
    /// A file of a room the caller reaches through `room`.
    RoomFile {
        room: Option<&'a RoomAccessRow>,
        room_id: &'a str,
        file: &'a FileMeta,
    },
    /// A grant, for an act under it that needs `scope` (`None`: acts on the grant itself).
    Grant {
        grant: &'a GrantRow,
        scope: Option<GrantScope>,
        now: i64,
    },
    /// A file, under a grant.
    GrantFile {
        grant: &'a GrantRow,
        file: &'a FileMeta,
        now: i64,
    },
    /// A report.
    Report(&'a ReportRow),
    /// A file, through a report.
    ReportFile {
        report: &'a ReportRow,
        file: &'a FileMeta,
    },
    /// Where the Tracker posts: whether its contractor is one of the room's contractor-side
    /// parties, their role there now (`None`: they left their account), whether the contract
    /// ended, and whether their Work View is on.
    TrackerTarget {
        contractor_party: bool,
        contractor_role: Option<AccountRole>,
        closed: bool,
        work_view: bool,
    },
    /// A room's screenshots (or one of them), through the caller's access: whether they are
    /// on the client side, and the contractors whose team they belong to.
    Screenshots {
        room: Option<&'a RoomAccessRow>,
        client_side: bool,
        teams_of: &'a [String],
        shot: Option<&'a ScreenshotRow>,
    },
    /// Contact details in a room: the caller's access to it, whether the caller is one of
    /// its contract parties, and whether the room is open or closed within retention.
    Contacts {
        room: Option<&'a RoomAccessRow>,
        party: bool,
        retained: bool,
    },
}

/// An allowed act: the purpose it serves and whether it must be recorded first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub purpose: Purpose,
    /// Record the act in the audit trail before returning anything.
    pub audited: bool,
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
const NO_SUCH_SCREENSHOT: Denied = Denied::new(ErrorCode::NotFound, "no such screenshot");
const FORBIDDEN: Denied = Denied::new(ErrorCode::Forbidden, "not allowed for this token");

/// The one decision point. Records that the policy was consulted (see [`guard`]).
pub fn decide(
    caller: Caller<'_>,
    act: Act,
    purpose: Purpose,
    resource: Resource<'_>,
) -> Result<Decision, Denied> {
    let rule = act.rule();
    let role = caller.role();
    if !rule.allowed.iter().any(|(r, _)| *r == role) {
        return Err(role_refusal(act, role));
    }
    if !rule.allowed.contains(&(role, purpose)) {
        return Err(Denied::new(
            ErrorCode::Forbidden,
            "this act does not serve the stated purpose",
        ));
    }
    check_resource(caller, act, resource)?;
    // Marked only when allowed: a handler that ignores a refusal and answers anyway is
    // caught by the guard.
    guard::consulted();
    Ok(Decision {
        purpose,
        audited: rule.audited,
    })
}

/// The purpose a caller's WebSocket session serves.
pub fn session_purpose(role: Role) -> Purpose {
    match role {
        Role::Moderator => Purpose::Moderation,
        _ => Purpose::Participation,
    }
}

/// May a session of `role` receive a live frame carrying data collected for `purpose`? A
/// member's session follows their workrooms, where they also read payment-guarantee data
/// (screenshots, addressed to exactly the users who may see each); a moderator's live view
/// reads for moderation only.
pub fn session_receives(role: Role, purpose: Purpose) -> bool {
    match role {
        Role::Member => matches!(purpose, Purpose::Participation | Purpose::PaymentGuarantee),
        _ => readable(purpose, session_purpose(role)),
    }
}

/// May an item collected for `collected` be read for `read`? (C5)
pub fn readable(collected: Purpose, read: Purpose) -> bool {
    use Purpose::*;
    match collected {
        Participation => matches!(read, Participation | Moderation | LegalDisclosure),
        Moderation => matches!(read, Moderation | LegalDisclosure),
        PaymentGuarantee => matches!(read, PaymentGuarantee | LegalDisclosure),
        Security => matches!(read, Security | LegalDisclosure),
        LegalDisclosure => matches!(read, LegalDisclosure),
        // Aggregates, the trail and operational data are not items anyone reads for content.
        AnonymousAnalytics | Oversight | Operations => false,
    }
}

/// [`readable`] for a stored purpose name; an unknown name is never readable.
pub fn readable_name(collected: &str, read: Purpose) -> bool {
    readable_stored(Purpose::parse(collected), read)
}

/// [`readable`] for an item read back from storage: one whose purpose this server does not
/// know (`None`) is readable for no purpose (fail closed).
pub fn readable_stored(collected: Option<Purpose>, read: Purpose) -> bool {
    collected.is_some_and(|p| readable(p, read))
}

fn role_refusal(act: Act, role: Option<Role>) -> Denied {
    match (act, role) {
        (_, None) => Denied::new(ErrorCode::Unauthorized, "missing or invalid bearer token"),
        (Act::OpenSession, _) => Denied::new(
            ErrorCode::Forbidden,
            "this role cannot open a messaging session",
        ),
        (Act::WriteRoom, Some(Role::Moderator)) => {
            Denied::new(ErrorCode::Forbidden, "moderators cannot post as members")
        }
        (
            Act::ListRooms
            | Act::ReadRoom
            | Act::ReadFile
            | Act::FileReport
            | Act::ListOwnReports
            | Act::ListEndedGrants,
            Some(Role::Moderator),
        ) => Denied::new(
            ErrorCode::Forbidden,
            "moderators read workrooms only under a grant",
        ),
        (Act::Provision, _) => Denied::new(
            ErrorCode::Forbidden,
            "marketplace calls need a service token",
        ),
        (Act::ReadAudit, _) => Denied::new(
            ErrorCode::Forbidden,
            "the audit trail is for auditor tokens",
        ),
        (
            Act::OpenGrant
            | Act::ListGrants
            | Act::ApproveGrant
            | Act::RevokeGrant
            | Act::ReadHistoryUnderGrant
            | Act::ReadFileUnderGrant
            | Act::WatchUnderGrant
            | Act::ReadConnectionsUnderGrant
            | Act::PostNotice
            | Act::ListReports
            | Act::ReadReport
            | Act::ReadReportedFile
            | Act::CloseReport,
            _,
        ) => Denied::new(ErrorCode::Forbidden, "moderation needs a moderator token"),
        _ => FORBIDDEN,
    }
}

fn check_resource(caller: Caller<'_>, act: Act, resource: Resource<'_>) -> Result<(), Denied> {
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
            | Act::ReviewScreenshots => Ok(()),
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

#[cfg(test)]
mod tests;
