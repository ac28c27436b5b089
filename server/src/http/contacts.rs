//! Reciprocal contact release over HTTPS (C8): `PUT`/`GET /v1/me/contact`,
//! `POST /v1/rooms/{room}/contacts/release`, `GET /v1/rooms/{room}/contacts`.

use super::error::ApiError;
use super::extract::{ApiJson, Authenticated};
use crate::app::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use workroom_protocol::contacts::{ContactDetails, ReleaseRequest, Released, ReleasedContacts};

/// `PUT /v1/me/contact` → 204.
pub(crate) async fn put_own(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    ApiJson(body): ApiJson<ContactDetails>,
) -> Result<StatusCode, ApiError> {
    state.service.put_own_contact(&identity, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/me/contact`: the caller's own details, or `404` when none are on file.
pub(crate) async fn get_own(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
) -> Result<Json<ContactDetails>, ApiError> {
    Ok(Json(state.service.own_contact(&identity).await?))
}

/// `POST /v1/rooms/{room}/contacts/release` `{"with"?}` → 200 `{"room","with","newly"}`.
pub(crate) async fn release(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(room): Path<String>,
    ApiJson(body): ApiJson<ReleaseRequest>,
) -> Result<Json<Released>, ApiError> {
    Ok(Json(
        state
            .service
            .release_contacts(&identity, &room, body)
            .await?,
    ))
}

/// `GET /v1/rooms/{room}/contacts`: the details released to the caller in this room.
pub(crate) async fn released(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(room): Path<String>,
) -> Result<Json<ReleasedContacts>, ApiError> {
    Ok(Json(
        state.service.released_contacts(&identity, &room).await?,
    ))
}
