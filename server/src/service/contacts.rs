//! Reciprocal contact release (C8): members keep their full contact details; a contract
//! party of a workroom asks for the other party's details, which releases their own to
//! that party in the same transaction; both are told live; the act is audited. Released
//! details are read only by the two parties, only through that workroom, and show the
//! current details. Details are never logged.

use super::validate::{check_id, check_prose, check_text};
use super::{Failure, Service};
use crate::auth::Identity;
use crate::events::rfc3339;
use crate::policy::{self, Act, Caller, Resource};
use axum::extract::ws::Utf8Bytes;
use serde_json::json;
use workroom_protocol::contacts::{
    ContactDetails, ReleaseRequest, Released, ReleasedContact, ReleasedContacts,
};
use workroom_protocol::{ErrorCode, Purpose, RoomId, ServerFrame};
use workroom_storage::audit::AuditAction;
use workroom_storage::{Contact, RoomAccessRow, RoomParty, RoomSides};

/// A phone number, loosely: digits with the usual separators, 5 to 20 digits.
fn check_phone(value: &str) -> Result<(), Failure> {
    let allowed = value
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')' | '.' | '/'));
    let digits = value.chars().filter(char::is_ascii_digit).count();
    if !allowed || !(5..=20).contains(&digits) || value.len() > 32 {
        return Err(Failure::invalid(
            "phone: 5 to 20 digits, with spaces, +, -, (, ), . or / between them",
        ));
    }
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

    fn room_id(&self) -> Result<RoomId, Failure> {
        self.room_id
            .clone()
            .ok_or_else(|| Failure::not_found("no such room"))
    }
}

impl Service {
    /// Keep the caller's own contact details (replacing what was on file).
    pub async fn put_own_contact(
        &self,
        identity: &Identity,
        body: ContactDetails,
    ) -> Result<(), Failure> {
        policy::decide(
            Caller::Token(identity),
            Act::KeepOwnContact,
            Purpose::Participation,
            Resource::Nothing,
        )?;
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
        self.store.put_contact(identity.user(), &contact).await?;
        Ok(())
    }

    /// The caller's own details, or `404` when none are on file.
    pub async fn own_contact(&self, identity: &Identity) -> Result<ContactDetails, Failure> {
        let own = self.proofs.own_contact(identity)?;
        match self.store.contact(&own).await? {
            Some(Ok(contact)) => Ok(view(contact)),
            Some(Err(_)) | None => Err(Failure::not_found("no contact details on file")),
        }
    }

    /// The room and its parties, as the caller sees them.
    async fn contacts_in(&self, identity: &Identity, room: &str) -> Result<RoomContacts, Failure> {
        let room_id = RoomId::try_from(room).ok();
        let access = self.access_of(identity, room).await?;
        let sides = if access.as_ref().is_some_and(|a| !a.purged) {
            self.store.room_sides(room).await?
        } else {
            RoomSides::default()
        };
        // The room's own retention, else the global one: contact details go with the room.
        let retention_secs = access
            .as_ref()
            .and_then(|a| a.retention_secs)
            .and_then(|s| u64::try_from(s).ok())
            .unwrap_or(self.config.retention.closed_room_secs);
        let retained = match sides.closed_at {
            None => true,
            Some(closed_at) => {
                let keep = i64::try_from(retention_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
                self.clock.now_ms() < closed_at.saturating_add(keep)
            }
        };
        Ok(RoomContacts {
            room_id,
            party: sides.parties.iter().any(|p| p.user == identity.user()),
            parties: sides.parties,
            access,
            retained,
        })
    }

    /// Release contact details with the other party of a room, both ways.
    pub async fn release_contacts(
        &self,
        identity: &Identity,
        room: &str,
        body: ReleaseRequest,
    ) -> Result<Released, Failure> {
        let contacts = self.contacts_in(identity, room).await?;
        policy::decide(
            Caller::Token(identity),
            Act::ReleaseContacts,
            Purpose::Participation,
            contacts.resource(),
        )?;
        let room_id = contacts.room_id()?;
        let parties = contacts.parties;
        let my_side = parties
            .iter()
            .find(|p| p.user == identity.user())
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
                        Failure::invalid(
                            "with: not a contract party on the other side of this workroom",
                        )
                    })?
            }
            (None, [only]) => only.user.clone(),
            (None, []) => {
                return Err(Failure::not_found(
                    "this workroom has no party on the other side",
                ));
            }
            (None, _) => {
                return Err(Failure::invalid(
                    "with: this workroom has several parties on the other side; name one",
                ));
            }
        };
        // A release goes both ways: the other party must still be in the workroom to see
        // theirs.
        if self
            .store
            .room_access(&other, room_id.as_str())
            .await?
            .is_none()
        {
            return Err(Failure::new(
                ErrorCode::Conflict,
                "the other party no longer has access to this workroom; nothing was released",
            ));
        }
        let entry = identity.actor().entry(
            AuditAction::ContactReleased,
            &format!("room:{room_id}"),
            Purpose::Participation,
            json!({ "between": [identity.user(), other] }),
        );
        let newly = self
            .store
            .release_contacts(room_id.as_str(), identity.user(), &other, entry)
            .await?;
        if newly {
            let between = [identity.user().to_string(), other.clone()];
            let frame = ServerFrame::ContactReleased {
                room: room_id.clone(),
                between: between.clone(),
            };
            self.hub.notify_users(
                &between,
                &room_id,
                Utf8Bytes::from(frame.to_json()),
                Purpose::Participation,
            );
        }
        Ok(Released {
            room: room_id.to_string(),
            with: other,
            newly,
        })
    }

    /// The details released to the caller in a room.
    pub async fn released_contacts(
        &self,
        identity: &Identity,
        room: &str,
    ) -> Result<ReleasedContacts, Failure> {
        let contacts = self.contacts_in(identity, room).await?;
        let read = self.proofs.released_contacts(
            identity,
            contacts.access.as_ref(),
            contacts.party,
            contacts.retained,
        )?;
        let room_id = contacts.room_id()?;
        let rows = self.store.contacts_released_to(&read).await?;
        Ok(ReleasedContacts {
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
        })
    }
}
