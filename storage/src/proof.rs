//! Proof that the policy allowed a read of content or personal data.
//!
//! Every repository method that returns message bodies, files, members' personal data,
//! contact details, screenshots or connection links takes one of these values, and nothing
//! outside this module can make one: their fields are private and the only constructor is
//! [`Mint`], of which the store hands out exactly one ([`Store::take_mint`]). The server
//! gives it to its policy, so the only way to a content read is through an allowing
//! decision; a route that forgets to ask does not compile.
//!
//! An audited read (a moderator's, a payment-guarantee review) is minted as
//! [`Unrecorded`]: its proof comes out only with a [`Receipt`], and a receipt is made only
//! when an audit entry commits (one per entry: [`Store::append_audit`], the committers'
//! group commit). So a read that skips its audit record does not compile either.

use crate::Store;
use std::sync::atomic::Ordering;
use workroom_protocol::RoomId;

/// The one maker of proofs (see the module doc). Not `Clone`.
#[derive(Debug)]
pub struct Mint {
    _sealed: (),
}

/// The proof that an audit entry committed: one per entry.
#[derive(Debug)]
pub struct Receipt {
    _sealed: (),
}

impl Receipt {
    pub(crate) fn one() -> Receipt {
        Receipt { _sealed: () }
    }

    pub(crate) fn for_entries(count: usize) -> Vec<Receipt> {
        (0..count).map(|_| Receipt { _sealed: () }).collect()
    }
}

/// A proof that is usable only once its read has been recorded in the audit trail.
#[derive(Debug)]
#[must_use = "an audited read has to be recorded (`redeem` with a receipt) before it is used"]
pub struct Unrecorded<T> {
    proof: T,
}

impl<T> Unrecorded<T> {
    /// The proof, given the receipt of the read's audit entry.
    pub fn redeem(self, receipt: Receipt) -> T {
        let Receipt { _sealed: () } = receipt;
        self.proof
    }
}

/// A member reads a room: its timeline (history, resume, gap fill) and its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomRead {
    room: RoomId,
}

/// The node relays a room's newly committed events to its own sessions (C15): events
/// another node committed, read once per node and handed to the hub, where each session
/// keeps only what its own proof and purpose let it read, exactly as with the events this
/// node's committers publish. No caller asks for it; nothing read with it leaves the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRelay {
    room: RoomId,
}

/// A moderator watches a room live under a grant: its timeline, from now on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveView {
    room: RoomId,
}

/// A moderator pages a room's history, earlier versions included, under a grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantHistory {
    room: RoomId,
}

/// A moderator reads exactly the messages of one report (and their earlier versions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRead {
    room: RoomId,
    messages: Vec<String>,
}

/// Someone may download one file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRead {
    file: String,
}

/// A user reads their own contact details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnContact {
    user: String,
}

/// A party reads the contact details released to them in a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleasedContacts {
    room: RoomId,
    reader: String,
}

/// A moderator links a room's members to their (pseudonymised) connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionsRead {
    room: RoomId,
}

/// Which of a room's screenshots a reader sees.
#[derive(Debug, Clone, Copy)]
pub enum ScreenshotFilter<'a> {
    /// Every one (payment-guarantee review).
    All,
    /// Those of `contractors` (the reader's own team's), and the shared ones when the reader
    /// is on the client side.
    Visible {
        client_side: bool,
        contractors: &'a [String],
    },
}

/// An auditor reads the audit trail (oversight).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRead {
    _sealed: (),
}

/// Someone lists a room's screenshots, as far as the policy's filter lets them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreenshotsRead {
    room: RoomId,
    /// `None`: every one (payment-guarantee review); else the filter's fields.
    visible: Option<(bool, Vec<String>)>,
}

impl Mint {
    pub fn audit_read(&self) -> AuditRead {
        AuditRead { _sealed: () }
    }

    pub fn legal_export(&self, export: &str) -> Unrecorded<LegalExport> {
        audited(LegalExport {
            export: export.to_string(),
        })
    }

    pub fn legal_bundle(&self, export: &str) -> Unrecorded<LegalBundleRead> {
        audited(LegalBundleRead {
            export: export.to_string(),
        })
    }

    pub fn room_read(&self, room: &RoomId) -> RoomRead {
        RoomRead { room: room.clone() }
    }

    pub fn node_relay(&self, room: &RoomId) -> NodeRelay {
        NodeRelay { room: room.clone() }
    }

    pub fn live_view(&self, room: &RoomId) -> Unrecorded<LiveView> {
        audited(LiveView { room: room.clone() })
    }

    pub fn grant_history(&self, room: &RoomId) -> Unrecorded<GrantHistory> {
        audited(GrantHistory { room: room.clone() })
    }

    pub fn report_read(&self, room: &RoomId, messages: Vec<String>) -> Unrecorded<ReportRead> {
        audited(ReportRead {
            room: room.clone(),
            messages,
        })
    }

    pub fn file_read(&self, file: &str) -> FileRead {
        FileRead { file: file.into() }
    }

    pub fn audited_file_read(&self, file: &str) -> Unrecorded<FileRead> {
        audited(self.file_read(file))
    }

    pub fn own_contact(&self, user: &str) -> OwnContact {
        OwnContact { user: user.into() }
    }

    pub fn released_contacts(&self, room: &RoomId, reader: &str) -> ReleasedContacts {
        ReleasedContacts {
            room: room.clone(),
            reader: reader.into(),
        }
    }

    pub fn connections_read(&self, room: &RoomId) -> Unrecorded<ConnectionsRead> {
        audited(ConnectionsRead { room: room.clone() })
    }

    pub fn screenshots_read(&self, room: &RoomId, filter: ScreenshotFilter<'_>) -> ScreenshotsRead {
        ScreenshotsRead {
            room: room.clone(),
            visible: match filter {
                ScreenshotFilter::All => None,
                ScreenshotFilter::Visible {
                    client_side,
                    contractors,
                } => Some((client_side, contractors.to_vec())),
            },
        }
    }

    pub fn audited_screenshots_read(
        &self,
        room: &RoomId,
        filter: ScreenshotFilter<'_>,
    ) -> Unrecorded<ScreenshotsRead> {
        audited(self.screenshots_read(room, filter))
    }
}

/// A legal officer's disclosure export (C12; audited): reads everything in the export's
/// scope (its rows name the scope and bounds), for legal disclosure only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalExport {
    export: String,
}

/// One workroom inside a [`LegalExport`]'s scope: made by the store only for rooms the
/// export covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalRoom {
    room: RoomId,
}

/// A legal officer downloads a built bundle (audited).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalBundleRead {
    export: String,
}

impl LegalExport {
    pub fn export(&self) -> &str {
        &self.export
    }
}

impl LegalRoom {
    pub(crate) fn new(room: RoomId) -> LegalRoom {
        LegalRoom { room }
    }

    pub fn room(&self) -> &str {
        self.room.as_str()
    }

    /// The room's members, as a member's read would list them (names and emails unless
    /// erased).
    pub fn room_read(&self) -> RoomRead {
        RoomRead {
            room: self.room.clone(),
        }
    }

    /// The content of one of this room's files; `None` for a file of another room.
    pub fn file_read(&self, file: &crate::FileMeta) -> Option<FileRead> {
        (file.room_id == self.room.as_str()).then(|| FileRead {
            file: file.id.clone(),
        })
    }
}

impl LegalBundleRead {
    pub fn export(&self) -> &str {
        &self.export
    }
}

fn audited<T>(proof: T) -> Unrecorded<T> {
    Unrecorded { proof }
}

mod sealed {
    pub trait Sealed {}
}

/// Proofs that open a room's timeline (bodies of messages, edits, deletes).
pub trait TimelineRead: sealed::Sealed {
    fn room(&self) -> &str;
}

/// Proofs that open earlier versions of messages (the compliance record).
pub trait PriorRead: sealed::Sealed {
    fn room(&self) -> &str;
}

macro_rules! room_proof {
    ($($ty:ty),*) => {
        $(impl sealed::Sealed for $ty {})*
    };
}
room_proof!(
    RoomRead,
    NodeRelay,
    LiveView,
    GrantHistory,
    ReportRead,
    LegalRoom
);

impl TimelineRead for NodeRelay {
    fn room(&self) -> &str {
        self.room.as_str()
    }
}

impl TimelineRead for LegalRoom {
    fn room(&self) -> &str {
        self.room.as_str()
    }
}

impl PriorRead for LegalRoom {
    fn room(&self) -> &str {
        self.room.as_str()
    }
}

impl TimelineRead for RoomRead {
    fn room(&self) -> &str {
        self.room.as_str()
    }
}

impl TimelineRead for LiveView {
    fn room(&self) -> &str {
        self.room.as_str()
    }
}

impl TimelineRead for GrantHistory {
    fn room(&self) -> &str {
        self.room.as_str()
    }
}

impl PriorRead for GrantHistory {
    fn room(&self) -> &str {
        self.room.as_str()
    }
}

impl PriorRead for ReportRead {
    fn room(&self) -> &str {
        self.room.as_str()
    }
}

impl RoomRead {
    pub fn room(&self) -> &str {
        self.room.as_str()
    }

    pub fn room_id(&self) -> &RoomId {
        &self.room
    }
}

impl ReportRead {
    pub fn room(&self) -> &str {
        self.room.as_str()
    }

    pub fn messages(&self) -> &[String] {
        &self.messages
    }
}

impl FileRead {
    pub fn file(&self) -> &str {
        &self.file
    }
}

impl OwnContact {
    pub fn user(&self) -> &str {
        &self.user
    }
}

impl ReleasedContacts {
    pub(crate) fn room(&self) -> &str {
        self.room.as_str()
    }

    pub(crate) fn reader(&self) -> &str {
        &self.reader
    }
}

impl ConnectionsRead {
    pub fn room(&self) -> &str {
        self.room.as_str()
    }
}

impl ScreenshotsRead {
    pub fn room(&self) -> &str {
        self.room.as_str()
    }

    pub(crate) fn filter(&self) -> ScreenshotFilter<'_> {
        match &self.visible {
            None => ScreenshotFilter::All,
            Some((client_side, contractors)) => ScreenshotFilter::Visible {
                client_side: *client_side,
                contractors,
            },
        }
    }
}

impl Store {
    /// The store's one [`Mint`]: the first call gets it, every later one `None`. The server
    /// hands it to its policy at start.
    pub fn take_mint(&self) -> Option<Mint> {
        (!self.mint_taken.swap(true, Ordering::SeqCst)).then_some(Mint { _sealed: () })
    }
}
