//! Files over HTTPS (C4): streamed upload, metadata, ranged download, signed links.
//!
//! Upload is the raw request body (`Content-Type` is the declared type, `?name=` the file
//! name): no multipart parsing, constant memory whatever the size. Downloads are always
//! attachments with `nosniff` and a CSP that forbids everything, so a stored file can never
//! run as a page of this origin. Every download route serves a [`Download`] the service
//! handed out (the file with the proof that the caller may open it) through [`serve`].

use super::error::ApiError;
use super::extract::{ApiQuery, Authenticated};
use crate::app::AppState;
use crate::service::{Download, Upload, percent_encode};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use workroom_protocol::http::{FileInfo, FileLink};

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

/// The declared length of a request body, if the client sent one.
pub(crate) fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct UploadQuery {
    name: Option<String>,
}

/// `POST /v1/rooms/{room}/files?name=…`: the body is the file. A refused body is drained by
/// the route's `refused_upload` layer before the answer goes out.
pub(crate) async fn upload(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(room): Path<String>,
    ApiQuery(query): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<FileInfo>), ApiError> {
    let upload = Upload {
        name: query.name,
        declared_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        declared_length: declared_length(&headers),
        body: body.into_data_stream(),
    };
    let info = state.service.upload(&identity, &room, upload).await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// `GET /v1/rooms/{room}/files/{file}`.
pub(crate) async fn metadata(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path((room, file)): Path<(String, String)>,
) -> Result<Json<FileInfo>, ApiError> {
    Ok(Json(
        state.service.file_metadata(&identity, &room, &file).await?,
    ))
}

/// `GET /v1/rooms/{room}/files/{file}/content` (supports `Range`).
pub(crate) async fn content(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path((room, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let download = state.service.room_file(&identity, &room, &file).await?;
    serve(&state, &download, &headers).await
}

/// `POST /v1/rooms/{room}/files/{file}/link`: a link that works without a token until it
/// expires, and only while the caller may still read the file.
pub(crate) async fn link(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path((room, file)): Path<(String, String)>,
) -> Result<Json<FileLink>, ApiError> {
    Ok(Json(
        state
            .service
            .room_file_link(&identity, &room, &file)
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct LinkQuery {
    user: String,
    expires: i64,
    sig: String,
}

/// `GET /v1/files/{file}/content?user=&expires=&sig=`: a signed link. The signature and
/// expiry are checked, then the same room and file rules as a token download, for the
/// user the link was issued to, as of now.
pub(crate) async fn signed_content(
    State(state): State<AppState>,
    Path(file): Path<String>,
    ApiQuery(query): ApiQuery<LinkQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let download = state
        .service
        .linked_file(&file, &query.user, query.expires, &query.sig)
        .await?;
    serve(&state, &download, &headers).await
}

/// The content response: whole file or one range, with the safety headers.
pub(crate) async fn serve(
    state: &AppState,
    download: &Download,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let meta = download.meta();
    let size = meta.size;
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| parse_range(v, size));
    let (status, start, end) = match range {
        None | Some(RangeRequest::Ignored) => (StatusCode::OK, 0, size),
        Some(RangeRequest::Unsatisfiable) => {
            let mut response =
                ApiError::invalid(format!("the range is outside the file's {size} bytes"))
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
    let stream = state.service.content(download, start, end).await?;
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
