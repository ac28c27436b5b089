//! Member reads over HTTPS: the caller's rooms, a room's members, a page of history. The
//! same access rules as the WebSocket frames, from [`crate::access`].

use super::error::ApiError;
use super::extract::{ApiQuery, Authenticated};
use crate::access::{self, RoomAction};
use crate::app::AppState;
use crate::events::message_view;
use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use workroom_protocol::frames::{
    HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT, MemberView, MessageView, RoomSummary,
};
use workroom_protocol::http::{MemberList, RoomList};
use workroom_protocol::{ErrorCode, RoomId};
use workroom_storage::{MemberRow, RoomAccessRow};

/// A room summary as listed to the caller.
pub fn summary(row: &RoomAccessRow) -> Option<RoomSummary> {
    Some(RoomSummary {
        id: RoomId::try_from(row.room_id.as_str()).ok()?,
        last_seq: row.last_seq,
        read_seq: row.read_seq,
        closed: row.closed,
        can_send: access::can_send(row.role, row.closed),
    })
}

/// A member row as shown to other members.
pub fn member_view(row: MemberRow) -> MemberView {
    MemberView {
        user: row.user,
        account: row.account,
        side: row.side,
        role: row.role.as_str().to_string(),
        party: row.party,
        name: row.name,
        email: row.email,
        erased: row.erased,
    }
}

pub(super) async fn room_for(
    state: &AppState,
    identity: &crate::auth::Identity,
    room: &str,
    action: RoomAction,
) -> Result<RoomId, ApiError> {
    access::may_use_member_api(identity)?;
    let Ok(room_id) = RoomId::try_from(room) else {
        return Err(ApiError::new(ErrorCode::NotFound, "no such room"));
    };
    let row = state.store.room_access(&identity.user, room).await?;
    access::check_room(row.as_ref(), action)?;
    Ok(room_id)
}

/// `GET /v1/rooms`.
pub(super) async fn list_rooms(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
) -> Result<Json<RoomList>, ApiError> {
    access::may_use_member_api(&identity)?;
    let rows = state.store.rooms_for_user(&identity.user).await?;
    Ok(Json(RoomList {
        rooms: rows.iter().filter_map(summary).collect(),
    }))
}

/// `GET /v1/rooms/{room}/members`.
pub(super) async fn members(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(room): Path<String>,
) -> Result<Json<MemberList>, ApiError> {
    let room_id = room_for(&state, &identity, &room, RoomAction::Read).await?;
    let rows = state.store.room_members(room_id.as_str()).await?;
    Ok(Json(MemberList {
        room: room_id.to_string(),
        members: rows.into_iter().map(member_view).collect(),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HistoryQuery {
    before_seq: Option<u64>,
    limit: Option<u32>,
}

#[derive(Debug, serde::Serialize)]
pub(super) struct HistoryPage {
    room: RoomId,
    messages: Vec<MessageView>,
}

/// `GET /v1/rooms/{room}/messages?before_seq=N&limit=L`: the `history` frame over HTTPS.
pub(super) async fn history(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(room): Path<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<HistoryPage>, ApiError> {
    let room_id = room_for(&state, &identity, &room, RoomAction::Read).await?;
    let limit = query
        .limit
        .unwrap_or(HISTORY_DEFAULT_LIMIT)
        .clamp(1, HISTORY_MAX_LIMIT);
    let rows = state
        .store
        .history(
            room_id.as_str(),
            query.before_seq.unwrap_or(u64::MAX),
            u64::from(limit),
        )
        .await?;
    Ok(Json(HistoryPage {
        messages: rows.iter().map(|e| message_view(&room_id, e)).collect(),
        room: room_id,
    }))
}
