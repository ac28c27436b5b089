//! Building a legal disclosure bundle (C12): everything an export's scope covers, walked
//! page by page and streamed into the export's sealed object as a tar, each entry hashed on
//! the way, then the signed manifest. Memory is bounded by one page (at most
//! [`PAGE_LINES`] records or [`PAGE_BYTES`]) and one 64 KiB chunk of a file, whatever the
//! bundle's size.
//!
//! Layout (described for third parties in `docs/compliance.md`):
//!
//! ```text
//! rooms/<room>/room.json                 the workroom: times, state, hold, purge counts
//! rooms/<room>/members.json              its members as known (names and emails unless erased)
//! rooms/<room>/messages/000001.jsonl     its timeline in seq order, prior versions included
//! rooms/<room>/file-index/000001.jsonl   its files' metadata
//! rooms/<room>/files/<file>              each file's bytes as uploaded (decrypted)
//! people/000001.jsonl                    the people of the scope
//! audit/000001.jsonl                     the audit entries of the scope
//! manifest.json, manifest.sig
//! ```
//!
//! Nothing erased or purged comes back: a purged workroom is its tombstone, an erased body,
//! name or file is marked `erased` with no content.

use super::audit::entry_view;
use crate::bundle::{BundleError, BundleSink, LegalSigner, TarWriter};
use crate::events::rfc3339;
use crate::signing_key::hex;
use futures_util::StreamExt;
use serde::Serialize;
use std::sync::Arc;
use tokio::sync::Semaphore;
use workroom_protocol::Purpose;
use workroom_protocol::legal::{AuditHead, BUNDLE_FORMAT, MANIFEST_PATH, Manifest, SIGNATURE_PATH};
use workroom_storage::audit::{Actor, AuditAction};
use workroom_storage::blob::BlobStore;
use workroom_storage::proof::LegalExport;
use workroom_storage::{
    BundleUpload, EventKindRow, ExportRow, FileError, LegalRoomInfo, StorageError, Store,
    StoredEvent, StoredFile, Unreadable,
};

/// Records per page entry.
pub(super) const PAGE_LINES: usize = 1000;
/// Bytes per page entry (a page is written once it reaches this).
pub(super) const PAGE_BYTES: usize = 4 * 1024 * 1024;
/// Timeline events read per query.
const EVENT_BATCH: u64 = 500;
/// Files read per query.
const FILE_BATCH: u64 = 200;

/// Why a build failed. The message is shown to legal officers: it names ids, never content.
#[derive(Debug, thiserror::Error)]
pub(super) enum BuildError {
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    #[error("{0}")]
    Bundle(#[from] BundleError),
    #[error("file {file}: {reason}")]
    File { file: String, reason: String },
}

impl BundleSink for BundleUpload {
    async fn put(&mut self, bytes: &[u8]) -> Result<(), BundleError> {
        self.write(bytes)
            .await
            .map_err(|e| BundleError::Sink(e.to_string()))
    }
}

/// One export's build, run in a task of its own.
pub(super) struct BundleBuild {
    pub(super) store: Store,
    pub(super) blobs: BlobStore,
    pub(super) signer: Arc<LegalSigner>,
    pub(super) builds: Arc<Semaphore>,
    pub(super) read: LegalExport,
    pub(super) actor: Actor,
    pub(super) retention_ms: i64,
    pub(super) heartbeat: std::time::Duration,
}

impl BundleBuild {
    /// Wait for a build slot, build, and record the outcome (ready with `legal.exported`,
    /// or failed with its reason). A heartbeat runs meanwhile, so a queued or long build
    /// is not taken for a dead one.
    pub(super) async fn run(self) {
        let id = self.read.export().to_string();
        let beat = {
            let (store, id, every) = (self.store.clone(), id.clone(), self.heartbeat);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    if let Err(e) = store.legal_export_heartbeat(&id).await {
                        tracing::warn!(export = %id, error = %e, "legal export heartbeat failed");
                    }
                }
            })
        };
        let permit = self.builds.clone().acquire_owned().await;
        let outcome = match permit {
            Ok(_permit) => self.build().await,
            Err(_) => Err(BuildError::Bundle(BundleError::Sink(
                "shutting down".into(),
            ))),
        };
        beat.abort();
        match outcome {
            Ok(row) => tracing::info!(
                export = %id,
                size = row.size.unwrap_or(0),
                entries = row.entries.unwrap_or(0),
                "legal bundle ready"
            ),
            Err(e) => {
                tracing::error!(export = %id, error = %e, "legal bundle failed");
                if let Err(e) = self.store.fail_legal_export(&id, &e.to_string()).await {
                    tracing::error!(export = %id, error = %e, "could not record the failed build");
                }
            }
        }
    }

    async fn build(&self) -> Result<ExportRow, BuildError> {
        let (export, rooms) = self.store.legal_scope(&self.read).await?;
        let head = self.store.audit_head().await?;
        let created_at = self.store.clock().now_ms();
        let upload = self
            .store
            .begin_legal_bundle(&self.blobs, &self.read)
            .await?;
        let mtime = u64::try_from(created_at / 1000).unwrap_or(0);
        let mut tar = TarWriter::new(upload, mtime);
        let written = self.write_entries(&mut tar, &export, &rooms).await;
        let notes = match written {
            Ok(notes) => notes,
            Err(e) => {
                tar.into_sink().abort().await;
                return Err(e);
            }
        };
        let manifest = Manifest {
            format: BUNDLE_FORMAT.into(),
            export_id: export.id.clone(),
            request_id: export.request_id.clone(),
            scope: export.scope.as_str().into(),
            target: export.target.clone(),
            from: export.from_ms.map(rfc3339),
            until: export.until_ms.map(rfc3339),
            created_at: rfc3339(created_at),
            server_version: env!("CARGO_PKG_VERSION").into(),
            requested_by: export.requested_by.clone(),
            audit_head: head.map(|h| AuditHead {
                seq: h.seq,
                hash: h.hash,
            }),
            key_id: self.signer.key_id().into(),
            notes,
            entries: tar.listed().to_vec(),
        };
        let signed = async {
            let json = serde_json::to_vec_pretty(&manifest)
                .map_err(|e| BundleError::Sink(e.to_string()))?;
            let signature = self.signer.sign(&json);
            tar.add_unlisted(MANIFEST_PATH, &json).await?;
            tar.add_unlisted(SIGNATURE_PATH, &signature).await?;
            Ok::<_, BundleError>(json)
        }
        .await;
        let json = match signed {
            Ok(json) => json,
            Err(e) => {
                tar.into_sink().abort().await;
                return Err(e.into());
            }
        };
        let manifest_sha256 =
            hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &json).as_ref());
        let entries = manifest.entries.len() as u64;
        let upload = tar.close().await?;
        let entry = self
            .actor
            .entry(
                AuditAction::LegalExported,
                &export.audit_target(),
                Purpose::LegalDisclosure,
                serde_json::json!({
                    "export": export.id,
                    "scope": export.scope.as_str(),
                    "target": export.target,
                    "manifest_sha256": manifest_sha256,
                    "entries": entries,
                }),
            )
            .with_request(&export.request_id);
        let expires_at = created_at.saturating_add(self.retention_ms);
        Ok(upload
            .finish(&self.blobs, entries, &manifest_sha256, expires_at, entry)
            .await?)
    }

    /// Every entry but the manifest; returns the manifest's notes.
    async fn write_entries(
        &self,
        tar: &mut TarWriter<BundleUpload>,
        export: &ExportRow,
        rooms: &[LegalRoomInfo],
    ) -> Result<Vec<String>, BuildError> {
        let mut notes = Vec::new();
        let bounds = Bounds {
            from: export.from_ms,
            until: export.until_ms,
        };
        for room in rooms {
            self.write_room(tar, room, bounds, &mut notes).await?;
        }
        let people = self.store.legal_people(&self.read, rooms).await?;
        let mut pages = Pages::new("people");
        for person in people {
            if person.erased {
                notes.push(format!(
                    "person {}: erased; name and email are gone for good",
                    person.id
                ));
            }
            pages.push(tar, &PersonRecord::from(person)).await?;
        }
        pages.close(tar).await?;
        let mut pages = Pages::new("audit");
        let mut after = 0;
        loop {
            let page = self
                .store
                .legal_audit(&self.read, rooms, after, 1000)
                .await?;
            let Some(last) = page.last() else {
                break;
            };
            after = last.seq;
            for entry in page {
                pages.push(tar, &entry_view(entry)).await?;
            }
        }
        pages.close(tar).await?;
        Ok(notes)
    }

    async fn write_room(
        &self,
        tar: &mut TarWriter<BundleUpload>,
        room: &LegalRoomInfo,
        bounds: Bounds,
        notes: &mut Vec<String>,
    ) -> Result<(), BuildError> {
        let id = room.proof.room().to_string();
        let held = self.store.is_room_held(&id).await?;
        let record = RoomRecord::new(room, held);
        let json =
            serde_json::to_vec_pretty(&record).map_err(|e| BundleError::Sink(e.to_string()))?;
        tar.add(&format!("rooms/{id}/room.json"), &json).await?;
        if room.purge_started_at.is_some() {
            notes.push(format!(
                "workroom {id}: purged under its retention period; only its record remains"
            ));
            return Ok(());
        }
        if room.erased {
            notes.push(format!(
                "workroom {id}: its key was destroyed; bodies, names and files are gone for good"
            ));
        }
        let members: Vec<MemberRecord> = self
            .store
            .room_members(&room.proof.room_read())
            .await
            .or_else(|e| match e {
                StorageError::NotFound => Ok(Vec::new()),
                other => Err(other),
            })?
            .into_iter()
            .map(MemberRecord::from)
            .collect();
        let json =
            serde_json::to_vec_pretty(&members).map_err(|e| BundleError::Sink(e.to_string()))?;
        tar.add(&format!("rooms/{id}/members.json"), &json).await?;

        let mut pages = Pages::new(&format!("rooms/{id}/messages"));
        let mut after = 0;
        loop {
            let events = self
                .store
                .events_after(&room.proof, after, EVENT_BATCH)
                .await?;
            let Some(last) = events.last() else {
                break;
            };
            after = last.seq;
            let in_bounds: Vec<StoredEvent> = events
                .into_iter()
                .filter(|e| bounds.contains(e.created_at))
                .collect();
            let ids: Vec<String> = in_bounds
                .iter()
                .filter(|e| e.kind == EventKindRow::Message)
                .map(|e| e.msg_id.clone())
                .collect();
            let mut prior = self.store.prior_versions(&room.proof, &ids).await?;
            for event in in_bounds {
                let versions = prior.remove(&event.msg_id).unwrap_or_default();
                pages
                    .push(tar, &MessageRecord::new(event, versions))
                    .await?;
            }
        }
        pages.close(tar).await?;

        let mut index = Pages::new(&format!("rooms/{id}/file-index"));
        let mut after: Option<String> = None;
        loop {
            let files = self
                .store
                .legal_files(&room.proof, after.as_deref(), FILE_BATCH)
                .await?;
            let Some(last) = files.last() else {
                break;
            };
            after = Some(last.meta.id.clone());
            for file in files {
                let content = if !bounds.contains(file.meta.created_at) {
                    FileContent::OutsideBounds
                } else {
                    self.write_file(tar, room, &file).await?
                };
                if let FileContent::Missing = content {
                    notes.push(format!(
                        "file {}: its content is missing from the object store",
                        file.meta.id
                    ));
                }
                index
                    .push(tar, &FileRecord::new(&id, &file, content))
                    .await?;
            }
        }
        index.close(tar).await?;
        Ok(())
    }

    /// The file's bytes as an entry, decrypted, when they can be read.
    async fn write_file(
        &self,
        tar: &mut TarWriter<BundleUpload>,
        room: &LegalRoomInfo,
        file: &StoredFile,
    ) -> Result<FileContent, BuildError> {
        let Some(read) = room.proof.file_read(&file.meta) else {
            return Ok(FileContent::Missing);
        };
        let size = file.meta.size;
        let mut stream = match self
            .store
            .file_content(&read, &self.blobs, file, 0, size)
            .await
        {
            Ok(stream) => Box::pin(stream),
            Err(FileError::Erased) => return Ok(FileContent::Erased),
            Err(FileError::ContentMissing) => return Ok(FileContent::Missing),
            Err(e) => {
                return Err(BuildError::File {
                    file: file.meta.id.clone(),
                    reason: e.to_string(),
                });
            }
        };
        tar.begin(&file_path(room.proof.room(), &file.meta.id), size)
            .await?;
        while let Some(piece) = stream.next().await {
            let piece = piece.map_err(|e| BuildError::File {
                file: file.meta.id.clone(),
                reason: e.to_string(),
            })?;
            tar.write(&piece).await?;
        }
        tar.end().await?;
        Ok(FileContent::Included)
    }
}

fn file_path(room: &str, file: &str) -> String {
    format!("rooms/{room}/files/{file}")
}

/// The export's time bounds: `[from, until)`.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    from: Option<i64>,
    until: Option<i64>,
}

impl Bounds {
    fn contains(self, at: i64) -> bool {
        self.from.is_none_or(|from| at >= from) && self.until.is_none_or(|until| at < until)
    }
}

/// JSON Lines written in numbered page entries (`<prefix>/000001.jsonl`, …).
struct Pages {
    prefix: String,
    buffer: Vec<u8>,
    lines: usize,
    written: usize,
}

impl Pages {
    fn new(prefix: &str) -> Pages {
        Pages {
            prefix: prefix.to_string(),
            buffer: Vec::new(),
            lines: 0,
            written: 0,
        }
    }

    async fn push<S: BundleSink>(
        &mut self,
        tar: &mut TarWriter<S>,
        record: &impl Serialize,
    ) -> Result<(), BuildError> {
        serde_json::to_writer(&mut self.buffer, record)
            .map_err(|e| BundleError::Sink(e.to_string()))?;
        self.buffer.push(b'\n');
        self.lines += 1;
        if self.lines >= PAGE_LINES || self.buffer.len() >= PAGE_BYTES {
            self.flush(tar).await?;
        }
        Ok(())
    }

    async fn flush<S: BundleSink>(&mut self, tar: &mut TarWriter<S>) -> Result<(), BuildError> {
        if self.lines == 0 {
            return Ok(());
        }
        self.written += 1;
        let path = format!("{}/{:06}.jsonl", self.prefix, self.written);
        tar.add(&path, &self.buffer).await?;
        self.buffer.clear();
        self.lines = 0;
        Ok(())
    }

    async fn close<S: BundleSink>(mut self, tar: &mut TarWriter<S>) -> Result<(), BuildError> {
        self.flush(tar).await
    }
}

#[derive(Serialize)]
struct RoomRecord {
    id: String,
    kind: String,
    project_id: String,
    bid_id: Option<String>,
    created_at: String,
    closed_at: Option<String>,
    /// `open`, `closed`, `purging` or `purged`.
    state: &'static str,
    /// `present`, `erased` (its key destroyed) or `purged`.
    content: &'static str,
    /// Under a legal hold when exported.
    legal_hold: bool,
    last_seq: u64,
    purged_at: Option<String>,
    purged_messages: u64,
    purged_files: u64,
    purged_bytes: u64,
}

impl RoomRecord {
    fn new(room: &LegalRoomInfo, held: bool) -> RoomRecord {
        let state = match (room.purged_at, room.purge_started_at, room.closed_at) {
            (Some(_), _, _) => "purged",
            (None, Some(_), _) => "purging",
            (None, None, Some(_)) => "closed",
            (None, None, None) => "open",
        };
        let content = if room.purge_started_at.is_some() {
            "purged"
        } else if room.erased {
            "erased"
        } else {
            "present"
        };
        RoomRecord {
            id: room.proof.room().to_string(),
            kind: room.kind.clone(),
            project_id: room.project_id.clone(),
            bid_id: room.bid_id.clone(),
            created_at: rfc3339(room.created_at),
            closed_at: room.closed_at.map(rfc3339),
            state,
            content,
            legal_hold: held,
            last_seq: room.last_seq,
            purged_at: room.purged_at.map(rfc3339),
            purged_messages: room.purged_messages,
            purged_files: room.purged_files,
            purged_bytes: room.purged_bytes,
        }
    }
}

#[derive(Serialize)]
struct MemberRecord {
    user: String,
    account: String,
    side: String,
    role: &'static str,
    party: bool,
    name: Option<String>,
    email: Option<String>,
    erased: bool,
    /// A terminated and erased party, listed by its per-workroom label.
    former: bool,
}

impl From<workroom_storage::MemberRow> for MemberRecord {
    fn from(m: workroom_storage::MemberRow) -> MemberRecord {
        MemberRecord {
            role: m.role.as_str(),
            user: m.user,
            account: m.account,
            side: m.side,
            party: m.party,
            name: m.name,
            email: m.email,
            erased: m.erased,
            former: m.former,
        }
    }
}

#[derive(Serialize)]
struct AccountRecord {
    account: String,
    role: String,
}

#[derive(Serialize)]
struct PersonRecord {
    id: String,
    name: Option<String>,
    email: Option<String>,
    erased: bool,
    erased_at: Option<String>,
    terminated_at: Option<String>,
    terminated_reason: Option<String>,
    accounts: Vec<AccountRecord>,
}

impl From<workroom_storage::PersonRecord> for PersonRecord {
    fn from(p: workroom_storage::PersonRecord) -> PersonRecord {
        PersonRecord {
            id: p.id,
            name: p.name,
            email: p.email,
            erased: p.erased,
            erased_at: p.erased_at.map(rfc3339),
            terminated_at: p.terminated_at.map(rfc3339),
            terminated_reason: p.terminated_reason,
            accounts: p
                .accounts
                .into_iter()
                .map(|(account, role)| AccountRecord { account, role })
                .collect(),
        }
    }
}

/// Whether a body could be read.
fn body_state(
    body: &Option<String>,
    unreadable: Option<Unreadable>,
    deleted: bool,
) -> &'static str {
    match (unreadable, body) {
        (Some(Unreadable::Erased), _) => "erased",
        (Some(Unreadable::Damaged), _) => "damaged",
        (None, Some(_)) => "present",
        (None, None) if deleted => "deleted",
        (None, None) => "none",
    }
}

#[derive(Serialize)]
struct VersionRecord {
    version: i32,
    body: Option<String>,
    /// `present`, `erased` or `damaged`.
    state: &'static str,
}

#[derive(Serialize)]
struct MessageRecord {
    seq: u64,
    msg_id: String,
    /// `message`, `edit` or `delete`.
    kind: &'static str,
    sender: String,
    client_msg_id: Option<String>,
    created_at: String,
    edited_at: Option<String>,
    deleted_at: Option<String>,
    target_seq: Option<u64>,
    notice: bool,
    attachments: Vec<String>,
    /// The latest body (messages) or the body set (edits).
    body: Option<String>,
    /// `present`, `deleted`, `erased`, `damaged` or `none` (a delete event).
    body_state: &'static str,
    /// Earlier versions of a message, oldest first (edited and deleted ones).
    prior_versions: Vec<VersionRecord>,
}

impl MessageRecord {
    fn new(event: StoredEvent, versions: Vec<workroom_storage::repo::messages::PriorBody>) -> Self {
        let state = body_state(&event.body, event.unreadable, event.deleted_at.is_some());
        MessageRecord {
            kind: match event.kind {
                EventKindRow::Message => "message",
                EventKindRow::Edit => "edit",
                EventKindRow::Delete => "delete",
            },
            seq: event.seq,
            msg_id: event.msg_id,
            sender: event.sender_id,
            client_msg_id: event.client_msg_id,
            created_at: rfc3339(event.created_at),
            edited_at: event.edited_at.map(rfc3339),
            deleted_at: event.deleted_at.map(rfc3339),
            target_seq: event.target_seq,
            notice: event.notice,
            attachments: event.attachments,
            body: event.body,
            body_state: state,
            prior_versions: versions
                .into_iter()
                .map(|(version, body)| match body {
                    Ok(body) => VersionRecord {
                        version,
                        body: Some(body),
                        state: "present",
                    },
                    Err(why) => VersionRecord {
                        version,
                        body: None,
                        state: if why == Unreadable::Erased {
                            "erased"
                        } else {
                            "damaged"
                        },
                    },
                })
                .collect(),
        }
    }
}

/// What became of a file's bytes in the bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileContent {
    Included,
    Erased,
    Missing,
    OutsideBounds,
}

#[derive(Serialize)]
struct FileRecord {
    id: String,
    uploader: String,
    name: Option<String>,
    declared_type: Option<String>,
    sniffed_type: String,
    size: u64,
    /// SHA-256 of the bytes recorded at upload: the included entry hashes the same.
    sha256: String,
    created_at: String,
    deleted_at: Option<String>,
    msg_id: Option<String>,
    purpose: Option<&'static str>,
    /// `included`, `erased`, `missing` or `outside_bounds`.
    content: &'static str,
    /// The entry holding the bytes, when included.
    path: Option<String>,
}

impl FileRecord {
    fn new(room: &str, file: &StoredFile, content: FileContent) -> FileRecord {
        let meta = &file.meta;
        FileRecord {
            id: meta.id.clone(),
            uploader: meta.uploader_id.clone(),
            name: meta.name.clone(),
            declared_type: meta.declared_type.clone(),
            sniffed_type: meta.sniffed_type.clone(),
            size: meta.size,
            sha256: meta.sha256.clone(),
            created_at: rfc3339(meta.created_at),
            deleted_at: meta.deleted_at.map(rfc3339),
            msg_id: meta.msg_id.clone(),
            purpose: meta.purpose.map(|p| p.as_str()),
            content: match content {
                FileContent::Included => "included",
                FileContent::Erased => "erased",
                FileContent::Missing => "missing",
                FileContent::OutsideBounds => "outside_bounds",
            },
            path: (content == FileContent::Included).then(|| file_path(room, &meta.id)),
        }
    }
}
