//! Member reads over HTTPS: the caller's rooms, a room's members, a page of history, and the
//! ended moderator grants of a room (transparency). The same rules as the WebSocket frames,
//! from [`crate::policy`].

use super::error::ApiError;
use super::extract::{ApiQuery, Authenticated};
use crate::app::AppState;
use crate::events::{message_view, rfc3339};
use crate::policy::{self, Act, Caller, Resource};
use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use workroom_protocol::frames::{
    HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT, MemberView, MessageView, RoomSummary,
};
use workroom_protocol::http::{MemberList, RoomList};
use workroom_protocol::moderation::{EndedGrantList, EndedGrantView};
use workroom_protocol::{ErrorCode, Purpose, Role, RoomId};
use workroom_storage::proof::RoomRead;
use workroom_storage::{MemberRow, RoomAccessRow};

/// A room summary as listed to the caller.
pub fn summary(row: &RoomAccessRow) -> Option<RoomSummary> {
    Some(RoomSummary {
        id: RoomId::try_from(row.room_id.as_str()).ok()?,
        last_seq: row.last_seq,
        read_seq: row.read_seq,
        closed: row.closed,
        can_send: policy::can_send(row.role, row.closed),
    })
}

/// A member row as shown to other members, for participation: personal data collected for
/// another purpose is left out.
pub fn member_view(row: MemberRow) -> MemberView {
    let shown = row
        .data_purpose
        .as_deref()
        .is_none_or(|p| policy::readable_name(p, Purpose::Participation));
    let (name, email) = if shown {
        (row.name, row.email)
    } else {
        (None, None)
    };
    MemberView {
        user: row.user,
        account: row.account,
        side: row.side,
        role: row.role.as_str().to_string(),
        party: row.party,
        name,
        email,
        erased: row.erased,
    }
}

/// The caller's access to a room (`None` for anyone but a member, or a malformed id).
async fn access_of(
    state: &AppState,
    identity: &crate::auth::Identity,
    room: &str,
) -> Result<Option<RoomAccessRow>, ApiError> {
    Ok(match RoomId::try_from(room) {
        Ok(_) if identity.role == Role::Member => {
            state.store.room_access(&identity.user, room).await?
        }
        _ => None,
    })
}

/// The proof that the caller reads the room (history, members), from the policy.
async fn read_room(
    state: &AppState,
    identity: &crate::auth::Identity,
    room: &str,
) -> Result<RoomRead, ApiError> {
    let access = access_of(state, identity, room).await?;
    Ok(state
        .proofs
        .read_room(Caller::Token(identity), access.as_ref())?)
}

/// The room a member acts on, once the policy allowed `act` for `purpose` there.
pub(super) async fn room_for(
    state: &AppState,
    identity: &crate::auth::Identity,
    room: &str,
    act: Act,
    purpose: Purpose,
) -> Result<RoomId, ApiError> {
    let row = access_of(state, identity, room).await?;
    policy::decide(
        Caller::Token(identity),
        act,
        purpose,
        Resource::Room(row.as_ref()),
    )?;
    RoomId::try_from(room).map_err(|_| ApiError::new(ErrorCode::NotFound, "no such room"))
}

/// `GET /v1/rooms`.
pub(super) async fn list_rooms(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
) -> Result<Json<RoomList>, ApiError> {
    policy::decide(
        Caller::Token(&identity),
        Act::ListRooms,
        Purpose::Participation,
        Resource::Nothing,
    )?;
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
    let read = read_room(&state, &identity, &room).await?;
    let rows = state.store.room_members(&read).await?;
    Ok(Json(MemberList {
        room: read.room().to_string(),
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
    let read = read_room(&state, &identity, &room).await?;
    let room_id = RoomId::try_from(read.room())
        .map_err(|_| ApiError::new(ErrorCode::NotFound, "no such room"))?;
    let limit = query
        .limit
        .unwrap_or(HISTORY_DEFAULT_LIMIT)
        .clamp(1, HISTORY_MAX_LIMIT);
    let rows = state
        .store
        .history(
            &read,
            query.before_seq.unwrap_or(u64::MAX),
            u64::from(limit),
        )
        .await?;
    Ok(Json(HistoryPage {
        messages: rows
            .iter()
            .filter(|e| policy::readable_stored(e.purpose, Purpose::Participation))
            .map(|e| message_view(&room_id, e))
            .collect(),
        room: room_id,
    }))
}

/// `GET /v1/rooms/{room}/grants`: the moderator grants opened on the room that have ended
/// (case id, scope, times; not the reason, not the moderator). Off when
/// `moderation.transparency = false`.
pub(super) async fn ended_grants(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(room): Path<String>,
) -> Result<Json<EndedGrantList>, ApiError> {
    let room_id = room_for(
        &state,
        &identity,
        &room,
        Act::ListEndedGrants,
        Purpose::Moderation,
    )
    .await?;
    if !state.config.moderation.transparency {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "grant transparency is turned off on this server",
        ));
    }
    let now = state.clock.now_ms();
    let grants = state.store.grants(Some(room_id.as_str())).await?;
    Ok(Json(EndedGrantList {
        grants: grants
            .into_iter()
            .filter_map(|g| {
                let ended_at = g.ended_at(now)?;
                Some(EndedGrantView {
                    case_id: g.case_id.clone(),
                    scope: g.scope.clone(),
                    state: g.state(now),
                    opened_at: rfc3339(g.opened_at),
                    ended_at: rfc3339(ended_at),
                })
            })
            .collect(),
    }))
}
