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

mod acts;
mod checks;
pub mod guard;
mod proofs;

pub use acts::Act;
pub use checks::{RoomAction, can_send};
pub use proofs::Proofs;

use checks::check_resource;

use crate::auth::Identity;
use workroom_protocol::moderation::GrantScope;
use workroom_protocol::{ErrorCode, Purpose, Role};
use workroom_storage::{AccountRole, FileMeta, GrantRow, ReportRow, RoomAccessRow, ScreenshotRow};

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
const PURGED: Denied = Denied::new(
    ErrorCode::NotFound,
    "this workroom was purged: its retention period ended and nothing of it remains",
);
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

/// May a session of `role` be told who is online in a workroom it follows? Members only
/// (C3): a moderator's live view reads the conversation, not who is present, and bots
/// have no sessions.
pub fn session_receives_presence(role: Role) -> bool {
    role == Role::Member
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
        (Act::RevokeTokens | Act::Terminate | Act::CheckBan, _) => Denied::new(
            ErrorCode::Forbidden,
            "marketplace calls need a service token",
        ),
        (Act::ReadRetention | Act::ChangeRetention, _) => Denied::new(
            ErrorCode::Forbidden,
            "retention is set by the marketplace (service token) or an admin",
        ),
        (Act::ManageHolds, _) => Denied::new(
            ErrorCode::Forbidden,
            "legal holds are placed and lifted by legal officers (legal token)",
        ),
        (Act::ListHolds, _) => Denied::new(
            ErrorCode::Forbidden,
            "legal holds are listed for legal officers and admins",
        ),
        (Act::ListErasures, _) => Denied::new(
            ErrorCode::Forbidden,
            "deferred erasures are listed for admins",
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

#[cfg(test)]
mod tests;
