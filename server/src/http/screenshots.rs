//! Tracker screenshots (C9). The contractor's Tracker (a bot token acting for them) posts
//! screenshots into their workrooms while their Work View is on; the image goes through the
//! file pipeline (sealed, sniffed: PNG, JPEG or WebP only) as data collected for payment
//! guarantee, and commits with its screenshot row.
//!
//! Who sees a screenshot: its contractor's team (the members of the contractor's party
//! account) always, and the client side while it is shared (the default). Nobody else: in a
//! project's shared room the other contractors do not see each other's work. The contractor
//! un-shares or re-shares each (audited); from un-sharing on the client side cannot list,
//! fetch or open a link to it, and its live views get `screenshot_removed`. Payment-guarantee
//! review (a service token) sees every screenshot, and each of its reads is audited. Bots
//! post only; they read nothing.

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
use workroom_storage::audit::AuditAction;
use workroom_storage::proof::FileRead;
use workroom_storage::{
    NewFile, NewScreenshot, RoomAccessRow, RoomSides, ScreenshotFilter, ScreenshotRow,
};

/// The image types a screenshot may be.
const IMAGE_TYPES: &[&str] = &["image/png", "image/jpeg", "image/webp"];
/// The memo travels in this header, percent-encoded UTF-8: URLs end up in proxy logs.
const MEMO_HEADER: &str = "workroom-memo";
/// How far ahead of the server's clock a capture time may be.
const MAX_CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;
/// Screenshots per page when the caller does not say, and at most.
const DEFAULT_PAGE: u64 = 100;
const MAX_PAGE: u64 = 500;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PostQuery {
    room: String,
    /// RFC 3339.
    captured_at: String,
    /// 0–100.
    activity: u8,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PageQuery {
    after: Option<String>,
    limit: Option<u64>,
}

impl PageQuery {
    /// The validated cursor and page size.
    fn checked(&self) -> Result<(Option<&str>, u64), ApiError> {
        if let Some(after) = &self.after {
            check_id("after", after)?;
        }
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::new(
                ErrorCode::Invalid,
                format!("limit: 1 to {MAX_PAGE}"),
            ));
        }
        Ok((self.after.as_deref(), limit))
    }
}

fn screenshot_view(shot: ScreenshotRow) -> ScreenshotView {
    ScreenshotView {
        id: shot.id,
        room: shot.room_id,
        contractor: shot.contractor_id,
        captured_at: rfc3339(shot.captured_at),
        activity: shot.activity,
        memo: shot.memo.and_then(Result::ok),
        shared: shot.shared,
        content_type: shot.image_type,
        size: shot.image_size,
    }
}

/// One page of screenshots: `rows` holds up to `limit + 1`, the extra one only saying that
/// another page follows.
fn page(room: String, mut rows: Vec<ScreenshotRow>, limit: u64) -> ScreenshotList {
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = more.then(|| rows.last().map(|r| r.id.clone())).flatten();
    ScreenshotList {
        room,
        screenshots: rows.into_iter().map(screenshot_view).collect(),
        next,
    }
}

/// Tell the room's people what changed, each as they may see it: the contractor's team gets
/// the screenshot as it now is; the client side gets it while shared, and its removal when
/// not. Moderators' live views get nothing (payment-guarantee data, C5).
fn announce(state: &AppState, sides: &RoomSides, room: &RoomId, view: &ScreenshotView) {
    let team = sides.team_of(&view.contractor);
    let client_side: Vec<String> = sides
        .client_side
        .iter()
        .filter(|user| !team.contains(user))
        .cloned()
        .collect();
    let current = Utf8Bytes::from(
        ServerFrame::Screenshot {
            room: room.clone(),
            screenshot: view.clone(),
        }
        .to_json(),
    );
    let hub = &state.hub;
    hub.notify_users(&team, room, current.clone(), Purpose::PaymentGuarantee);
    let for_client_side = if view.shared {
        current
    } else {
        Utf8Bytes::from(
            ServerFrame::ScreenshotRemoved {
                room: room.clone(),
                id: view.id.clone(),
            }
            .to_json(),
        )
    };
    hub.notify_users(
        &client_side,
        room,
        for_client_side,
        Purpose::PaymentGuarantee,
    );
}

/// The memo header, percent-decoded.
fn memo(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(MEMO_HEADER) else {
        return Ok(None);
    };
    let invalid = || ApiError::new(ErrorCode::Invalid, "memo: percent-encoded UTF-8");
    let encoded = value.to_str().map_err(|_| invalid())?;
    let memo = percent_encoding::percent_decode_str(encoded)
        .decode_utf8()
        .map_err(|_| invalid())?;
    check_prose("memo", &memo, 1, 500)?;
    Ok(Some(memo.trim().to_string()))
}

/// The capture time in ms: RFC 3339, no older than `tracker.max_capture_age_secs`, at most
/// a few minutes ahead of the server's clock.
fn capture_time(state: &AppState, text: &str) -> Result<i64, ApiError> {
    let captured_at = OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|_| ApiError::new(ErrorCode::Invalid, "captured_at: an RFC 3339 time"))?;
    let captured = i64::try_from(captured_at.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| ApiError::new(ErrorCode::Invalid, "captured_at: out of range"))?;
    let now = state.clock.now_ms();
    let max_age_ms = i64::try_from(state.config.tracker.max_capture_age_secs)
        .unwrap_or(i64::MAX / 1000)
        .saturating_mul(1000);
    if captured > now + MAX_CLOCK_SKEW_MS || captured < now.saturating_sub(max_age_ms) {
        return Err(ApiError::new(
            ErrorCode::Invalid,
            format!(
                "captured_at: within the last {} s and not in the future",
                state.config.tracker.max_capture_age_secs
            ),
        ));
    }
    Ok(captured)
}

/// `POST /v1/tracker/screenshots?room=&captured_at=&activity=` with the memo in the
/// `Workroom-Memo` header and the image as the body → 201 the screenshot.
pub(super) async fn post(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    ApiQuery(query): ApiQuery<PostQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ScreenshotView>), ApiError> {
    let contractor = identity.acts_for.clone().unwrap_or_default();
    let room_id = RoomId::try_from(query.room.as_str()).ok();
    let (sides, work_view) = match &room_id {
        Some(room) if identity.role == Role::Bot => {
            let sides = state.store.room_sides(room.as_str()).await?;
            let party = sides.contractor_teams.contains_key(&contractor);
            let work_view = party && state.store.work_view(&contractor).await?;
            (sides, work_view)
        }
        _ => (RoomSides::default(), false),
    };
    policy::decide(
        Caller::Token(&identity),
        Act::PostScreenshot,
        Purpose::PaymentGuarantee,
        Resource::TrackerTarget {
            contractor_party: sides.contractor_teams.contains_key(&contractor),
            // Their role, as long as they are still in their own party account.
            contractor_role: sides
                .in_own_team(&contractor)
                .then(|| sides.roles.get(&contractor).copied())
                .flatten(),
            closed: sides.closed(),
            work_view,
        },
    )?;
    let Some(room) = room_id else {
        return Err(ApiError::new(ErrorCode::NotFound, "no such room"));
    };
    if query.activity > 100 {
        return Err(ApiError::new(ErrorCode::Invalid, "activity: 0 to 100"));
    }
    let captured_at = capture_time(&state, &query.captured_at)?;
    let memo = memo(&headers)?;
    let key = format!("{}\n{}", identity.jti, room);
    if let Err(wait) = state.screenshot_limiter.take(&key) {
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            format!("too many screenshots for this workroom; retry in {wait} s"),
        ));
    }
    let new = NewFile {
        room_id: room.to_string(),
        uploader_id: contractor.clone(),
        name: format!("screenshot-{}", query.captured_at.replace(':', "-")),
        declared_type: None,
        max_size: state.config.tracker.max_screenshot_bytes,
        room_quota: state.config.files.room_quota_bytes,
        purpose: Purpose::PaymentGuarantee,
    };
    let shot = NewScreenshot {
        room_id: room.to_string(),
        contractor_id: contractor,
        bot_jti: identity.jti.clone(),
        captured_at,
        activity: query.activity,
        memo,
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
    let (_, shot) = receive(&state, new, &headers, body, only_images, &shot).await?;
    let view = screenshot_view(shot);
    announce(&state, &sides, &room, &view);
    Ok((StatusCode::CREATED, Json(view)))
}

/// How a member sees a room's screenshots: their access, the room's sides, and the
/// contractors whose team they are in. Nothing is looked up for other roles.
struct Viewer {
    access: Option<RoomAccessRow>,
    sides: RoomSides,
    teams_of: Vec<String>,
    client_side: bool,
}

impl Viewer {
    async fn of(state: &AppState, user: &str, role: Role, room: &str) -> Result<Viewer, ApiError> {
        let mut viewer = Viewer {
            access: None,
            sides: RoomSides::default(),
            teams_of: Vec::new(),
            client_side: false,
        };
        if role != Role::Member || RoomId::try_from(room).is_err() {
            return Ok(viewer);
        }
        viewer.access = state.store.room_access(user, room).await?;
        if viewer.access.is_some() {
            viewer.sides = state.store.room_sides(room).await?;
            viewer.teams_of = viewer.sides.contractors_of(user);
            viewer.client_side = viewer.sides.on_client_side(user);
        }
        Ok(viewer)
    }

    fn resource<'a>(&'a self, shot: Option<&'a ScreenshotRow>) -> Resource<'a> {
        Resource::Screenshots {
            room: self.access.as_ref(),
            client_side: self.client_side,
            teams_of: &self.teams_of,
            shot,
        }
    }
}

/// The proof that the bearer of a signed link for `user` may still open the screenshot
/// whose image is `file_id` (`None`: not any more). Checked at download: an un-share ends
/// the client side's outstanding links.
pub(super) async fn link_read(
    state: &AppState,
    user: &str,
    room: &str,
    file_id: &str,
) -> Result<Option<FileRead>, ApiError> {
    let viewer = Viewer::of(state, user, Role::Member, room).await?;
    let Some(shot) = state.store.screenshot_of_file(file_id).await? else {
        return Ok(None);
    };
    Ok(state
        .proofs
        .screenshot_image(
            Caller::LinkBearer(user),
            viewer.resource(Some(&shot)),
            &shot.file_id,
        )
        .ok())
}

/// `GET /v1/rooms/{room}/screenshots?after=&limit=`: the ones the caller sees, oldest first.
pub(super) async fn list(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(room): Path<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<ScreenshotList>, ApiError> {
    let viewer = Viewer::of(&state, &identity.user, identity.role, &room).await?;
    let filter = ScreenshotFilter::Visible {
        client_side: viewer.client_side,
        contractors: &viewer.teams_of,
    };
    let read = state.proofs.screenshots(
        Caller::Token(&identity),
        &room,
        viewer.resource(None),
        filter,
    )?;
    let (after, limit) = query.checked()?;
    let rows = state.store.screenshots(&read, after, limit + 1).await?;
    Ok(Json(page(room, rows, limit)))
}

/// One screenshot of a room and how the caller sees the room. A room the caller cannot see
/// hides its screenshots (nothing is looked up then); a screenshot the caller may not see
/// is refused by the policy when they act on it.
async fn screenshot_for(
    state: &AppState,
    identity: &Identity,
    room: &str,
    id: &str,
) -> Result<(ScreenshotRow, Viewer), ApiError> {
    let viewer = Viewer::of(state, &identity.user, identity.role, room).await?;
    let shot = match viewer.access {
        Some(_) if check_id("screenshot", id).is_ok() => state.store.screenshot(id).await?,
        _ => None,
    };
    match shot {
        Some(shot) => Ok((shot, viewer)),
        None => {
            policy::decide(
                Caller::Token(identity),
                Act::ReadScreenshots,
                Purpose::PaymentGuarantee,
                viewer.resource(None),
            )?;
            Err(ApiError::new(ErrorCode::NotFound, "no such screenshot"))
        }
    }
}

/// The proof that the caller may download a screenshot's image.
async fn visible_image(
    state: &AppState,
    identity: &Identity,
    room: &str,
    id: &str,
) -> Result<(ScreenshotRow, FileRead), ApiError> {
    let (shot, viewer) = screenshot_for(state, identity, room, id).await?;
    let read = state.proofs.screenshot_image(
        Caller::Token(identity),
        viewer.resource(Some(&shot)),
        &shot.file_id,
    )?;
    Ok((shot, read))
}

/// `GET /v1/rooms/{room}/screenshots/{shot}/content`: the image, while the caller may see it.
pub(super) async fn content(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path((room, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (shot, read) = visible_image(&state, &identity, &room, &id).await?;
    image(&state, &shot, &read, &headers).await
}

async fn image(
    state: &AppState,
    shot: &ScreenshotRow,
    read: &FileRead,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let stored = state
        .store
        .file(&shot.file_id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such screenshot"))?;
    serve(state, stored, read, headers).await
}

/// `POST /v1/rooms/{room}/screenshots/{shot}/link`: a short-lived link to the image that
/// stops working when the caller may no longer see it (for the client side: when the
/// contractor un-shares it).
pub(super) async fn link(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path((room, id)): Path<(String, String)>,
) -> Result<Json<FileLink>, ApiError> {
    // The link is a download deferred: the same proof, checked again when it is used.
    let (shot, _read) = visible_image(&state, &identity, &room, &id).await?;
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
    let (shot, viewer) = screenshot_for(&state, &identity, &room, &id).await?;
    policy::decide(
        Caller::Token(&identity),
        Act::ShareScreenshot,
        Purpose::PaymentGuarantee,
        viewer.resource(Some(&shot)),
    )?;
    let sides = viewer.sides;
    if let Err(wait) = state.share_limiter.take(&identity.user) {
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            format!("too many share changes; retry in {wait} s"),
        ));
    }
    let action = if shared {
        AuditAction::ScreenshotShared
    } else {
        AuditAction::ScreenshotUnshared
    };
    let entry = identity.actor().entry(
        action,
        &format!("room:{room}"),
        Purpose::PaymentGuarantee,
        json!({ "screenshot": shot.id }),
    );
    let changed = state
        .store
        .set_screenshot_shared(&shot.id, shared, entry)
        .await?;
    let shot = state.store.screenshot(&shot.id).await?.unwrap_or(shot);
    let view = screenshot_view(shot);
    if changed && let Ok(room_id) = RoomId::try_from(room.as_str()) {
        announce(&state, &sides, &room_id, &view);
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

/// `GET /v1/marketplace/rooms/{room}/screenshots?after=&limit=`: payment-guarantee review
/// sees every screenshot of the room, shared or not; the read is audited.
pub(super) async fn review(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(room): Path<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<ScreenshotList>, ApiError> {
    let review = state.proofs.review_screenshots(&identity, &room)?;
    check_id("room", &room)?;
    let (after, limit) = query.checked()?;
    let entry = identity.actor().entry(
        AuditAction::ScreenshotsReviewed,
        &format!("room:{room}"),
        Purpose::PaymentGuarantee,
        json!({ "after": after, "limit": limit }),
    );
    let read = state.committers.record_read(review, entry).await?;
    let rows = state.store.screenshots(&read, after, limit + 1).await?;
    Ok(Json(page(room, rows, limit)))
}

/// `GET /v1/marketplace/rooms/{room}/screenshots/{shot}/content`: the image, for
/// payment-guarantee review; the read is audited before it happens.
pub(super) async fn review_content(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path((room, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // Refused before anything is looked up; the proof comes once the screenshot is known.
    policy::decide(
        Caller::Token(&identity),
        Act::ReviewScreenshots,
        Purpose::PaymentGuarantee,
        Resource::Nothing,
    )?;
    check_id("room", &room)?;
    check_id("screenshot", &id)?;
    let shot = state
        .store
        .screenshot(&id)
        .await?
        .filter(|shot| shot.room_id == room)
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such screenshot"))?;
    let entry = identity.actor().entry(
        AuditAction::ScreenshotReviewDownloaded,
        &format!("room:{room}"),
        Purpose::PaymentGuarantee,
        json!({ "screenshot": shot.id }),
    );
    let review = state
        .proofs
        .review_screenshot_image(&identity, &shot.file_id)?;
    let read = state.committers.record_read(review, entry).await?;
    image(&state, &shot, &read, &headers).await
}
