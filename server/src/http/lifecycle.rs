//! The data lifecycle over HTTP (C10, C14): logout; the marketplace's token revocation,
//! terminations, ban checks and workroom retention (admins read and change retention too);
//! legal holds; the admin listings of holds and deferred erasures.

use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, Authenticated};
use crate::app::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use workroom_protocol::lifecycle::{
    BanQuery, BanStatus, ErasureList, HoldList, HoldRequest, HoldView, PurgeResult, RetentionPut,
    RetentionView, RevokeTokens, TerminateUser, Terminated, TokensRevoked,
};

/// `POST /v1/me/logout` → 204: the caller's token is refused from now on.
pub(crate) async fn logout(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
) -> Result<StatusCode, ApiError> {
    state.service.logout(&identity).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/marketplace/users/{user}/revoke-tokens` `{"issued_before"?}` → 200.
pub(crate) async fn revoke_tokens(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(user): Path<String>,
    ApiJson(body): ApiJson<RevokeTokens>,
) -> Result<Json<TokensRevoked>, ApiError> {
    Ok(Json(
        state.service.revoke_tokens(&identity, &user, &body).await?,
    ))
}

/// `POST /v1/marketplace/users/{user}/terminate` `{"reason"}` → 200.
pub(crate) async fn terminate_user(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(user): Path<String>,
    ApiJson(body): ApiJson<TerminateUser>,
) -> Result<Json<Terminated>, ApiError> {
    Ok(Json(
        state
            .service
            .terminate_user(&identity, &user, &body)
            .await?,
    ))
}

/// `POST /v1/marketplace/accounts/{account}/terminate` → 200.
pub(crate) async fn terminate_account(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(account): Path<String>,
) -> Result<Json<Terminated>, ApiError> {
    Ok(Json(
        state.service.terminate_account(&identity, &account).await?,
    ))
}

/// `GET /v1/marketplace/bans/{user}` → 200 `{"banned", …}`.
pub(crate) async fn ban_of_user(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(user): Path<String>,
) -> Result<Json<BanStatus>, ApiError> {
    let query = BanQuery {
        user: Some(user),
        email: None,
    };
    Ok(Json(state.service.check_ban(&identity, &query).await?))
}

/// `POST /v1/marketplace/bans/check` `{"email"}` or `{"user"}` → 200 `{"banned", …}` (an
/// email goes in a body, never in a URL).
pub(crate) async fn check_ban(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    ApiJson(query): ApiJson<BanQuery>,
) -> Result<Json<BanStatus>, ApiError> {
    Ok(Json(state.service.check_ban(&identity, &query).await?))
}

/// `GET /v1/marketplace/rooms/{room}/retention` → 200.
pub(crate) async fn get_retention(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(room): Path<String>,
) -> Result<Json<RetentionView>, ApiError> {
    Ok(Json(state.service.room_retention(&identity, &room).await?))
}

/// `PUT /v1/marketplace/rooms/{room}/retention` `{"retention_secs"}` → 200.
pub(crate) async fn put_retention(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(room): Path<String>,
    ApiJson(body): ApiJson<RetentionPut>,
) -> Result<Json<RetentionView>, ApiError> {
    Ok(Json(
        state
            .service
            .set_room_retention(&identity, &room, &body)
            .await?,
    ))
}

/// `POST /v1/marketplace/rooms/{room}/purge` → 202 (purging or deferred), 200 (purged
/// before).
pub(crate) async fn purge_room(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(room): Path<String>,
) -> Result<(StatusCode, Json<PurgeResult>), ApiError> {
    let result = state.service.purge_room_now(&identity, &room).await?;
    let status = if result.state == "purged" {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(result)))
}

/// `POST /v1/legal/holds` `{"request_id","scope","target"}` → 201.
pub(crate) async fn place_hold(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    ApiJson(body): ApiJson<HoldRequest>,
) -> Result<(StatusCode, Json<HoldView>), ApiError> {
    let hold = state.service.place_hold(&identity, &body).await?;
    Ok((StatusCode::CREATED, Json(hold)))
}

/// Which holds to list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct HoldFilter {
    /// Only holds in place (default: all, lifted ones too).
    #[serde(default)]
    active: bool,
}

/// `GET /v1/legal/holds?active=true` → 200.
pub(crate) async fn list_holds(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    ApiQuery(filter): ApiQuery<HoldFilter>,
) -> Result<Json<HoldList>, ApiError> {
    Ok(Json(
        state.service.list_holds(&identity, filter.active).await?,
    ))
}

/// `POST /v1/legal/holds/{hold}/lift` → 200.
pub(crate) async fn lift_hold(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(hold): Path<String>,
) -> Result<Json<HoldView>, ApiError> {
    Ok(Json(state.service.lift_hold(&identity, &hold).await?))
}

/// `GET /v1/admin/holds?active=true` → 200 (the same listing, for admins).
pub(crate) async fn admin_holds(
    state: State<AppState>,
    identity: Authenticated,
    filter: ApiQuery<HoldFilter>,
) -> Result<Json<HoldList>, ApiError> {
    list_holds(state, identity, filter).await
}

/// `GET /v1/admin/erasures` → 200: erasures a legal hold deferred.
pub(crate) async fn admin_erasures(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
) -> Result<Json<ErasureList>, ApiError> {
    Ok(Json(state.service.list_erasures(&identity).await?))
}
