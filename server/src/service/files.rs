//! Files (C4): receiving an upload, and the downloads each kind of reader may make. An
//! upload streams in constant memory (hashed, sealed and written by a task of its own); a
//! download is a [`Download`]: the file and the proof that this reader may open it, which
//! [`Service::content`] turns into the plaintext stream. Signed links are downloads
//! deferred: the proof is minted again, for the link's user, when the link is used.

use super::{Failure, Service};
use crate::auth::Identity;
use crate::events::rfc3339;
use crate::policy::{self, Act, Caller, Resource};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use workroom_protocol::http::{FileInfo, FileLink};
use workroom_protocol::{ErrorCode, Purpose, Role};
use workroom_storage::proof::FileRead;
use workroom_storage::{
    FileCompanion, FileError, FileMeta, FileUpload, NewFile, RoomAccessRow, StoredFile,
    sanitize_file_name,
};

/// An upload as the transport received it.
pub struct Upload<S> {
    /// The name the client gave (sanitised here).
    pub name: Option<String>,
    /// The declared content type, as sent.
    pub declared_type: Option<String>,
    /// The declared length, when the client sent one.
    pub declared_length: Option<u64>,
    pub body: S,
}

/// A file someone may download, with the proof that they may.
#[derive(Debug)]
pub struct Download {
    file: StoredFile,
    read: FileRead,
}

impl Download {
    pub(super) fn new(file: StoredFile, read: FileRead) -> Download {
        Download { file, read }
    }

    pub fn meta(&self) -> &FileMeta {
        &self.file.meta
    }
}

/// Everything but unreserved URL characters is escaped.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `value` percent-encoded for a URL query or an RFC 5987 header parameter.
pub fn percent_encode(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, QUERY_VALUE).to_string()
}

pub(super) fn file_info(meta: FileMeta) -> FileInfo {
    FileInfo {
        id: meta.id,
        room: meta.room_id,
        uploader: meta.uploader_id,
        name: meta.name,
        size: meta.size,
        sha256: meta.sha256,
        content_type: meta.sniffed_type,
        declared_type: meta.declared_type,
        created_at: rfc3339(meta.created_at),
        msg_id: meta.msg_id,
        erased: meta.erased,
    }
}

/// A declared content type worth keeping: printable ASCII, at most 127 characters.
fn declared_type(raw: Option<&str>) -> Option<String> {
    raw.map(|v| v.trim().chars().take(127).collect::<String>())
        .filter(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_graphic() || c == ' '))
}

impl Service {
    /// A member uploads a file to a room; it is theirs until they attach it.
    pub async fn upload<S, E>(
        &self,
        identity: &Identity,
        room: &str,
        upload: Upload<S>,
    ) -> Result<FileInfo, Failure>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        let room_id = self
            .room_for(identity, room, Act::WriteRoom, Purpose::Participation)
            .await?;
        let limits = &self.config.files;
        let new = NewFile {
            room_id: room_id.to_string(),
            uploader_id: identity.user().to_string(),
            name: sanitize_file_name(upload.name.as_deref().unwrap_or_default()),
            declared_type: declared_type(upload.declared_type.as_deref()),
            max_size: limits.max_file_bytes,
            room_quota: limits.room_quota_bytes,
            purpose: Purpose::Participation,
        };
        let (meta, ()) = self
            .receive(new, upload.declared_length, upload.body, |_| Ok(()), &())
            .await?;
        Ok(file_info(meta))
    }

    /// Stream a body into a new file: the declared length, the object store's health and
    /// the room's quota are checked first, then the bytes are hashed, sealed and written by
    /// a task of their own; `accept` sees the sniffed type before the file is kept, and
    /// `companion` commits with the file's row.
    pub(super) async fn receive<C, S, E>(
        &self,
        new: NewFile,
        declared_length: Option<u64>,
        mut body: S,
        accept: impl FnOnce(&str) -> Result<(), Failure>,
        companion: &C,
    ) -> Result<(FileMeta, C::Row), Failure>
    where
        C: FileCompanion,
        S: Stream<Item = Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        if declared_length.is_some_and(|n| n > new.max_size) {
            let limit = new.max_size;
            return Err(FileError::TooLarge { limit }.into());
        }
        // Known down (and logged once by the health check): refuse now rather than after the
        // store's timeout.
        if !self.health.object_store_up() {
            return Err(Failure::new(
                ErrorCode::Unavailable,
                "file storage is unavailable",
            ));
        }
        let used = self.store.room_file_usage(&new.room_id).await?;
        if used.saturating_add(declared_length.unwrap_or(0)) > new.room_quota {
            let quota = new.room_quota;
            return Err(FileError::QuotaExceeded { quota }.into());
        }
        let upload = self.store.begin_file_upload(&self.blobs, new).await?;
        // Hashing, sealing and writing run in a task of their own, fed through a short
        // bounded queue, while this task reads (and TLS-decrypts) the body: the two halves
        // use two cores, and the queue bounds memory and pushes back on the client.
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
        let worker = tokio::spawn(store_stream(upload, rx));
        let mut body_error = None;
        while let Some(next) = body.next().await {
            match next {
                Ok(data) => {
                    if tx.send(data).await.is_err() {
                        break; // the worker stopped: it reports why below
                    }
                }
                Err(e) => {
                    body_error = Some(e.to_string());
                    break;
                }
            }
        }
        drop(tx);
        let upload = match worker.await {
            Ok(Ok(upload)) => upload,
            Ok(Err((upload, e))) => {
                // The rest of the body, if the client is still sending, is drained by the
                // transport before the answer goes out.
                upload.abort().await;
                return Err(e.into());
            }
            Err(join) => {
                tracing::error!(error = %join, "upload worker failed");
                return Err(Failure::new(ErrorCode::Internal, "the upload failed"));
            }
        };
        if let Some(e) = body_error {
            upload.abort().await;
            tracing::debug!(error = %e, "upload body ended early");
            return Err(Failure::invalid(
                "the upload ended before the body was complete",
            ));
        }
        if let Err(refused) = accept(&upload.sniffed_type()) {
            upload.abort().await;
            return Err(refused);
        }
        let stored = upload.finish_with(companion).await?;
        metrics::counter!("workroom_file_bytes_uploaded_total").increment(stored.0.size);
        Ok(stored)
    }

    /// A stored file by id, or `404` "no such file".
    pub(super) async fn existing_file(&self, id: &str) -> Result<StoredFile, Failure> {
        self.store
            .file(id)
            .await?
            .ok_or_else(|| Failure::not_found("no such file"))
    }

    /// A file of a room, with the caller's access to that room. A room the caller cannot
    /// see hides its files: that is refused before the file is looked up.
    async fn file_in_room(
        &self,
        identity: &Identity,
        room: &str,
        file: &str,
    ) -> Result<(Option<RoomAccessRow>, StoredFile), Failure> {
        let access = if identity.role() == Role::Member {
            self.member_access(identity.user(), room).await?
        } else {
            None
        };
        if access.is_none() {
            self.allow_in_room(identity, None, Act::ReadRoom, Purpose::Participation)?;
        }
        Ok((access, self.existing_file(file).await?))
    }

    /// A file's metadata, for a member of its room.
    pub async fn file_metadata(
        &self,
        identity: &Identity,
        room: &str,
        file: &str,
    ) -> Result<FileInfo, Failure> {
        let (access, stored) = self.file_in_room(identity, room, file).await?;
        policy::decide(
            Caller::Token(identity),
            Act::ReadRoom,
            Purpose::Participation,
            Resource::RoomFile {
                room: access.as_ref(),
                room_id: room,
                file: &stored.meta,
            },
        )?;
        Ok(file_info(stored.meta))
    }

    /// A member downloads a file of a room they read.
    pub async fn room_file(
        &self,
        identity: &Identity,
        room: &str,
        file: &str,
    ) -> Result<Download, Failure> {
        let (access, stored) = self.file_in_room(identity, room, file).await?;
        let read =
            self.proofs
                .room_file(Caller::Token(identity), access.as_ref(), room, &stored.meta)?;
        Ok(Download { file: stored, read })
    }

    /// A link to a file of a room that works without a token until it expires, and only
    /// while the caller may still read the file.
    pub async fn room_file_link(
        &self,
        identity: &Identity,
        room: &str,
        file: &str,
    ) -> Result<FileLink, Failure> {
        let download = self.room_file(identity, room, file).await?;
        Ok(self.signed_link(&download.file.meta.id, identity.user()))
    }

    /// A link to a file's content for `user`, valid for `files.link_ttl_secs`.
    pub(super) fn signed_link(&self, file_id: &str, user: &str) -> FileLink {
        let ttl = i64::try_from(self.config.files.link_ttl_secs).unwrap_or(300);
        let expires = self.clock.now_ms() / 1000 + ttl;
        let sig = self.links.sign(file_id, user, expires);
        FileLink {
            url: format!(
                "/v1/files/{file_id}/content?user={}&expires={expires}&sig={sig}",
                percent_encode(user)
            ),
            expires_at: rfc3339(expires * 1000),
        }
    }

    /// A signed link used: its signature and expiry, then the same rules as a token
    /// download, for the user the link was issued to, as of now. Any refusal is the same
    /// `forbidden`, so a link tells nothing about the file.
    pub async fn linked_file(
        &self,
        file: &str,
        user: &str,
        expires: i64,
        sig: &str,
    ) -> Result<Download, Failure> {
        let now = self.clock.now_ms() / 1000;
        let refused = || Failure::new(ErrorCode::Forbidden, "the link is invalid or has expired");
        let claims = self
            .links
            .verify(file, user, expires, sig, now)
            .ok_or_else(refused)?;
        let stored = self.store.file(&claims.file).await?.ok_or_else(refused)?;
        let room = stored.meta.room_id.clone();
        let read = if stored.meta.purpose == Some(Purpose::PaymentGuarantee) {
            // A Tracker screenshot: readable by the link's user only while they may see it
            // (the client side loses it the moment it is un-shared).
            self.linked_screenshot(&claims.user, &room, &claims.file)
                .await?
        } else {
            let access = self.member_access(&claims.user, &room).await?;
            self.proofs
                .room_file(
                    Caller::LinkBearer(&claims.user),
                    access.as_ref(),
                    &room,
                    &stored.meta,
                )
                .ok()
        };
        let read = read.ok_or_else(refused)?;
        Ok(Download { file: stored, read })
    }

    /// The content of a download, bytes `start..end` (clamped to the file).
    pub async fn content(
        &self,
        download: &Download,
        start: u64,
        end: u64,
    ) -> Result<impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static, Failure> {
        let stream = self
            .store
            .file_content(&download.read, &self.blobs, &download.file, start, end)
            .await?;
        metrics::counter!("workroom_file_bytes_downloaded_total")
            .increment(end.saturating_sub(start));
        Ok(stream)
    }
}

/// Feed received bytes into the upload until the queue closes or a push fails.
async fn store_stream(
    mut upload: FileUpload,
    mut rx: tokio::sync::mpsc::Receiver<Bytes>,
) -> Result<FileUpload, (FileUpload, FileError)> {
    while let Some(data) = rx.recv().await {
        if let Err(e) = upload.push(data).await {
            return Err((upload, e));
        }
    }
    Ok(upload)
}
