//! Object stores for file bytes: `local` (a directory under the data dir, the embedded
//! default) and `s3` (any S3-compatible endpoint through aws-sdk-s3). They only ever see
//! ciphertext; naming, sealing and the database row are the files repository's job.
//!
//! An upload is a [`BlobUpload`]: bytes are written as they arrive and become visible under
//! their key only on `finish` (local: rename of a synced temp file; S3: `PutObject` or a
//! completed multipart upload). `abort` leaves nothing behind; a crash may, which is what the
//! orphan sweeper is for.

mod local;
mod s3;
mod stall;

pub use local::LocalStore;
pub use s3::{S3Options, S3Store};

use bytes::Bytes;
use std::pin::Pin;
use std::time::SystemTime;
use tokio::io::AsyncRead;

/// Why an object store call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    /// No object under that key.
    #[error("object not found")]
    NotFound,
    /// The store could not be reached, timed out, or refused us (credentials, 5xx).
    #[error("object store unavailable: {0}")]
    Unavailable(String),
}

/// An object's key and when it was last written (for the orphan sweeper).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    pub key: String,
    pub modified: SystemTime,
}

/// A byte range of an object being read.
pub type BlobReader = Pin<Box<dyn AsyncRead + Send>>;

/// The configured object store.
#[derive(Debug, Clone)]
pub enum BlobStore {
    Local(LocalStore),
    S3(S3Store),
}

impl BlobStore {
    /// Start writing an object under `key`.
    pub async fn begin(&self, key: &str) -> Result<BlobUpload, BlobError> {
        match self {
            BlobStore::Local(store) => store.begin(key).await.map(BlobUpload::Local),
            BlobStore::S3(store) => Ok(BlobUpload::S3(store.begin(key))),
        }
    }

    /// Read `len` bytes of the object at `key` from `offset`. Fails with `NotFound` before
    /// any byte is read when the object is missing.
    pub async fn read_range(
        &self,
        key: &str,
        offset: u64,
        len: u64,
    ) -> Result<BlobReader, BlobError> {
        match self {
            BlobStore::Local(store) => store.read_range(key, offset, len).await,
            BlobStore::S3(store) => store.read_range(key, offset, len).await,
        }
    }

    /// Delete the object at `key`; a missing object is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match self {
            BlobStore::Local(store) => store.delete(key).await,
            BlobStore::S3(store) => store.delete(key).await,
        }
    }

    /// Every object whose key starts with `prefix`, including unfinished local temp files.
    pub async fn list(&self, prefix: &str) -> Result<Vec<BlobInfo>, BlobError> {
        match self {
            BlobStore::Local(store) => store.list(prefix).await,
            BlobStore::S3(store) => store.list(prefix).await,
        }
    }

    /// Remove abandoned partial uploads under `prefix` older than `before` (crashed
    /// writers). Other users of a shared bucket are left alone.
    pub async fn sweep_partial(&self, prefix: &str, before: SystemTime) -> Result<u64, BlobError> {
        match self {
            BlobStore::Local(store) => store.sweep_partial(before).await,
            BlobStore::S3(store) => store.sweep_partial(prefix, before).await,
        }
    }

    /// A cheap check that the store answers (health checks): S3 `HeadBucket`; on local disk
    /// a small file written and removed.
    pub async fn ping(&self) -> Result<(), BlobError> {
        match self {
            BlobStore::Local(store) => store.ping().await,
            BlobStore::S3(store) => store.ping().await,
        }
    }
}

/// An object being written.
#[derive(Debug)]
pub enum BlobUpload {
    Local(local::LocalUpload),
    S3(s3::S3Upload),
}

impl BlobUpload {
    pub async fn write(&mut self, bytes: Bytes) -> Result<(), BlobError> {
        match self {
            BlobUpload::Local(upload) => upload.write(bytes).await,
            BlobUpload::S3(upload) => upload.write(bytes).await,
        }
    }

    /// Make the object visible under its key, durably.
    pub async fn finish(self) -> Result<(), BlobError> {
        match self {
            BlobUpload::Local(upload) => upload.finish().await,
            BlobUpload::S3(upload) => upload.finish().await,
        }
    }

    /// Give up: nothing stays behind (best effort; the sweeper catches the rest).
    pub async fn abort(self) {
        match self {
            BlobUpload::Local(upload) => upload.abort().await,
            BlobUpload::S3(upload) => upload.abort().await,
        }
    }
}
