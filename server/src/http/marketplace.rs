//! Service calls from the marketplace backend (service JWT): bid accepted, contract ended,
//! team account membership. These are the only paths that create rooms or change who sees
//! them (C1, C2).

use super::error::ApiError;
use super::extract::{ApiJson, Authenticated};
use super::validate::{check_email, check_id, check_text};
use crate::app::AppState;
use crate::events::rfc3339;
use crate::policy::{self, Act, Caller, Resource};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use workroom_protocol::http::{AccountMemberPut, BidAccepted, ContractEnded, Party, RoomCreated};
use workroom_protocol::{ErrorCode, Purpose, RoomId};
use workroom_storage::{AccountRole, PartyInput};

fn party(side: &str, p: &Party) -> Result<PartyInput, ApiError> {
    check_id(&format!("{side}.user"), &p.user)?;
    check_id(&format!("{side}.account"), &p.account)?;
    check_text(&format!("{side}.name"), &p.name, 200)?;
    check_email(&format!("{side}.email"), &p.email)?;
    Ok(PartyInput {
        user: p.user.clone(),
        account: p.account.clone(),
        name: p.name.clone(),
        email: p.email.clone(),
    })
}

/// `POST /v1/marketplace/bids/{bid_id}/accept` → 201 (new) or 200 (repeat) `{"room"}`.
pub(super) async fn accept_bid(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(bid_id): Path<String>,
    ApiJson(body): ApiJson<BidAccepted>,
) -> Result<(StatusCode, Json<RoomCreated>), ApiError> {
    provision_allowed(&identity)?;
    check_id("bid_id", &bid_id)?;
    check_id("project", &body.project)?;
    let client = party("client", &body.client)?;
    let contractor = party("contractor", &body.contractor)?;
    if client.user == contractor.user {
        return Err(ApiError::new(
            ErrorCode::Invalid,
            "client and contractor must be different users",
        ));
    }
    let outcome = state
        .store
        .accept_bid(
            &bid_id,
            &body.project,
            &client,
            &contractor,
            &identity.actor(),
        )
        .await?;
    for room in &outcome.changed_rooms {
        let users = state.store.users_of_room(room).await?;
        state.hub.rooms_changed(&users);
    }
    if outcome.created {
        tracing::info!(bid = %bid_id, room = %outcome.room_id, "workroom opened");
    }
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(RoomCreated {
            room: outcome.room_id,
            shared_room: outcome.shared_room_id,
        }),
    ))
}

/// `POST /v1/marketplace/bids/{bid_id}/end` → 200 `{"room","closed_at"}`. Idempotent.
pub(super) async fn end_contract(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(bid_id): Path<String>,
) -> Result<Json<ContractEnded>, ApiError> {
    provision_allowed(&identity)?;
    check_id("bid_id", &bid_id)?;
    let outcome = state.store.end_contract(&bid_id, &identity.actor()).await?;
    for room in &outcome.newly_closed {
        if let Ok(room_id) = RoomId::try_from(room.as_str()) {
            state.hub.room_closed(&room_id);
        }
        tracing::info!(bid = %bid_id, room = %room, "workroom closed");
    }
    Ok(Json(ContractEnded {
        room: outcome.room_id,
        closed_at: rfc3339(outcome.closed_at),
        shared_room_closed: outcome.shared_room_closed,
    }))
}

/// `PUT /v1/marketplace/accounts/{account}/members/{user}` `{"role"}` → 204.
pub(super) async fn put_account_member(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path((account, user)): Path<(String, String)>,
    ApiJson(body): ApiJson<AccountMemberPut>,
) -> Result<StatusCode, ApiError> {
    provision_allowed(&identity)?;
    check_id("account", &account)?;
    check_id("user", &user)?;
    let role = AccountRole::parse(&body.role).ok_or_else(|| {
        ApiError::new(
            ErrorCode::Invalid,
            "role: must be `owner`, `member` or `viewer`",
        )
    })?;
    if let Some(name) = &body.name {
        check_text("name", name, 200)?;
    }
    if let Some(email) = &body.email {
        check_email("email", email)?;
    }
    state
        .store
        .put_account_member(
            &account,
            &user,
            role,
            body.name.as_deref(),
            body.email.as_deref(),
            &identity.actor(),
        )
        .await?;
    state.hub.rooms_changed(std::slice::from_ref(&user));
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/marketplace/accounts/{account}/members/{user}` → 204, or 404.
pub(super) async fn remove_account_member(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path((account, user)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    provision_allowed(&identity)?;
    check_id("account", &account)?;
    check_id("user", &user)?;
    state
        .store
        .remove_account_member(&account, &user, &identity.actor())
        .await?;
    state.hub.rooms_changed(std::slice::from_ref(&user));
    Ok(StatusCode::NO_CONTENT)
}

/// Marketplace calls serve participation: they open and close the workrooms.
fn provision_allowed(identity: &crate::auth::Identity) -> Result<(), ApiError> {
    let _audited_in_the_act = policy::decide(
        Caller::Token(identity),
        Act::Provision,
        Purpose::Participation,
        Resource::Nothing,
    )?;
    Ok(())
}
