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
use workroom_storage::{Contact, ReleaseError, RoomAccessRow, RoomParty, RoomSides};

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
    policy::decide(
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
    let own = state.proofs.own_contact(&identity)?;
    match state.store.contact(&own).await? {
        Some(Ok(contact)) => Ok(Json(view(contact))),
        Some(Err(_)) | None => Err(ApiError::new(
            ErrorCode::NotFound,
            "no contact details on file",
        )),
    }
}

/// What the policy needs to know about a room's contacts, and the parties.
struct RoomContacts {
    room_id: Option<RoomId>,
    parties: Vec<RoomParty>,
    access: Option<RoomAccessRow>,
    /// The caller is a contract party there.
    party: bool,
    /// The room is open, or closed within its retention period.
    retained: bool,
}

impl RoomContacts {
    fn resource(&self) -> Resource<'_> {
        Resource::Contacts {
            room: self.access.as_ref(),
            party: self.party,
            retained: self.retained,
        }
    }

    fn room_id(&self) -> Result<RoomId, ApiError> {
        self.room_id
            .clone()
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such room"))
    }
}

/// The room and its parties, as the caller sees them.
async fn contacts_in(
    state: &AppState,
    identity: &Identity,
    room: &str,
) -> Result<RoomContacts, ApiError> {
    let room_id = RoomId::try_from(room).ok();
    let access = match room_id {
        Some(_) if identity.role == Role::Member => {
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
    Ok(RoomContacts {
        room_id,
        party: sides.parties.iter().any(|p| p.user == identity.user),
        parties: sides.parties,
        access,
        retained,
    })
}

/// `POST /v1/rooms/{room}/contacts/release` `{"with"?}` → 200 `{"room","with","newly"}`.
pub(super) async fn release(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(room): Path<String>,
    ApiJson(body): ApiJson<ReleaseRequest>,
) -> Result<Json<Released>, ApiError> {
    let contacts = contacts_in(&state, &identity, &room).await?;
    policy::decide(
        Caller::Token(&identity),
        Act::ReleaseContacts,
        Purpose::Participation,
        contacts.resource(),
    )?;
    let room_id = contacts.room_id()?;
    let parties = contacts.parties;
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
    let contacts = contacts_in(&state, &identity, &room).await?;
    let read = state.proofs.released_contacts(
        &identity,
        contacts.access.as_ref(),
        contacts.party,
        contacts.retained,
    )?;
    let room_id = contacts.room_id()?;
    let rows = state.store.contacts_released_to(&read).await?;
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
