//! The policy's other half: an allowing decision turned into the proof a content read needs
//! (`workroom_storage::proof`). [`Proofs`] holds the store's one `Mint` in a private field,
//! so these methods are the only way to a proof in the server, and each asks
//! [`decide`](super::decide) for its own act first. Audited acts come out
//! [`Unrecorded`]: the proof is usable only with the receipt of its audit entry
//! (`Committers::record_read`).

use super::{Act, Caller, Denied, Resource, decide};
use crate::auth::Identity;
use workroom_protocol::moderation::GrantScope;
use workroom_protocol::{Purpose, RoomId};
use workroom_storage::proof::{
    AuditRead, ConnectionsRead, FileRead, GrantHistory, LegalBundleRead, LegalExport, LiveView,
    Mint, NodeRelay, OwnContact, ReleasedContacts, ReportRead, RoomRead, ScreenshotsRead,
    Unrecorded,
};
use workroom_storage::{FileMeta, GrantRow, ReportRow, RoomAccessRow, ScreenshotFilter};

/// Mints proofs after the policy allowed the act they stand for.
#[derive(Debug)]
pub struct Proofs {
    mint: Mint,
}

const NO_SUCH_ROOM: Denied = Denied::new(workroom_protocol::ErrorCode::NotFound, "no such room");

/// A room id as proofs carry it: validated (a malformed one names no room).
fn room_id(id: &str) -> Result<RoomId, Denied> {
    RoomId::try_from(id).map_err(|_| NO_SUCH_ROOM)
}

/// Payment-guarantee review (services; audited): of a room's screenshots or one image.
fn allow_review(identity: &Identity) -> Result<(), Denied> {
    decide(
        Caller::Token(identity),
        Act::ReviewScreenshots,
        Purpose::PaymentGuarantee,
        Resource::Nothing,
    )
    .map(drop)
}

impl Proofs {
    pub fn new(mint: Mint) -> Proofs {
        Proofs { mint }
    }

    /// A legal officer's export reads everything in its scope (audited:
    /// `legal.export_requested` is its record).
    pub fn legal_export(
        &self,
        identity: &Identity,
        export: &str,
    ) -> Result<Unrecorded<LegalExport>, Denied> {
        decide(
            Caller::Token(identity),
            Act::ExportLegal,
            Purpose::LegalDisclosure,
            Resource::Nothing,
        )?;
        Ok(self.mint.legal_export(export))
    }

    /// A legal officer downloads a built bundle (audited: `legal.export_downloaded`).
    pub fn legal_bundle(
        &self,
        identity: &Identity,
        export: &str,
    ) -> Result<Unrecorded<LegalBundleRead>, Denied> {
        decide(
            Caller::Token(identity),
            Act::DownloadLegalBundle,
            Purpose::LegalDisclosure,
            Resource::Nothing,
        )?;
        Ok(self.mint.legal_bundle(export))
    }

    /// The node relays another node's commits to its own sessions (C15). No caller asks
    /// for it, so there is nothing to decide: what it reads goes only to the hub, where
    /// each session keeps what its own proof and purpose allow, exactly as with this
    /// node's commits (`session_receives`, `readable_stored`).
    pub fn node_relay(&self, room: &RoomId) -> NodeRelay {
        self.mint.node_relay(room)
    }

    /// A member reads a room (history, resume and gap fill, members) through `access`.
    pub fn read_room(
        &self,
        caller: Caller<'_>,
        access: Option<&RoomAccessRow>,
    ) -> Result<RoomRead, Denied> {
        decide(
            caller,
            Act::ReadRoom,
            Purpose::Participation,
            Resource::Room(access),
        )?;
        let room = access.ok_or(NO_SUCH_ROOM)?;
        Ok(self.mint.room_read(&room_id(&room.room_id)?))
    }

    /// A moderator watches the grant's room live (scope `live`).
    pub fn watch(
        &self,
        identity: &Identity,
        grant: &GrantRow,
        now: i64,
    ) -> Result<Unrecorded<LiveView>, Denied> {
        self.under_grant(
            identity,
            Act::WatchUnderGrant,
            Purpose::Moderation,
            grant,
            GrantScope::Live,
            now,
        )?;
        Ok(self.mint.live_view(&room_id(&grant.room_id)?))
    }

    /// A moderator pages the grant's room's history with earlier versions (scope `history`).
    pub fn grant_history(
        &self,
        identity: &Identity,
        grant: &GrantRow,
        now: i64,
    ) -> Result<Unrecorded<GrantHistory>, Denied> {
        self.under_grant(
            identity,
            Act::ReadHistoryUnderGrant,
            Purpose::Moderation,
            grant,
            GrantScope::History,
            now,
        )?;
        Ok(self.mint.grant_history(&room_id(&grant.room_id)?))
    }

    /// A moderator links the grant's room's members to their connections (scope
    /// `connections`, for security).
    pub fn grant_connections(
        &self,
        identity: &Identity,
        grant: &GrantRow,
        now: i64,
    ) -> Result<Unrecorded<ConnectionsRead>, Denied> {
        self.under_grant(
            identity,
            Act::ReadConnectionsUnderGrant,
            Purpose::Security,
            grant,
            GrantScope::Connections,
            now,
        )?;
        Ok(self.mint.connections_read(&room_id(&grant.room_id)?))
    }

    /// A moderator downloads a file attached in the grant's room (scope `files`).
    pub fn grant_file(
        &self,
        identity: &Identity,
        grant: &GrantRow,
        file: &FileMeta,
        now: i64,
    ) -> Result<Unrecorded<FileRead>, Denied> {
        decide(
            Caller::Token(identity),
            Act::ReadFileUnderGrant,
            Purpose::Moderation,
            Resource::GrantFile { grant, file, now },
        )?;
        Ok(self.mint.audited_file_read(&file.id))
    }

    /// A moderator reads a report's case: exactly its messages.
    pub fn report(
        &self,
        identity: &Identity,
        report: &ReportRow,
    ) -> Result<Unrecorded<ReportRead>, Denied> {
        decide(
            Caller::Token(identity),
            Act::ReadReport,
            Purpose::Moderation,
            Resource::Report(report),
        )?;
        Ok(self
            .mint
            .report_read(&room_id(&report.room_id)?, report.msg_ids.clone()))
    }

    /// A moderator downloads a file of a reported message.
    pub fn reported_file(
        &self,
        identity: &Identity,
        report: &ReportRow,
        file: &FileMeta,
    ) -> Result<Unrecorded<FileRead>, Denied> {
        decide(
            Caller::Token(identity),
            Act::ReadReportedFile,
            Purpose::Moderation,
            Resource::ReportFile { report, file },
        )?;
        Ok(self.mint.audited_file_read(&file.id))
    }

    /// A member downloads a file of a room they read (or gets a link to it).
    pub fn room_file(
        &self,
        caller: Caller<'_>,
        access: Option<&RoomAccessRow>,
        room_id: &str,
        file: &FileMeta,
    ) -> Result<FileRead, Denied> {
        let act = match caller {
            Caller::LinkBearer(_) => Act::ReadFileByLink,
            _ => Act::ReadFile,
        };
        decide(
            caller,
            act,
            Purpose::Participation,
            Resource::RoomFile {
                room: access,
                room_id,
                file,
            },
        )?;
        Ok(self.mint.file_read(&file.id))
    }

    /// A member keeps their own contact details.
    pub fn own_contact(&self, identity: &Identity) -> Result<OwnContact, Denied> {
        decide(
            Caller::Token(identity),
            Act::KeepOwnContact,
            Purpose::Participation,
            Resource::Nothing,
        )?;
        Ok(self.mint.own_contact(identity.user()))
    }

    /// A contract party reads what was released to them in a room.
    pub fn released_contacts(
        &self,
        identity: &Identity,
        access: Option<&RoomAccessRow>,
        party: bool,
        retained: bool,
    ) -> Result<ReleasedContacts, Denied> {
        decide(
            Caller::Token(identity),
            Act::ReadReleasedContacts,
            Purpose::Participation,
            Resource::Contacts {
                room: access,
                party,
                retained,
            },
        )?;
        let room = access.ok_or(NO_SUCH_ROOM)?;
        Ok(self
            .mint
            .released_contacts(&room_id(&room.room_id)?, identity.user()))
    }

    /// A member (or the bearer of a link) sees a room's screenshots, or one of them: the
    /// resource says which; the filter is theirs.
    pub fn screenshots(
        &self,
        caller: Caller<'_>,
        room: &str,
        resource: Resource<'_>,
        filter: ScreenshotFilter<'_>,
    ) -> Result<ScreenshotsRead, Denied> {
        decide(
            caller,
            Act::ReadScreenshots,
            Purpose::PaymentGuarantee,
            resource,
        )?;
        Ok(self.mint.screenshots_read(&room_id(room)?, filter))
    }

    /// A member (or the bearer of a link) downloads one screenshot's image.
    pub fn screenshot_image(
        &self,
        caller: Caller<'_>,
        resource: Resource<'_>,
        file: &str,
    ) -> Result<FileRead, Denied> {
        decide(
            caller,
            Act::ReadScreenshots,
            Purpose::PaymentGuarantee,
            resource,
        )?;
        Ok(self.mint.file_read(file))
    }

    /// Payment-guarantee review of every screenshot of a room (services; audited).
    pub fn review_screenshots(
        &self,
        identity: &Identity,
        room: &str,
    ) -> Result<Unrecorded<ScreenshotsRead>, Denied> {
        allow_review(identity)?;
        Ok(self
            .mint
            .audited_screenshots_read(&room_id(room)?, ScreenshotFilter::All))
    }

    /// Payment-guarantee review downloads a screenshot's image (services; audited).
    pub fn review_screenshot_image(
        &self,
        identity: &Identity,
        file: &str,
    ) -> Result<Unrecorded<FileRead>, Denied> {
        allow_review(identity)?;
        Ok(self.mint.audited_file_read(file))
    }

    /// An auditor reads the audit trail.
    pub fn audit(&self, identity: &Identity) -> Result<AuditRead, Denied> {
        decide(
            Caller::Token(identity),
            Act::ReadAudit,
            Purpose::Oversight,
            Resource::Nothing,
        )?;
        Ok(self.mint.audit_read())
    }

    fn under_grant(
        &self,
        identity: &Identity,
        act: Act,
        purpose: Purpose,
        grant: &GrantRow,
        scope: GrantScope,
        now: i64,
    ) -> Result<(), Denied> {
        decide(
            Caller::Token(identity),
            act,
            purpose,
            Resource::Grant {
                grant,
                scope: Some(scope),
                now,
            },
        )
        .map(|_| ())
    }
}
