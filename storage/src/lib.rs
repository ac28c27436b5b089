//! Workroom's persistence layer. The server reaches the database only through the
//! repositories here; sea-orm entities and connections never leave this crate.
//!
//! Two backends, one code path: SQLite (embedded default, WAL, one writer) and PostgreSQL
//! (several server processes on one database). Every invariant that must hold across
//! processes (gap-free per-room seqs, idempotent sends, one room per bid, one shared room per
//! project) is enforced by the database inside a transaction, never by process memory.
//!
//! Content and personal data are sealed before they reach a table or an object store
//! ([`keyring`]); file bytes go to a [`blob`] store (local disk or S3) as ciphertext only.

pub mod audit;
pub mod blob;
mod body;
pub mod clock;
mod db;
mod entity;
mod error;
pub mod keyring;
mod migration;
pub mod proof;
pub mod repo;
mod time;

pub use body::{BodyError, MessageBody};
pub use clock::{Clock, ClockControl};
pub use db::{Backend, DatabaseOptions, DatabaseProbe, SqliteSync, Store};
pub use error::StorageError;
pub use keyring::{KeyScope, Keyring, MasterKey, MasterKeySet, Unreadable};
pub use repo::access::{AccountRole, RoomAccessRow, RoomParty, RoomSides};
pub use repo::analytics::{DailyCount, DailyCounts, Metric, utc_day};
pub use repo::connections::{ConnectionRecord, LinkedConnection, SessionUser};
pub use repo::contacts::{Contact, ReleaseError, ReleasedContactRow};
pub use repo::files::{
    FileCompanion, FileError, FileMeta, FileUpload, NewFile, StoredFile, sanitize_file_name,
};
pub use repo::grants::{GrantChangeError, GrantRow, NewGrant};
pub use repo::legal::exports::{BundleUpload, ExportRow, ExportState, NewExport, STOPPED_BUILD};
pub use repo::legal::reads::{LegalRoomInfo, PersonRecord};
pub use repo::lifecycle::bans::{BanIdentity, BanRow};
pub use repo::lifecycle::erasure::FORMER_PREFIX;
pub use repo::lifecycle::holds::{HoldRow, LegalScope};
pub use repo::lifecycle::pending::{KeyDestruction, PendingErasure};
pub use repo::lifecycle::purge::{PurgeCounts, PurgeOptions, PurgeOutcome, RoomRetention};
pub use repo::lifecycle::termination::{TerminationOutcome, TerminationReason};
pub use repo::lifecycle::tokens::{RevocationEvent, RevokedTokens, TokenFacts};
pub use repo::messages::{
    AppendError, AppendOutcome, BatchCommit, EventKindRow, NewEvent, NewEventKind, StoredEvent,
};
pub use repo::reports::{NewReport, ReportError, ReportFilter, ReportRow};
pub use repo::rooms::{AcceptOutcome, EndOutcome, MemberRow, PartyInput};
pub use repo::screenshots::{NewScreenshot, ScreenshotFilter, ScreenshotRow};
