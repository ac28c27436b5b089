//! Files over HTTPS (C4): streamed upload, metadata, ranged download, signed links.
//!
//! Upload is the raw request body (`Content-Type` is the declared type, `?name=` the file
//! name): no multipart parsing, constant memory whatever the size. Downloads are always
//! attachments with `nosniff` and a CSP that forbids everything, so a stored file can never
//! run as a page of this origin.

use super::error::ApiError;
use super::extract::{ApiQuery, Authenticated};
use crate::app::AppState;
use crate::events::rfc3339;
use crate::policy::{self, Act, Caller, Resource};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use workroom_protocol::http::{FileInfo, FileLink};
use workroom_protocol::{ErrorCode, Purpose, Role};
use workroom_storage::proof::FileRead;
use workroom_storage::{
    FileCompanion, FileError, FileMeta, FileUpload, NewFile, RoomAccessRow, StoredFile,
    sanitize_file_name,
};

/// Content types served as themselves; anything else is served as a download of
/// `application/octet-stream`.
const SERVED_AS_IS: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "application/zip",
];

impl From<FileError> for ApiError {
    fn from(error: FileError) -> Self {
        match error {
            FileError::TooLarge { limit } => ApiError::new(
                ErrorCode::TooLarge,
                format!("the file is larger than the limit of {limit} bytes"),
            ),
            FileError::QuotaExceeded { quota } => ApiError::new(
                ErrorCode::TooLarge,
                format!("the workroom's file quota of {quota} bytes would be exceeded"),
            ),
            FileError::NotFound => ApiError::new(ErrorCode::NotFound, "no such file"),
            FileError::Erased => ApiError::new(ErrorCode::NotFound, "the file was erased"),
            FileError::ContentMissing => {
                tracing::error!("a file row points at a missing object");
                ApiError::new(
                    ErrorCode::Internal,
                    "the file's content is missing from the object store",
                )
            }
            FileError::Damaged => {
                tracing::error!("a file failed its integrity check");
                ApiError::new(ErrorCode::Internal, "the file's content is damaged")
            }
            FileError::Unavailable(cause) => {
                tracing::warn!(%cause, "object store unavailable");
                ApiError::new(ErrorCode::Unavailable, "file storage is unavailable")
            }
            FileError::Storage(e) => e.into(),
        }
    }
}

fn file_info(meta: FileMeta) -> FileInfo {
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UploadQuery {
    name: Option<String>,
}

/// `POST /v1/rooms/{room}/files?name=…`: the body is the file.
pub(super) async fn upload(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(room): Path<String>,
    ApiQuery(query): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<FileInfo>), ApiError> {
    let room_id = super::rooms::room_for(
        &state,
        &identity,
        &room,
        Act::WriteRoom,
        Purpose::Participation,
    )
    .await?;
    let limits = &state.config.files;
    let declared_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().chars().take(127).collect::<String>())
        .filter(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_graphic() || c == ' '));
    let new = NewFile {
        room_id: room_id.to_string(),
        uploader_id: identity.user.clone(),
        name: sanitize_file_name(query.name.as_deref().unwrap_or_default()),
        declared_type,
        max_size: limits.max_file_bytes,
        room_quota: limits.room_quota_bytes,
        purpose: Purpose::Participation,
    };
    let (meta, ()) = receive(&state, new, &headers, body, |_| Ok(()), &()).await?;
    Ok((StatusCode::CREATED, Json(file_info(meta))))
}

/// Stream a request body into a new file: the declared length, the object store's health
/// and the room's quota are checked first (a refused body is drained by the route's
/// `refused_upload` layer), then the bytes are hashed, sealed and written by a task of their
/// own; `accept` sees the sniffed type before the file is kept,
/// and `companion` commits with the file's row.
pub(super) async fn receive<C: FileCompanion>(
    state: &AppState,
    new: NewFile,
    headers: &HeaderMap,
    body: Body,
    accept: impl FnOnce(&str) -> Result<(), ApiError>,
    companion: &C,
) -> Result<(FileMeta, C::Row), ApiError> {
    let declared_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_length.is_some_and(|n| n > new.max_size) {
        return Err(FileError::TooLarge {
            limit: new.max_size,
        }
        .into());
    }
    // Known down (and logged once by the health check): refuse now rather than after the
    // store's timeout.
    if !state.health.object_store_up() {
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            "file storage is unavailable",
        ));
    }
    let used = state.store.room_file_usage(&new.room_id).await?;
    if used.saturating_add(declared_length.unwrap_or(0)) > new.room_quota {
        let quota = new.room_quota;
        return Err(FileError::QuotaExceeded { quota }.into());
    }
    let upload = state.store.begin_file_upload(&state.blobs, new).await?;
    let mut stream = body.into_data_stream();
    // Hashing, sealing and writing run in a task of their own, fed through a short bounded
    // queue, while this task reads (and TLS-decrypts) the body: the two halves use two
    // cores, and the queue bounds memory and pushes back on the client.
    let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(4);
    let worker = tokio::spawn(store_stream(upload, rx));
    let mut body_error = None;
    while let Some(next) = stream.next().await {
        match next {
            Ok(data) => {
                if tx.send(data).await.is_err() {
                    break; // the worker stopped: it reports why below
                }
            }
            Err(e) => {
                body_error = Some(e);
                break;
            }
        }
    }
    drop(tx);
    let upload = match worker.await {
        Ok(Ok(upload)) => upload,
        Ok(Err((upload, e))) => {
            // The rest of the body, if the client is still sending, is drained by the
            // route's `refused_upload` layer before the answer goes out.
            upload.abort().await;
            return Err(e.into());
        }
        Err(join) => {
            tracing::error!(error = %join, "upload worker failed");
            return Err(ApiError::new(ErrorCode::Internal, "the upload failed"));
        }
    };
    if let Some(e) = body_error {
        upload.abort().await;
        tracing::debug!(error = %e, "upload body ended early");
        return Err(ApiError::new(
            ErrorCode::Invalid,
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

/// Feed received bytes into the upload until the queue closes or a push fails.
async fn store_stream(
    mut upload: FileUpload,
    mut rx: tokio::sync::mpsc::Receiver<bytes::Bytes>,
) -> Result<FileUpload, (FileUpload, FileError)> {
    while let Some(data) = rx.recv().await {
        if let Err(e) = upload.push(data).await {
            return Err((upload, e));
        }
    }
    Ok(upload)
}

/// A stored file by id, or `404` "no such file".
pub(super) async fn existing_file(state: &AppState, id: &str) -> Result<StoredFile, ApiError> {
    state
        .store
        .file(id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such file"))
}

/// A file of a room, with the caller's access to that room. A room the caller cannot see
/// hides its files: that is refused before the file is looked up.
async fn file_in_room(
    state: &AppState,
    identity: &crate::auth::Identity,
    room: &str,
    file: &str,
) -> Result<(Option<RoomAccessRow>, StoredFile), ApiError> {
    let access = if identity.role == Role::Member {
        state.store.room_access(&identity.user, room).await?
    } else {
        None
    };
    if access.is_none() {
        policy::decide(
            Caller::Token(identity),
            Act::ReadRoom,
            Purpose::Participation,
            Resource::Room(None),
        )?;
    }
    Ok((access, existing_file(state, file).await?))
}

/// A file the caller may download, with the proof.
async fn readable_file(
    state: &AppState,
    identity: &crate::auth::Identity,
    room: &str,
    file: &str,
) -> Result<(StoredFile, FileRead), ApiError> {
    let (access, stored) = file_in_room(state, identity, room, file).await?;
    let read =
        state
            .proofs
            .room_file(Caller::Token(identity), access.as_ref(), room, &stored.meta)?;
    Ok((stored, read))
}

/// `GET /v1/rooms/{room}/files/{file}`.
pub(super) async fn metadata(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path((room, file)): Path<(String, String)>,
) -> Result<Json<FileInfo>, ApiError> {
    let (access, stored) = file_in_room(&state, &identity, &room, &file).await?;
    policy::decide(
        Caller::Token(&identity),
        Act::ReadRoom,
        Purpose::Participation,
        Resource::RoomFile {
            room: access.as_ref(),
            room_id: &room,
            file: &stored.meta,
        },
    )?;
    Ok(Json(file_info(stored.meta)))
}

/// `GET /v1/rooms/{room}/files/{file}/content` (supports `Range`).
pub(super) async fn content(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path((room, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (stored, read) = readable_file(&state, &identity, &room, &file).await?;
    serve(&state, stored, &read, &headers).await
}

/// `POST /v1/rooms/{room}/files/{file}/link`: a link that works without a token until it
/// expires, and only while the caller may still read the file.
pub(super) async fn link(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path((room, file)): Path<(String, String)>,
) -> Result<Json<FileLink>, ApiError> {
    // The link is a download deferred: the same proof, checked again when it is used.
    let (stored, _read) = readable_file(&state, &identity, &room, &file).await?;
    Ok(Json(signed_link(&state, &stored.meta.id, &identity.user)))
}

/// A link to a file's content for `user`, valid for `files.link_ttl_secs`; the download
/// checks again that the user may still read it.
pub(super) fn signed_link(state: &AppState, file_id: &str, user: &str) -> FileLink {
    let ttl = i64::try_from(state.config.files.link_ttl_secs).unwrap_or(300);
    let expires = state.clock.now_ms() / 1000 + ttl;
    let sig = state.links.sign(file_id, user, expires);
    FileLink {
        url: format!(
            "/v1/files/{file_id}/content?user={}&expires={expires}&sig={sig}",
            percent_encode(user)
        ),
        expires_at: rfc3339(expires * 1000),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LinkQuery {
    user: String,
    expires: i64,
    sig: String,
}

/// `GET /v1/files/{file}/content?user=&expires=&sig=`: a signed link. The signature and
/// expiry are checked, then the same room and file rules as a token download, for the
/// user the link was issued to, as of now.
pub(super) async fn signed_content(
    State(state): State<AppState>,
    Path(file): Path<String>,
    ApiQuery(query): ApiQuery<LinkQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let now = state.clock.now_ms() / 1000;
    let refused = || ApiError::new(ErrorCode::Forbidden, "the link is invalid or has expired");
    let claims = state
        .links
        .verify(&file, &query.user, query.expires, &query.sig, now)
        .ok_or_else(refused)?;
    let stored = state.store.file(&claims.file).await?.ok_or_else(refused)?;
    let read = if stored.meta.purpose == Some(Purpose::PaymentGuarantee) {
        // A Tracker screenshot: readable by the link's user only while they may see it (the
        // client side loses it the moment it is un-shared).
        super::screenshots::link_read(&state, &claims.user, &stored.meta.room_id, &claims.file)
            .await?
    } else {
        let access = state
            .store
            .room_access(&claims.user, &stored.meta.room_id)
            .await?;
        state
            .proofs
            .room_file(
                Caller::LinkBearer(&claims.user),
                access.as_ref(),
                &stored.meta.room_id,
                &stored.meta,
            )
            .ok()
    };
    let read = read.ok_or_else(refused)?;
    serve(&state, stored, &read, &headers).await
}

/// The content response: whole file or one range, with the safety headers.
pub(super) async fn serve(
    state: &AppState,
    stored: StoredFile,
    read: &FileRead,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let size = stored.meta.size;
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| parse_range(v, size));
    let (status, start, end) = match range {
        None | Some(RangeRequest::Ignored) => (StatusCode::OK, 0, size),
        Some(RangeRequest::Unsatisfiable) => {
            let mut response = ApiError::new(
                ErrorCode::Invalid,
                format!("the range is outside the file's {size} bytes"),
            )
            .into_response();
            *response.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes */{size}")),
            );
            return Ok(response);
        }
        Some(RangeRequest::Bytes { start, end }) => (StatusCode::PARTIAL_CONTENT, start, end),
    };
    let stream = state
        .store
        .file_content(read, &state.blobs, &stored, start, end)
        .await?;
    metrics::counter!("workroom_file_bytes_downloaded_total").increment(end - start);
    let meta = &stored.meta;
    let served_type = if meta.sniffed_type == "text/plain" {
        "text/plain; charset=utf-8"
    } else if SERVED_AS_IS.contains(&meta.sniffed_type.as_str()) {
        meta.sniffed_type.as_str()
    } else {
        "application/octet-stream"
    };
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, header_value(served_type));
    h.insert(
        header::CONTENT_LENGTH,
        header_value(&(end - start).to_string()),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        header_value(&content_disposition(meta.name.as_deref().unwrap_or("file"))),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::ETAG, header_value(&format!("\"{}\"", meta.sha256)));
    if status == StatusCode::PARTIAL_CONTENT {
        h.insert(
            header::CONTENT_RANGE,
            header_value(&format!("bytes {start}-{}/{size}", end - 1)),
        );
    }
    Ok(response)
}

fn header_value(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// `attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266 / 5987).
fn content_disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{fallback}\"; filename*=UTF-8''{}",
        percent_encode(name)
    )
}

/// Everything but unreserved URL characters is escaped.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn percent_encode(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, QUERY_VALUE).to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeRequest {
    /// Serve `[start, end)`.
    Bytes { start: u64, end: u64 },
    /// Syntactically a range, but outside the file.
    Unsatisfiable,
    /// Not one we serve partially (malformed, or several ranges): send the whole file.
    Ignored,
}

/// One `bytes=` range (RFC 9110 §14.1.2): `a-b`, `a-` or `-n`.
fn parse_range(value: &str, size: u64) -> RangeRequest {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeRequest::Ignored;
    };
    if spec.contains(',') {
        return RangeRequest::Ignored;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Ignored;
    };
    let (first, last) = (first.trim(), last.trim());
    let parse = |s: &str| s.parse::<u64>().ok();
    let (start, end) = match (first.is_empty(), last.is_empty()) {
        (true, true) => return RangeRequest::Ignored,
        (true, false) => {
            let Some(suffix) = parse(last) else {
                return RangeRequest::Ignored;
            };
            if suffix == 0 || size == 0 {
                return RangeRequest::Unsatisfiable;
            }
            (size.saturating_sub(suffix), size)
        }
        (false, _) => {
            let Some(start) = parse(first) else {
                return RangeRequest::Ignored;
            };
            let end = if last.is_empty() {
                size
            } else {
                match parse(last) {
                    Some(last) if last >= start => last.saturating_add(1).min(size),
                    _ => return RangeRequest::Ignored,
                }
            };
            if start >= size {
                return RangeRequest::Unsatisfiable;
            }
            (start, end)
        }
    };
    RangeRequest::Bytes { start, end }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        use RangeRequest::*;
        assert_eq!(parse_range("bytes=0-9", 100), Bytes { start: 0, end: 10 });
        assert_eq!(
            parse_range("bytes=90-", 100),
            Bytes {
                start: 90,
                end: 100
            }
        );
        assert_eq!(
            parse_range("bytes=-10", 100),
            Bytes {
                start: 90,
                end: 100
            }
        );
        assert_eq!(parse_range("bytes=-500", 100), Bytes { start: 0, end: 100 });
        assert_eq!(
            parse_range("bytes=50-500", 100),
            Bytes {
                start: 50,
                end: 100
            }
        );
        assert_eq!(parse_range("bytes=100-", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ignored);
        assert_eq!(parse_range("bytes=9-1", 100), Ignored);
        assert_eq!(parse_range("items=0-1", 100), Ignored);
        assert_eq!(parse_range("bytes=x-1", 100), Ignored);
    }

    #[test]
    fn disposition_is_always_an_attachment_with_a_safe_fallback() {
        assert_eq!(
            content_disposition("résumé \"v2\".pdf"),
            "attachment; filename=\"r_sum_ _v2_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22v2%22.pdf"
        );
    }
}
