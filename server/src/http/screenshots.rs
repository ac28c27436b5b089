//! Tracker screenshots over HTTPS (C9): the Tracker posts them (the image is the body, the
//! memo a header); members list, fetch and link to the ones they see; the contractor
//! shares and un-shares; payment-guarantee review reads all of a room's (audited).

use super::error::ApiError;
use super::extract::{ApiQuery, Authenticated};
use super::files::{declared_length, serve};
use crate::app::AppState;
use crate::auth::Identity;
use crate::service::{ScreenshotPage, ScreenshotPost};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use workroom_protocol::http::FileLink;
use workroom_protocol::tracker::{ScreenshotList, ScreenshotView};

/// The memo travels in this header, percent-encoded UTF-8: URLs end up in proxy logs.
const MEMO_HEADER: &str = "workroom-memo";

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct PostQuery {
    room: String,
    /// RFC 3339.
    captured_at: String,
    /// 0–100.
    activity: u8,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageQuery {
    after: Option<String>,
    limit: Option<u64>,
}

impl From<PageQuery> for ScreenshotPage {
    fn from(query: PageQuery) -> Self {
        ScreenshotPage {
            after: query.after,
            limit: query.limit,
        }
    }
}

/// The memo header, percent-decoded.
fn memo(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(MEMO_HEADER) else {
        return Ok(None);
    };
    let invalid = || ApiError::invalid("memo: percent-encoded UTF-8");
    let encoded = value.to_str().map_err(|_| invalid())?;
    let memo = percent_encoding::percent_decode_str(encoded)
        .decode_utf8()
        .map_err(|_| invalid())?;
    Ok(Some(memo.into_owned()))
}

/// `POST /v1/tracker/screenshots?room=&captured_at=&activity=` with the memo in the
/// `Workroom-Memo` header and the image as the body → 201 the screenshot.
pub(crate) async fn post(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    ApiQuery(query): ApiQuery<PostQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ScreenshotView>), ApiError> {
    let post = ScreenshotPost {
        room: query.room,
        captured_at: query.captured_at,
        activity: query.activity,
        memo: memo(&headers),
        declared_length: declared_length(&headers),
        image: body.into_data_stream(),
    };
    let view = state.service.post_screenshot(&identity, post).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// `GET /v1/rooms/{room}/screenshots?after=&limit=`: the ones the caller sees, oldest first.
pub(crate) async fn list(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(room): Path<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<ScreenshotList>, ApiError> {
    let which = query.into();
    Ok(Json(
        state.service.screenshots(&identity, &room, &which).await?,
    ))
}

/// `GET /v1/rooms/{room}/screenshots/{shot}/content`: the image, while the caller may see it.
pub(crate) async fn content(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path((room, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let download = state
        .service
        .screenshot_image(&identity, &room, &id)
        .await?;
    serve(&state, &download, &headers).await
}

/// `POST /v1/rooms/{room}/screenshots/{shot}/link`: a short-lived link to the image that
/// stops working when the caller may no longer see it (for the client side: when the
/// contractor un-shares it).
pub(crate) async fn link(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path((room, id)): Path<(String, String)>,
) -> Result<Json<FileLink>, ApiError> {
    Ok(Json(
        state.service.screenshot_link(&identity, &room, &id).await?,
    ))
}

async fn set_shared(
    state: AppState,
    identity: Identity,
    room: String,
    id: String,
    shared: bool,
) -> Result<Json<ScreenshotView>, ApiError> {
    let view = state
        .service
        .set_screenshot_shared(&identity, &room, &id, shared)
        .await?;
    Ok(Json(view))
}

/// `POST /v1/rooms/{room}/screenshots/{shot}/share`.
pub(crate) async fn share(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path((room, id)): Path<(String, String)>,
) -> Result<Json<ScreenshotView>, ApiError> {
    set_shared(state, identity, room, id, true).await
}

/// `POST /v1/rooms/{room}/screenshots/{shot}/unshare`.
pub(crate) async fn unshare(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path((room, id)): Path<(String, String)>,
) -> Result<Json<ScreenshotView>, ApiError> {
    set_shared(state, identity, room, id, false).await
}

/// `GET /v1/marketplace/rooms/{room}/screenshots?after=&limit=`: payment-guarantee review
/// sees every screenshot of the room, shared or not; the read is audited.
pub(crate) async fn review(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(room): Path<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<ScreenshotList>, ApiError> {
    let which = query.into();
    Ok(Json(
        state
            .service
            .review_screenshots(&identity, &room, &which)
            .await?,
    ))
}

/// `GET /v1/marketplace/rooms/{room}/screenshots/{shot}/content`: the image, for
/// payment-guarantee review; the read is audited before it happens.
pub(crate) async fn review_content(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path((room, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let download = state
        .service
        .review_screenshot_image(&identity, &room, &id)
        .await?;
    serve(&state, &download, &headers).await
}
