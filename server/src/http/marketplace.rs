//! Service calls from the marketplace backend (service JWT): bid accepted, contract ended,
//! team account membership (C1, C2).

use super::error::ApiError;
use super::extract::{ApiJson, Authenticated};
use crate::app::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use workroom_protocol::http::{AccountMemberPut, BidAccepted, ContractEnded, RoomCreated};

/// `POST /v1/marketplace/bids/{bid_id}/accept` → 201 (new) or 200 (repeat) `{"room"}`.
pub(crate) async fn accept_bid(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(bid_id): Path<String>,
    ApiJson(body): ApiJson<BidAccepted>,
) -> Result<(StatusCode, Json<RoomCreated>), ApiError> {
    let (room, created) = state.service.accept_bid(&identity, &bid_id, &body).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(room)))
}

/// `POST /v1/marketplace/bids/{bid_id}/end` → 200 `{"room","closed_at"}`. Idempotent.
pub(crate) async fn end_contract(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(bid_id): Path<String>,
) -> Result<Json<ContractEnded>, ApiError> {
    Ok(Json(state.service.end_contract(&identity, &bid_id).await?))
}

/// `PUT /v1/marketplace/accounts/{account}/members/{user}` `{"role"}` → 204.
pub(crate) async fn put_account_member(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path((account, user)): Path<(String, String)>,
    ApiJson(body): ApiJson<AccountMemberPut>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .put_account_member(&identity, &account, &user, &body)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/marketplace/accounts/{account}/members/{user}` → 204, or 404.
pub(crate) async fn remove_account_member(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path((account, user)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .remove_account_member(&identity, &account, &user)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
