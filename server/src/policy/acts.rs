//! The acts of the policy and its table: who may perform each act, for which purpose, and
//! whether it is audited. Deny by default: an act not in a role's row is refused.

use workroom_protocol::{Purpose, Role};

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
    /// Revoke one's own token (logout).
    Logout,
    /// Revoke every token of a user issued before a time (marketplace).
    RevokeTokens,
    /// Terminate a user's membership or a team account (marketplace).
    Terminate,
    /// Ask whether an identity is banned (marketplace).
    CheckBan,
    /// Read a room's retention and purge date.
    ReadRetention,
    /// Change a room's retention, or ask for its purge now.
    ChangeRetention,
    /// Place or lift a legal hold.
    ManageHolds,
    /// List legal holds.
    ListHolds,
    /// List erasures a legal hold deferred.
    ListErasures,
    /// Ask for a legal disclosure export (reads everything in its scope).
    ExportLegal,
    /// Read the state of legal exports.
    ListLegalExports,
    /// Download a built disclosure bundle.
    DownloadLegalBundle,
    /// Read the public key bundles are signed with (public: anyone may check a bundle).
    ReadLegalPublicKey,
    /// Read the anonymous daily analytics.
    ReadAnalytics,
    /// Read the machine-readable API description (`/v1/openapi.json`, the frame schemas):
    /// the interface, no data, the same for everyone.
    ReadApiDescription,
    /// Fetch the web client's page and its scripts and styles: code, no data, the same for
    /// everyone (the page itself signs in and asks the API like any client).
    ServePage,
    /// Trade a one-time development sign-in code for its token (the web client's link from
    /// `workroom token --sign-in-link`; the code is the credential).
    RedeemSignIn,
}

/// Who may perform an act, for which purpose, and whether it is audited.
pub(super) struct Rule {
    /// `None`: no token needed.
    pub(super) allowed: &'static [(Option<Role>, Purpose)],
    pub(super) audited: bool,
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
        Act::Logout,
        Act::RevokeTokens,
        Act::Terminate,
        Act::CheckBan,
        Act::ReadRetention,
        Act::ChangeRetention,
        Act::ManageHolds,
        Act::ListHolds,
        Act::ListErasures,
        Act::ExportLegal,
        Act::ListLegalExports,
        Act::DownloadLegalBundle,
        Act::ReadLegalPublicKey,
        Act::ReadAnalytics,
        Act::ReadApiDescription,
        Act::ServePage,
        Act::RedeemSignIn,
    ];

    /// The roles that may perform the act, in table order, each once (`None`: no token):
    /// what the API description (`crate::api_docs`) states for each route.
    pub fn roles(self) -> Vec<Option<Role>> {
        let mut roles: Vec<Option<Role>> = Vec::new();
        for (role, _) in self.rule().allowed {
            if !roles.contains(role) {
                roles.push(*role);
            }
        }
        roles
    }

    pub(super) fn rule(self) -> Rule {
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
            // Every person's token may end itself (a bot token is revoked by its contractor).
            Act::Logout => (
                &[
                    (MEMBER, Security),
                    (MODERATOR, Security),
                    (Some(Role::Legal), Security),
                    (Some(Role::Auditor), Security),
                    (Some(Role::Service), Security),
                    (Some(Role::Admin), Security),
                ],
                true,
            ),
            Act::RevokeTokens => (&[(Some(Role::Service), Security)], true),
            Act::Terminate => (&[(Some(Role::Service), Participation)], true),
            Act::CheckBan => (&[(Some(Role::Service), Security)], false),
            // The marketplace decides a workroom's purpose period; an admin runs the service.
            Act::ReadRetention => (
                &[
                    (Some(Role::Service), Participation),
                    (Some(Role::Admin), Operations),
                ],
                false,
            ),
            Act::ChangeRetention => (
                &[
                    (Some(Role::Service), Participation),
                    (Some(Role::Admin), Operations),
                ],
                true,
            ),
            Act::ManageHolds => (&[(Some(Role::Legal), LegalDisclosure)], true),
            Act::ListHolds => (
                &[
                    (Some(Role::Legal), LegalDisclosure),
                    (Some(Role::Admin), Operations),
                ],
                false,
            ),
            Act::ListErasures => (&[(Some(Role::Admin), Operations)], false),
            // Legal officers only: moderators, admins, auditors and services never export.
            Act::ExportLegal | Act::DownloadLegalBundle => {
                (&[(Some(Role::Legal), LegalDisclosure)], true)
            }
            Act::ListLegalExports => (&[(Some(Role::Legal), LegalDisclosure)], false),
            Act::ReadLegalPublicKey => (&[(None, LegalDisclosure)], false),
            // Aggregates only: this purpose reads no item (`readable` is false for it).
            Act::ReadAnalytics => (
                &[
                    (Some(Role::Service), AnonymousAnalytics),
                    (Some(Role::Admin), AnonymousAnalytics),
                ],
                false,
            ),
            // The page is public code carrying nothing personal, like the probes: asked
            // without a token (a browser's navigation carries none).
            Act::ServePage => (&[(None, Operations)], false),
            // Like the first-frame `auth`: no token yet, the code stands for one.
            Act::RedeemSignIn => (&[(None, Participation)], false),
            // The API's own description: public, asked without a token so that independent
            // clients can be written against it; it reads no item.
            Act::ReadApiDescription => (&[(None, Operations)], false),
        };
        Rule { allowed, audited }
    }
}
