//! Member reads over HTTPS: the caller's rooms, a room's members, a page of history, and the
//! ended moderator grants of a room (transparency). The same service calls as the
//! WebSocket frames.

use super::error::ApiError;
use super::extract::{ApiQuery, Authenticated};
use crate::app::AppState;
use crate::service::Window;
use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use workroom_protocol::RoomId;
use workroom_protocol::frames::MessageView;
use workroom_protocol::http::{MemberList, RoomList};
use workroom_protocol::moderation::EndedGrantList;

/// `GET /v1/rooms`.
pub(crate) async fn list_rooms(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
) -> Result<Json<RoomList>, ApiError> {
    let rooms = state.service.list_rooms(&identity).await?;
    Ok(Json(RoomList { rooms }))
}

/// `GET /v1/rooms/{room}/members`.
pub(crate) async fn members(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(room): Path<String>,
) -> Result<Json<MemberList>, ApiError> {
    let read = state.service.room_read_by_id(&identity, &room).await?;
    let members = state.service.members(&read).await?;
    Ok(Json(MemberList {
        room: read.room().to_string(),
        members,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct HistoryQuery {
    before_seq: Option<u64>,
    limit: Option<u32>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct HistoryPage {
    room: RoomId,
    messages: Vec<MessageView>,
}

/// `GET /v1/rooms/{room}/messages?before_seq=N&limit=L`: the `history` frame over HTTPS.
pub(crate) async fn history(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(room): Path<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<HistoryPage>, ApiError> {
    let read = state.service.room_read_by_id(&identity, &room).await?;
    let window = Window::new(query.before_seq, query.limit);
    let (room, messages) = state.service.history(&read, window).await?;
    Ok(Json(HistoryPage { room, messages }))
}

/// `GET /v1/rooms/{room}/grants`: the moderator grants opened on the room that have ended.
pub(crate) async fn ended_grants(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(room): Path<String>,
) -> Result<Json<EndedGrantList>, ApiError> {
    Ok(Json(state.service.ended_grants(&identity, &room).await?))
}
