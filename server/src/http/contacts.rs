//! Reciprocal contact release (C8): members keep their full contact details
//! (`PUT /v1/me/contact`); a contract party of a workroom asks for the other party's details,
//! which releases their own to that party in the same transaction; both are told live; the
//! act is audited. Released details are read only by the two parties, only through that
//! workroom, and show the current details. Details are never logged.

use super::error::ApiError;
use super::extract::{ApiJson, Authenticated};
use super::validate::{check_id, check_prose, check_text};
use crate::app::AppState;
use crate::auth::Identity;
use crate::events::rfc3339;
use crate::policy::{self, Act, Caller, Resource};
use axum::Json;
use axum::extract::ws::Utf8Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::json;
use workroom_protocol::contacts::{
    ContactDetails, ReleaseRequest, Released, ReleasedContact, ReleasedContacts,
};
use workroom_protocol::{ErrorCode, Purpose, Role, RoomId, ServerFrame};
use workroom_storage::audit::AuditAction;
use workroom_storage::{Contact, ReleaseError, RoomParty, RoomSides};

impl From<ReleaseError> for ApiError {
    fn from(error: ReleaseError) -> Self {
        match error {
            ReleaseError::NoDetails => ApiError::new(
                ErrorCode::Conflict,
                "you have no contact details on file: PUT /v1/me/contact first; nothing was released",
            ),
            ReleaseError::Storage(e) => e.into(),
        }
    }
}

/// A phone number, loosely: digits with the usual separators, 5 to 20 digits.
fn check_phone(value: &str) -> Result<(), ApiError> {
    let allowed = value
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')' | '.' | '/'));
    let digits = value.chars().filter(char::is_ascii_digit).count();
    if !allowed || !(5..=20).contains(&digits) || value.len() > 32 {
        return Err(ApiError::new(
            ErrorCode::Invalid,
            "phone: 5 to 20 digits, with spaces, +, -, (, ), . or / between them",
        ));
    }
    Ok(())
}

fn keep_own(identity: &Identity) -> Result<(), ApiError> {
    let _ = policy::decide(
        Caller::Token(identity),
        Act::KeepOwnContact,
        Purpose::Participation,
        Resource::Nothing,
    )?;
    Ok(())
}

fn view(contact: Contact) -> ContactDetails {
    ContactDetails {
        name: contact.name,
        company: contact.company,
        phone: contact.phone,
        address: contact.address,
    }
}

/// `PUT /v1/me/contact` → 204.
pub(super) async fn put_own(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    ApiJson(body): ApiJson<ContactDetails>,
) -> Result<StatusCode, ApiError> {
    keep_own(&identity)?;
    check_text("name", &body.name, 200)?;
    if let Some(company) = &body.company {
        check_text("company", company, 200)?;
    }
    check_phone(body.phone.trim())?;
    check_prose("address", &body.address, 1, 500)?;
    let contact = Contact {
        name: body.name.trim().to_string(),
        company: body.company.map(|c| c.trim().to_string()),
        phone: body.phone.trim().to_string(),
        address: body.address.trim().to_string(),
    };
    state.store.put_contact(&identity.user, &contact).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/me/contact`: the caller's own details, or `404` when none are on file.
pub(super) async fn get_own(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
) -> Result<Json<ContactDetails>, ApiError> {
    keep_own(&identity)?;
    match state.store.contact(&identity.user).await? {
        Some(Ok(contact)) => Ok(Json(view(contact))),
        Some(Err(_)) | None => Err(ApiError::new(
            ErrorCode::NotFound,
            "no contact details on file",
        )),
    }
}

/// The room, its parties, and the policy's answer for `act` on contacts there.
async fn contacts_in(
    state: &AppState,
    identity: &Identity,
    room: &str,
    act: Act,
) -> Result<(RoomId, Vec<RoomParty>), ApiError> {
    let access = match RoomId::try_from(room) {
        Ok(_) if identity.role == Role::Member => {
            state.store.room_access(&identity.user, room).await?
        }
        _ => None,
    };
    let sides = if access.is_some() {
        state.store.room_sides(room).await?
    } else {
        RoomSides::default()
    };
    let retained = match sides.closed_at {
        None => true,
        Some(closed_at) => {
            let keep = i64::try_from(state.config.retention.closed_room_secs.saturating_mul(1000))
                .unwrap_or(i64::MAX);
            state.clock.now_ms() < closed_at.saturating_add(keep)
        }
    };
    let _ = policy::decide(
        Caller::Token(identity),
        act,
        Purpose::Participation,
        Resource::Contacts {
            room: access.as_ref(),
            party: sides.parties.iter().any(|p| p.user == identity.user),
            retained,
        },
    )?;
    let room_id =
        RoomId::try_from(room).map_err(|_| ApiError::new(ErrorCode::NotFound, "no such room"))?;
    Ok((room_id, sides.parties))
}

/// `POST /v1/rooms/{room}/contacts/release` `{"with"?}` → 200 `{"room","with","newly"}`.
pub(super) async fn release(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(room): Path<String>,
    ApiJson(body): ApiJson<ReleaseRequest>,
) -> Result<Json<Released>, ApiError> {
    let (room_id, parties) = contacts_in(&state, &identity, &room, Act::ReleaseContacts).await?;
    let my_side = parties
        .iter()
        .find(|p| p.user == identity.user)
        .map(|p| p.side.clone())
        .unwrap_or_default();
    let others: Vec<&RoomParty> = parties.iter().filter(|p| p.side != my_side).collect();
    let other = match (&body.with, others.as_slice()) {
        (Some(with), _) => {
            check_id("with", with)?;
            others
                .iter()
                .find(|p| &p.user == with)
                .map(|p| p.user.clone())
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::Invalid,
                        "with: not a contract party on the other side of this workroom",
                    )
                })?
        }
        (None, [only]) => only.user.clone(),
        (None, []) => {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                "this workroom has no party on the other side",
            ));
        }
        (None, _) => {
            return Err(ApiError::new(
                ErrorCode::Invalid,
                "with: this workroom has several parties on the other side; name one",
            ));
        }
    };
    // A release goes both ways: the other party must still be in the workroom to see theirs.
    if state
        .store
        .room_access(&other, room_id.as_str())
        .await?
        .is_none()
    {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the other party no longer has access to this workroom; nothing was released",
        ));
    }
    let entry = identity.actor().entry(
        AuditAction::ContactReleased,
        &format!("room:{room_id}"),
        Purpose::Participation,
        json!({ "between": [identity.user, other] }),
    );
    let newly = state
        .store
        .release_contacts(room_id.as_str(), &identity.user, &other, entry)
        .await?;
    if newly {
        let between = [identity.user.clone(), other.clone()];
        let frame = ServerFrame::ContactReleased {
            room: room_id.clone(),
            between: between.clone(),
        };
        state.hub.notify_users(
            &between,
            &room_id,
            Utf8Bytes::from(frame.to_json()),
            Purpose::Participation,
        );
    }
    Ok(Json(Released {
        room: room_id.to_string(),
        with: other,
        newly,
    }))
}

/// `GET /v1/rooms/{room}/contacts`: the details released to the caller in this room.
pub(super) async fn released(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(room): Path<String>,
) -> Result<Json<ReleasedContacts>, ApiError> {
    let (room_id, _) = contacts_in(&state, &identity, &room, Act::ReadReleasedContacts).await?;
    let rows = state
        .store
        .contacts_released_to(room_id.as_str(), &identity.user)
        .await?;
    Ok(Json(ReleasedContacts {
        room: room_id.to_string(),
        contacts: rows
            .into_iter()
            .map(|row| {
                let (details, erased) = match row.details {
                    Some(Ok(contact)) => (Some(view(contact)), false),
                    Some(Err(_)) => (None, true),
                    None => (None, false),
                };
                ReleasedContact {
                    user: row.user,
                    released_at: rfc3339(row.released_at),
                    details,
                    erased,
                }
            })
            .collect(),
    }))
}
