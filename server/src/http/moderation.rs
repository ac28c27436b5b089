//! Moderator routes (C6): opening, approving, listing and revoking access grants, the reads
//! a live grant allows (history with prior versions, file downloads, connection links), and
//! system notices. Every read is recorded in the audit trail before anything is returned
//! (see [`crate::service`]).

use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, Authenticated};
use super::files::serve;
use crate::app::AppState;
use crate::service::Window;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use workroom_protocol::moderation::{
    ConnectionList, GrantList, GrantState, GrantView, ModeratedHistory, NewNotice, NoticePosted,
    OpenGrant,
};

/// `POST /v1/moderation/grants` → 201 the grant (pending when four-eyes is on).
pub(crate) async fn open_grant(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    ApiJson(body): ApiJson<OpenGrant>,
) -> Result<(StatusCode, Json<GrantView>), ApiError> {
    let grant = state.service.open_grant(&identity, body).await?;
    Ok((StatusCode::CREATED, Json(grant)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct GrantListQuery {
    room: Option<String>,
    state: Option<GrantState>,
}

/// `GET /v1/moderation/grants?room=&state=`.
pub(crate) async fn list_grants(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    ApiQuery(query): ApiQuery<GrantListQuery>,
) -> Result<Json<GrantList>, ApiError> {
    let list = state
        .service
        .list_grants(&identity, query.room.as_deref(), query.state)
        .await?;
    Ok(Json(list))
}

/// `GET /v1/moderation/grants/{grant}`.
pub(crate) async fn get_grant(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<GrantView>, ApiError> {
    Ok(Json(state.service.grant(&identity, &id).await?))
}

/// `POST /v1/moderation/grants/{grant}/approve`: a second moderator activates a pending
/// grant; its duration runs from now.
pub(crate) async fn approve_grant(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<GrantView>, ApiError> {
    Ok(Json(state.service.approve_grant(&identity, &id).await?))
}

/// `POST /v1/moderation/grants/{grant}/revoke`: ends a grant at once; live views under it
/// are cut off with `watch_ended` (`reason: revoked`).
pub(crate) async fn revoke_grant(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<GrantView>, ApiError> {
    Ok(Json(state.service.revoke_grant(&identity, &id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct HistoryQuery {
    before_seq: Option<u64>,
    limit: Option<u32>,
}

/// `GET /v1/moderation/grants/{grant}/messages?before_seq=&limit=`: a page of history with
/// every message's earlier versions (edited and deleted ones included).
pub(crate) async fn grant_history(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<ModeratedHistory>, ApiError> {
    let window = Window::new(query.before_seq, query.limit);
    Ok(Json(
        state.service.grant_history(&identity, &id, window).await?,
    ))
}

/// `GET /v1/moderation/grants/{grant}/files/{file}/content`: any file that was attached in
/// the grant's room (withdrawn ones included).
pub(crate) async fn grant_file(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path((id, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let download = state.service.grant_file(&identity, &id, &file).await?;
    serve(&state, &download, &headers).await
}

/// The body of a connection lookup: in the body, not the URL, because URLs end up in
/// proxy and load-balancer logs and the address must not.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConnectionQuery {
    /// Only connections from this client address (hashed; never stored or logged).
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    limit: Option<u64>,
}

/// `POST /v1/moderation/grants/{grant}/connections` `{"address"?, "limit"?}`: which of the
/// room's members connected from where (pseudonymised), e.g. "which accounts used this
/// address".
pub(crate) async fn grant_connections(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(id): Path<String>,
    ApiJson(query): ApiJson<ConnectionQuery>,
) -> Result<Json<ConnectionList>, ApiError> {
    let list = state
        .service
        .grant_connections(&identity, &id, query.address.as_deref(), query.limit)
        .await?;
    Ok(Json(list))
}

/// `POST /v1/moderation/grants/{grant}/notices` `{"body"}` → 201: a system notice in the
/// room's timeline, marked `"notice": true`, sent by the moderator.
pub(crate) async fn post_notice(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewNotice>,
) -> Result<(StatusCode, Json<NoticePosted>), ApiError> {
    let posted = state.service.post_notice(&identity, &id, body.body).await?;
    Ok((StatusCode::CREATED, Json(posted)))
}
