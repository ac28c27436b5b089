//! The Tracker's groundwork over HTTPS (C9): a contractor's Work View switch (`GET`/`PUT
//! /v1/me/work-view`) and the revocation of bot tokens acting for them
//! (`DELETE /v1/me/bots/{jti}`). A revoked bot token is refused on its next request, on every
//! node. Both acts are audited.

use super::error::ApiError;
use super::extract::{ApiJson, Authenticated};
use crate::app::AppState;
use crate::service::WorkView;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

/// `GET /v1/me/work-view` → `{"on"}` (off until turned on).
pub(crate) async fn get_work_view(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
) -> Result<Json<WorkView>, ApiError> {
    Ok(Json(state.service.work_view(&identity).await?))
}

/// `PUT /v1/me/work-view` `{"on"}` → the new state; recorded as `tracker.work_view`.
pub(crate) async fn put_work_view(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    ApiJson(body): ApiJson<WorkView>,
) -> Result<Json<WorkView>, ApiError> {
    Ok(Json(state.service.set_work_view(&identity, body).await?))
}

/// `DELETE /v1/me/bots/{jti}` → 204: the bot token with that `jti` acting for the caller is
/// refused from now on. Idempotent; recorded as `bot.revoked` the first time.
pub(crate) async fn revoke_bot(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(jti): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.service.revoke_bot(&identity, &jti).await?;
    Ok(StatusCode::NO_CONTENT)
}
