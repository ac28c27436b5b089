//! Files (C4): sealed, streamed uploads; ranged, decrypting downloads; the orphan sweeper.
//!
//! Each file gets its own random key, wrapped by the room key (so destroying the room key
//! erases every file of the room). The object is a sealed chunked object under the file key
//! ([`super::chunked`]): a byte range maps to whole chunks, so ranged reads fetch and open
//! only the chunks they need.
//!
//! Order of writes: the object is completed first, then its row is inserted. A failure in
//! between leaves an object with no row (never a row with no object); the sweeper deletes
//! such orphans once they are older than any upload in flight could be. A row that exists
//! only for its file (a screenshot and its image) is a [`FileCompanion`]: it commits in the
//! file row's transaction, so neither is kept without the other.

use crate::Store;
use crate::blob::{BlobError, BlobStore};
use crate::entity::{files, rooms};
use crate::error::StorageError;
use crate::keyring::{KEY_LEN, KeyScope, SealingKey, Unreadable, open_text};
use crate::proof::FileRead;
use crate::repo::analytics::{Metric, Share};
use crate::repo::chunked::{self, ChunkWriter};
use crate::repo::sealing::{file_key_item, file_name_item};
use aws_lc_rs::digest;
use bytes::Bytes;
use futures_util::Stream;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect,
};
use std::time::SystemTime;
use workroom_protocol::Purpose;
use zeroize::Zeroizing;

pub use chunked::CHUNK;
/// Bytes of the start of a file kept to sniff its type.
const SNIFF_LEN: usize = 8 * 1024;
/// Where file objects live in the store.
const OBJECT_PREFIX: &str = "files/";

/// A row stored with a file, in the transaction that inserts the file's row (see the module
/// comment). `()` is "nothing": a plain upload.
pub trait FileCompanion: Sync {
    /// What the stored companion reads back as.
    type Row: Send;

    /// Whether the file is still wanted once its object is complete (conditions that may
    /// have changed while it streamed); an error drops it. Checked just before the write
    /// transaction, outside it, so it holds no lock.
    fn still_wanted(
        &self,
        _store: &Store,
    ) -> impl Future<Output = Result<(), StorageError>> + Send {
        async { Ok(()) }
    }

    /// Insert the companion of `file` inside `txn` (an error rolls both back).
    fn insert_with_file(
        &self,
        store: &Store,
        txn: &DatabaseTransaction,
        file: &FileMeta,
    ) -> impl Future<Output = Result<Self::Row, StorageError>> + Send;
}

impl FileCompanion for () {
    type Row = ();

    async fn insert_with_file(
        &self,
        _: &Store,
        _: &DatabaseTransaction,
        _: &FileMeta,
    ) -> Result<(), StorageError> {
        Ok(())
    }
}

/// Why a file operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the room's file quota of {quota} bytes would be exceeded")]
    QuotaExceeded { quota: u64 },
    #[error("no such file")]
    NotFound,
    #[error("the file's content is missing from the object store")]
    ContentMissing,
    #[error("the file was erased")]
    Erased,
    #[error("the file's content failed its integrity check")]
    Damaged,
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<BlobError> for FileError {
    fn from(e: BlobError) -> FileError {
        match e {
            BlobError::NotFound => FileError::ContentMissing,
            BlobError::Unavailable(why) => FileError::Unavailable(why),
        }
    }
}

/// What the uploader says about a new file.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub room_id: String,
    pub uploader_id: String,
    /// Already sanitised ([`sanitize_file_name`]).
    pub name: String,
    pub declared_type: Option<String>,
    pub max_size: u64,
    pub room_quota: u64,
    /// What the file is collected for: workroom files for participation, Tracker
    /// screenshots for payment guarantee.
    pub purpose: Purpose,
}

/// A stored file as the server sees it (the name opened; the key stays inside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    pub id: String,
    pub room_id: String,
    pub uploader_id: String,
    /// `None` when the room key is gone (`erased`).
    pub name: Option<String>,
    pub erased: bool,
    pub declared_type: Option<String>,
    pub sniffed_type: String,
    pub size: u64,
    pub sha256: String,
    pub msg_id: Option<String>,
    pub created_at: i64,
    pub deleted_at: Option<i64>,
    /// What the file was collected for (C5); `None` when the stored name is not a purpose
    /// this server knows, and then no read purpose may see it.
    pub purpose: Option<Purpose>,
}

/// A file row, for reading its content.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub meta: FileMeta,
    key_wrapped: Vec<u8>,
    object_key: String,
}

impl StoredFile {
    pub(crate) fn from_row(meta: FileMeta, row: files::Model) -> StoredFile {
        StoredFile {
            meta,
            key_wrapped: row.key_wrapped,
            object_key: row.object_key,
        }
    }
}

/// Make an uploaded name safe to store and to echo in a header: the last path component,
/// no control characters, at most 255 bytes, never empty or a dot name.
pub fn sanitize_file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut name: String = last
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
        .collect();
    name = name.trim().trim_start_matches('.').to_string();
    while name.len() > 255 {
        name.pop();
    }
    if name.is_empty() {
        "file".to_string()
    } else {
        name
    }
}

/// The content type read from the bytes themselves: a known binary signature, else
/// `text/plain` for UTF-8 text, else `application/octet-stream`.
fn sniff(head: &[u8]) -> String {
    if let Some(kind) = infer::get(head) {
        return kind.mime_type().to_string();
    }
    let text = match std::str::from_utf8(head) {
        Ok(_) => true,
        // A multi-byte character cut by the sniff window is still text.
        Err(e) => e.error_len().is_none() && head.len() - e.valid_up_to() < 4,
    };
    if text && !head.is_empty() {
        "text/plain".to_string()
    } else {
        "application/octet-stream".to_string()
    }
}

fn file_key(id: &str, bytes: &[u8; KEY_LEN]) -> SealingKey {
    SealingKey::new(format!("file:{id}"), bytes)
}

pub(crate) fn to_meta(row: &files::Model, room_key: Option<&SealingKey>) -> FileMeta {
    let (name, erased) = match open_text(room_key, &file_name_item(&row.id), Some(&row.name_sealed))
    {
        Ok(name) => (name, false),
        Err(Unreadable::Erased) => (None, true),
        Err(Unreadable::Damaged) => {
            tracing::error!(file = %row.id, "file name failed its integrity check");
            (None, false)
        }
    };
    FileMeta {
        id: row.id.clone(),
        room_id: row.room_id.clone(),
        uploader_id: row.uploader_id.clone(),
        name,
        erased,
        declared_type: row.declared_type.clone(),
        sniffed_type: row.sniffed_type.clone(),
        size: u64::try_from(row.size).unwrap_or(0),
        sha256: row.sha256.clone(),
        msg_id: row.msg_id.clone(),
        created_at: row.created_at,
        deleted_at: row.deleted_at,
        purpose: Purpose::parse(&row.purpose),
    }
}

/// A file being uploaded: bytes in, sealed chunks out to the object store.
pub struct FileUpload {
    store: Store,
    blobs: BlobStore,
    writer: Option<ChunkWriter>,
    new: NewFile,
    id: String,
    object_key: String,
    key_wrapped: Vec<u8>,
    name_sealed: Vec<u8>,
    size: u64,
    sha256: digest::Context,
    head: Vec<u8>,
}

impl std::fmt::Debug for FileUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileUpload")
            .field("id", &self.id)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Start an upload into `new.room_id`. Fails with `Erased` when the room key is gone.
    pub async fn begin_file_upload(
        &self,
        blobs: &BlobStore,
        new: NewFile,
    ) -> Result<FileUpload, FileError> {
        let room_key = self
            .sealing_key(&self.db, KeyScope::Room(&new.room_id))
            .await
            .map_err(|e| match e {
                StorageError::Erased => FileError::Erased,
                other => FileError::Storage(other),
            })?;
        let id = format!("f_{}", uuid::Uuid::now_v7().simple());
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        aws_lc_rs::rand::fill(bytes.as_mut())
            .map_err(|_| FileError::Unavailable("no randomness".into()))?;
        let key = file_key(&id, &bytes);
        let key_wrapped = room_key.seal(&file_key_item(&id), bytes.as_ref());
        let name_sealed = room_key.seal(&file_name_item(&id), new.name.as_bytes());
        let object_key = format!("{OBJECT_PREFIX}{}/{id}", new.room_id);
        let blob = blobs.begin(&object_key).await?;
        Ok(FileUpload {
            store: self.clone(),
            blobs: blobs.clone(),
            writer: Some(ChunkWriter::new(blob, std::sync::Arc::new(key))),
            new,
            id,
            object_key,
            key_wrapped,
            name_sealed,
            size: 0,
            sha256: digest::Context::new(&digest::SHA256),
            head: Vec::with_capacity(SNIFF_LEN),
        })
    }

    /// One file's row, with its name opened; `None` when there is no such file.
    pub async fn file(&self, file_id: &str) -> Result<Option<StoredFile>, StorageError> {
        let Some(row) = files::Entity::find_by_id(file_id.to_string())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let key = self
            .opening_key(&self.db, KeyScope::Room(&row.room_id))
            .await?;
        Ok(Some(StoredFile {
            meta: to_meta(&row, key.as_deref()),
            key_wrapped: row.key_wrapped,
            object_key: row.object_key,
        }))
    }

    /// Bytes `[start, end)` of a file's plaintext, streamed. Fails before the first byte
    /// when the room key is gone (`Erased`) or the object is missing (`ContentMissing`).
    pub async fn file_content(
        &self,
        read: &FileRead,
        blobs: &BlobStore,
        file: &StoredFile,
        start: u64,
        end: u64,
    ) -> Result<impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static, FileError> {
        if read.file() != file.meta.id {
            // A proof for another file opens nothing.
            return Err(FileError::NotFound);
        }
        let size = file.meta.size;
        let end = end.min(size);
        let room_key = self
            .opening_key(&self.db, KeyScope::Room(&file.meta.room_id))
            .await?
            .ok_or(FileError::Erased)?;
        let bytes = Zeroizing::new(
            room_key
                .open(&file_key_item(&file.meta.id), &file.key_wrapped)
                .map_err(|_| FileError::Damaged)?,
        );
        let bytes: &[u8; KEY_LEN] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| FileError::Damaged)?;
        let key = file_key(&file.meta.id, bytes);
        Ok(chunked::read_range(
            blobs,
            &file.object_key,
            std::sync::Arc::new(key),
            size,
            start,
            end,
        )
        .await?)
    }

    /// Bytes held by the room's live files (for the quota).
    pub async fn room_file_usage(&self, room_id: &str) -> Result<u64, StorageError> {
        room_usage(&self.db, room_id).await
    }

    /// Delete objects with no file row that are older than `before` (uploads that crashed
    /// between the object and the row), and abandoned partial uploads. Returns how many
    /// objects were removed.
    pub async fn sweep_orphan_objects(
        &self,
        blobs: &BlobStore,
        before: SystemTime,
    ) -> Result<u64, FileError> {
        let candidates: Vec<String> = blobs
            .list(OBJECT_PREFIX)
            .await?
            .into_iter()
            .filter(|o| o.modified < before)
            .map(|o| o.key)
            .collect();
        let mut removed = 0;
        for chunk in candidates.chunks(500) {
            let known: Vec<String> = files::Entity::find()
                .select_only()
                .column(files::Column::ObjectKey)
                .filter(files::Column::ObjectKey.is_in(chunk.to_vec()))
                .into_tuple()
                .all(&self.db)
                .await
                .map_err(StorageError::from)?;
            for key in chunk.iter().filter(|k| !known.contains(k)) {
                blobs.delete(key).await?;
                tracing::info!(object = %key, "removed an orphaned object");
                removed += 1;
            }
        }
        removed += blobs.sweep_partial(OBJECT_PREFIX, before).await?;
        removed += self.sweep_orphan_bundles(blobs, before).await?;
        Ok(removed)
    }
}

async fn room_usage<C: ConnectionTrait>(conn: &C, room_id: &str) -> Result<u64, StorageError> {
    let used: Option<i64> = rooms::Entity::find_by_id(room_id.to_string())
        .select_only()
        .column(rooms::Column::FileBytes)
        .into_tuple::<i64>()
        .one(conn)
        .await?;
    Ok(u64::try_from(used.unwrap_or(0)).unwrap_or(0))
}

/// Withdraw the live files attached to message `msg_id` of `room_id` (the message was
/// deleted), giving their bytes back to the room quota, inside the caller's transaction.
pub(crate) async fn withdraw_message_files(
    txn: &DatabaseTransaction,
    room_id: &str,
    msg_id: &str,
    at: i64,
) -> Result<(), sea_orm::DbErr> {
    let live = || {
        files::Entity::find()
            .filter(files::Column::RoomId.eq(room_id))
            .filter(files::Column::MsgId.eq(msg_id))
            .filter(files::Column::DeletedAt.is_null())
    };
    // PostgreSQL sums BIGINT into NUMERIC: cast back so both backends decode an i64.
    let freed: Option<i64> = live()
        .select_only()
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(size), 0) AS BIGINT)"),
            "freed",
        )
        .into_tuple::<i64>()
        .one(txn)
        .await?;
    let freed = freed.unwrap_or(0);
    if freed == 0 {
        return Ok(());
    }
    files::Entity::update_many()
        .col_expr(files::Column::DeletedAt, Expr::val(at))
        .filter(files::Column::RoomId.eq(room_id))
        .filter(files::Column::MsgId.eq(msg_id))
        .filter(files::Column::DeletedAt.is_null())
        .exec(txn)
        .await?;
    rooms::Entity::update_many()
        .col_expr(
            rooms::Column::FileBytes,
            sea_orm::sea_query::ExprTrait::sub(Expr::col(rooms::Column::FileBytes), freed),
        )
        .filter(rooms::Column::Id.eq(room_id))
        .exec(txn)
        .await?;
    Ok(())
}

impl FileUpload {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Take the next bytes of the file. Fails with `TooLarge` past the size limit and with
    /// `Unavailable` when the object store fails; the caller then calls `abort`.
    pub async fn push(&mut self, data: Bytes) -> Result<(), FileError> {
        self.size += data.len() as u64;
        if self.size > self.new.max_size {
            return Err(FileError::TooLarge {
                limit: self.new.max_size,
            });
        }
        if self.head.len() < SNIFF_LEN {
            let take = (SNIFF_LEN - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..take]);
        }
        self.sha256.update(&data);
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| FileError::Unavailable("upload already closed".into()))?;
        writer.push(&data).await?;
        Ok(())
    }

    /// The content type sniffed from the bytes received so far (final once the first 8 KiB
    /// are in, or the body ended).
    pub fn sniffed_type(&self) -> String {
        sniff(&self.head)
    }

    /// Seal the last chunk, complete the object, then record the row (taking its bytes from
    /// the room quota in the same transaction). On any failure nothing is kept.
    pub async fn finish(self) -> Result<FileMeta, FileError> {
        self.finish_with(&()).await.map(|(meta, ())| meta)
    }

    /// [`FileUpload::finish`], storing `companion` with the file's row in its transaction.
    pub async fn finish_with<C: FileCompanion>(
        mut self,
        companion: &C,
    ) -> Result<(FileMeta, C::Row), FileError> {
        let Some(writer) = self.writer.take() else {
            return Err(FileError::Unavailable("upload already closed".into()));
        };
        writer.finish().await?;
        let stored = match companion.still_wanted(&self.store).await {
            Ok(()) => self.insert_row(companion).await,
            Err(e) => Err(e.into()),
        };
        match stored {
            Ok(stored) => Ok(stored),
            Err(e) => {
                // The object is complete but has no row: remove it now (the sweeper would
                // later, if this fails too).
                if let Err(cleanup) = self.blobs.delete(&self.object_key).await {
                    tracing::warn!(object = %self.object_key, error = %cleanup, "could not remove the object of a failed upload");
                }
                Err(e)
            }
        }
    }

    async fn insert_row<C: FileCompanion>(
        &mut self,
        companion: &C,
    ) -> Result<(FileMeta, C::Row), FileError> {
        let store = &self.store;
        let txn = store.begin_write().await.map_err(StorageError::from)?;
        // Take the bytes from the room's running total, only while it stays within the quota:
        // one conditional update, which also serialises uploads finishing into one room.
        let size = i64::try_from(self.size).unwrap_or(i64::MAX);
        let quota = i64::try_from(self.new.room_quota).unwrap_or(i64::MAX);
        let taken = rooms::Entity::update_many()
            .col_expr(
                rooms::Column::FileBytes,
                sea_orm::sea_query::ExprTrait::add(Expr::col(rooms::Column::FileBytes), size),
            )
            .filter(rooms::Column::Id.eq(self.new.room_id.as_str()))
            .filter(rooms::Column::FileBytes.lte(quota.saturating_sub(size)))
            .exec(&txn)
            .await
            .map_err(StorageError::from)?;
        if taken.rows_affected == 0 {
            return Err(FileError::QuotaExceeded {
                quota: self.new.room_quota,
            });
        }
        let digest =
            std::mem::replace(&mut self.sha256, digest::Context::new(&digest::SHA256)).finish();
        let sha256 = digest
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        let now = self.store.clock.now_ms();
        let row = files::Model {
            id: self.id.clone(),
            room_id: self.new.room_id.clone(),
            uploader_id: self.new.uploader_id.clone(),
            name_sealed: self.name_sealed.clone(),
            declared_type: self.new.declared_type.clone(),
            sniffed_type: sniff(&self.head),
            size: i64::try_from(self.size).unwrap_or(i64::MAX),
            sha256,
            key_wrapped: self.key_wrapped.clone(),
            object_key: self.object_key.clone(),
            msg_id: None,
            purpose: self.new.purpose.as_str().to_string(),
            created_at: now,
            deleted_at: None,
        };
        files::Entity::insert(files::ActiveModel::from(row.clone()))
            .exec_without_returning(&txn)
            .await
            .map_err(StorageError::from)?;
        let mut meta = to_meta(&row, None);
        meta.name = Some(self.new.name.clone());
        meta.erased = false;
        let companion = companion.insert_with_file(store, &txn, &meta).await?;
        let metric = match self.new.purpose {
            Purpose::PaymentGuarantee => Metric::ScreenshotsPosted,
            _ => Metric::FilesUploaded,
        };
        let share = Share {
            room: &self.new.room_id,
            count: 1,
            total: self.size,
        };
        store.count_analytics(&txn, metric, &[share]).await?;
        txn.commit().await.map_err(StorageError::from)?;
        Ok((meta, companion))
    }

    /// Give up the upload; nothing is kept.
    pub async fn abort(mut self) {
        if let Some(writer) = self.writer.take() {
            writer.abort().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_paths_controls_and_dots() {
        assert_eq!(sanitize_file_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_file_name("C:\\Users\\a\\report.pdf"), "report.pdf");
        assert_eq!(
            sanitize_file_name("a\u{0}b\nc\u{202e}fdp.exe"),
            "abcfdp.exe"
        );
        assert_eq!(sanitize_file_name(".."), "file");
        assert_eq!(sanitize_file_name(".hidden"), "hidden");
        assert_eq!(sanitize_file_name(" \"q\" "), "q");
        assert_eq!(sanitize_file_name(&"é".repeat(200)).len(), 254);
    }

    #[test]
    fn sniffing_reads_the_bytes_not_the_name() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), "image/png");
        assert_eq!(sniff(b"%PDF-1.7\n"), "application/pdf");
        assert_eq!(sniff("plain text é".as_bytes()), "text/plain");
        assert_eq!(sniff(&"é".as_bytes()[..1]), "text/plain");
        assert_eq!(sniff(b"\xff\xfe\x00\x01binary"), "application/octet-stream");
        assert_eq!(sniff(b""), "application/octet-stream");
    }
}
