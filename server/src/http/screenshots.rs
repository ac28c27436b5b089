//! Tracker screenshots (C9). The contractor's Tracker (a bot token acting for them) posts
//! screenshots into their workrooms while their Work View is on; the image goes through the
//! file pipeline (sealed, sniffed: PNG, JPEG or WebP only) as data collected for payment
//! guarantee. Screenshots are shared with the client side by default; the contractor
//! un-shares or re-shares each (audited), and from un-sharing on the client side cannot list
//! or download it. The contractor side sees all, as does payment-guarantee review (service
//! token). Bots post only; they read nothing.

use super::error::ApiError;
use super::extract::{ApiQuery, Authenticated};
use super::files::{receive, serve, signed_link};
use super::validate::{check_id, check_prose};
use crate::app::AppState;
use crate::auth::Identity;
use crate::events::rfc3339;
use crate::policy::{self, Act, Caller, Resource};
use axum::Json;
use axum::body::Body;
use axum::extract::ws::Utf8Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use workroom_protocol::http::FileLink;
use workroom_protocol::tracker::{ScreenshotList, ScreenshotView};
use workroom_protocol::{ErrorCode, Purpose, Role, RoomId, ServerFrame};
use workroom_storage::{FileMeta, NewFile, NewScreenshot, RoomAccessRow, ScreenshotRow};

/// The image types a screenshot may be.
const IMAGE_TYPES: &[&str] = &["image/png", "image/jpeg", "image/webp"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PostQuery {
    room: String,
    /// RFC 3339.
    captured_at: String,
    /// 0–100.
    activity: u8,
    memo: Option<String>,
}

async fn view(state: &AppState, shot: ScreenshotRow) -> Result<ScreenshotView, ApiError> {
    let file = state.store.file(&shot.file_id).await?;
    Ok(screenshot_view(shot, file.as_ref().map(|f| &f.meta)))
}

/// A screenshot with its image's type and size.
fn screenshot_view(shot: ScreenshotRow, image: Option<&FileMeta>) -> ScreenshotView {
    let (content_type, size) = image
        .map(|f| (f.sniffed_type.clone(), f.size))
        .unwrap_or_default();
    ScreenshotView {
        id: shot.id,
        room: shot.room_id,
        contractor: shot.contractor_id,
        captured_at: rfc3339(shot.captured_at),
        activity: shot.activity,
        memo: shot.memo.and_then(Result::ok),
        shared: shot.shared,
        content_type,
        size,
    }
}

fn publish(state: &AppState, room: &RoomId, frame: &ServerFrame) {
    state
        .hub
        .publish_ephemeral(room, Utf8Bytes::from(frame.to_json()), None);
}

/// `POST /v1/tracker/screenshots?room=&captured_at=&activity=&memo=`, the body the image →
/// 201 the screenshot.
pub(super) async fn post(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    ApiQuery(query): ApiQuery<PostQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ScreenshotView>), ApiError> {
    let contractor = identity.acts_for.clone().unwrap_or_default();
    let (contractor_party, work_view) = if identity.role == Role::Bot {
        let parties = match RoomId::try_from(query.room.as_str()) {
            Ok(_) => state.store.room_parties(&query.room).await?,
            Err(_) => Vec::new(),
        };
        let party = parties
            .iter()
            .any(|p| p.user == contractor && p.side == "contractor");
        (party, party && state.store.work_view(&contractor).await?)
    } else {
        (false, false)
    };
    let _ = policy::decide(
        Caller::Token(&identity),
        Act::PostScreenshot,
        Purpose::PaymentGuarantee,
        Resource::TrackerTarget {
            contractor_party,
            work_view,
        },
    )?;
    if query.activity > 100 {
        return Err(ApiError::new(ErrorCode::Invalid, "activity: 0 to 100"));
    }
    let captured_at = OffsetDateTime::parse(&query.captured_at, &Rfc3339)
        .map_err(|_| ApiError::new(ErrorCode::Invalid, "captured_at: an RFC 3339 time"))?;
    let captured_ms = i64::try_from(captured_at.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| ApiError::new(ErrorCode::Invalid, "captured_at: out of range"))?;
    if let Some(memo) = &query.memo {
        check_prose("memo", memo, 1, 500)?;
    }
    let key = format!("{}\n{}", identity.jti, query.room);
    if let Err(wait) = state.screenshot_limiter.take(&key) {
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            format!("too many screenshots for this workroom; retry in {wait} s"),
        ));
    }
    let new = NewFile {
        room_id: query.room.clone(),
        uploader_id: contractor.clone(),
        name: format!("screenshot-{}", query.captured_at.replace(':', "-")),
        declared_type: None,
        max_size: state.config.tracker.max_screenshot_bytes,
        room_quota: state.config.files.room_quota_bytes,
        purpose: Purpose::PaymentGuarantee,
    };
    let shot = NewScreenshot {
        id: format!("ss_{}", uuid::Uuid::now_v7().simple()),
        room_id: query.room.clone(),
        contractor_id: contractor,
        captured_at: captured_ms,
        activity: query.activity,
        memo: query.memo.map(|m| m.trim().to_string()),
    };
    let only_images = |sniffed: &str| {
        if IMAGE_TYPES.contains(&sniffed) {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorCode::Invalid,
                "a screenshot must be a PNG, JPEG or WebP image",
            ))
        }
    };
    let (file, shot) = receive(&state, new, &headers, body, only_images, &shot).await?;
    let view = screenshot_view(shot, Some(&file));
    if let Ok(room) = RoomId::try_from(query.room.as_str()) {
        publish(
            &state,
            &room,
            &ServerFrame::Screenshot {
                room: room.clone(),
                screenshot: view.clone(),
            },
        );
    }
    Ok((StatusCode::CREATED, Json(view)))
}

/// The caller's access to a room and whether they see it from the contractor side.
async fn side(
    state: &AppState,
    identity: &Identity,
    room: &str,
) -> Result<(Option<RoomAccessRow>, bool), ApiError> {
    if identity.role != Role::Member || RoomId::try_from(room).is_err() {
        return Ok((None, false));
    }
    let access = state.store.room_access(&identity.user, room).await?;
    let contractor_side = access.is_some()
        && state
            .store
            .sides_in_room(&identity.user, room)
            .await?
            .iter()
            .any(|s| s == "contractor");
    Ok((access, contractor_side))
}

/// `GET /v1/rooms/{room}/screenshots`: all of them for the contractor side, shared ones for
/// the client side.
pub(super) async fn list(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(room): Path<String>,
) -> Result<Json<ScreenshotList>, ApiError> {
    let (access, contractor_side) = side(&state, &identity, &room).await?;
    let _ = policy::decide(
        Caller::Token(&identity),
        Act::ReadScreenshots,
        Purpose::PaymentGuarantee,
        Resource::Screenshots {
            room: access.as_ref(),
            contractor_side,
            shot: None,
        },
    )?;
    let mut screenshots = Vec::new();
    for shot in state.store.screenshots(&room, contractor_side).await? {
        screenshots.push(view(&state, shot).await?);
    }
    Ok(Json(ScreenshotList { room, screenshots }))
}

/// One screenshot of a room, once the policy allowed `act` on it for the caller (a room the
/// caller cannot see hides its screenshots: nothing is looked up then).
async fn screenshot_for(
    state: &AppState,
    identity: &Identity,
    room: &str,
    id: &str,
    act: Act,
) -> Result<ScreenshotRow, ApiError> {
    let (access, contractor_side) = side(state, identity, room).await?;
    let shot = match access {
        Some(_) if check_id("screenshot", id).is_ok() => state.store.screenshot(id).await?,
        _ => None,
    };
    let _ = policy::decide(
        Caller::Token(identity),
        act,
        Purpose::PaymentGuarantee,
        Resource::Screenshots {
            room: access.as_ref(),
            contractor_side,
            shot: shot.as_ref(),
        },
    )?;
    shot.ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such screenshot"))
}

/// `GET /v1/rooms/{room}/screenshots/{shot}/content`: the image, while the caller may see it.
pub(super) async fn content(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path((room, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let shot = screenshot_for(&state, &identity, &room, &id, Act::ReadScreenshots).await?;
    let stored = state
        .store
        .file(&shot.file_id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such screenshot"))?;
    serve(&state, stored, &headers).await
}

/// `POST /v1/rooms/{room}/screenshots/{shot}/link`: a short-lived link to the image that
/// stops working when the caller may no longer see it (for the client side: when the
/// contractor un-shares it).
pub(super) async fn link(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path((room, id)): Path<(String, String)>,
) -> Result<Json<FileLink>, ApiError> {
    let shot = screenshot_for(&state, &identity, &room, &id, Act::ReadScreenshots).await?;
    Ok(Json(signed_link(&state, &shot.file_id, &identity.user)))
}

/// `POST /v1/rooms/{room}/screenshots/{shot}/share` and `…/unshare`.
async fn set_shared(
    state: AppState,
    identity: Identity,
    room: String,
    id: String,
    shared: bool,
) -> Result<Json<ScreenshotView>, ApiError> {
    let shot = screenshot_for(&state, &identity, &room, &id, Act::ShareScreenshot).await?;
    let action = if shared {
        "screenshot.shared"
    } else {
        "screenshot.unshared"
    };
    let entry = identity.actor().entry(
        action,
        &format!("room:{room}"),
        Purpose::PaymentGuarantee.as_str(),
        json!({ "screenshot": shot.id }),
    );
    let changed = state
        .store
        .set_screenshot_shared(&shot.id, shared, entry)
        .await?;
    let shot = state.store.screenshot(&shot.id).await?.unwrap_or(shot);
    let view = view(&state, shot).await?;
    if changed && let Ok(room_id) = RoomId::try_from(room.as_str()) {
        let frame = if shared {
            ServerFrame::Screenshot {
                room: room_id.clone(),
                screenshot: view.clone(),
            }
        } else {
            ServerFrame::ScreenshotRemoved {
                room: room_id.clone(),
                id: view.id.clone(),
            }
        };
        publish(&state, &room_id, &frame);
    }
    Ok(Json(view))
}

/// `POST /v1/rooms/{room}/screenshots/{shot}/share`.
pub(super) async fn share(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path((room, id)): Path<(String, String)>,
) -> Result<Json<ScreenshotView>, ApiError> {
    set_shared(state, identity, room, id, true).await
}

/// `POST /v1/rooms/{room}/screenshots/{shot}/unshare`.
pub(super) async fn unshare(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path((room, id)): Path<(String, String)>,
) -> Result<Json<ScreenshotView>, ApiError> {
    set_shared(state, identity, room, id, false).await
}

/// `GET /v1/marketplace/rooms/{room}/screenshots`: payment-guarantee review sees every
/// screenshot of the room, shared or not.
pub(super) async fn review(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(room): Path<String>,
) -> Result<Json<ScreenshotList>, ApiError> {
    let _ = policy::decide(
        Caller::Token(&identity),
        Act::ReviewScreenshots,
        Purpose::PaymentGuarantee,
        Resource::Nothing,
    )?;
    let mut screenshots = Vec::new();
    for shot in state.store.screenshots(&room, true).await? {
        screenshots.push(view(&state, shot).await?);
    }
    Ok(Json(ScreenshotList { room, screenshots }))
}
