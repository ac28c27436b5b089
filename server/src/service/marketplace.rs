//! Provisioning from the marketplace backend (service tokens): bid accepted, contract
//! ended, team account membership. These are the only paths that create rooms or change
//! who sees them (C1, C2); each commits with its audit entry, and the people whose rooms
//! changed are told live.

use super::validate::{check_email, check_id, check_text};
use super::{Failure, Service};
use crate::auth::Identity;
use crate::events::rfc3339;
use crate::policy::{self, Act, Caller, Resource};
use workroom_protocol::http::{AccountMemberPut, BidAccepted, ContractEnded, Party, RoomCreated};
use workroom_protocol::{Purpose, RoomId};
use workroom_storage::{AccountRole, PartyInput};

fn party(side: &str, p: &Party) -> Result<PartyInput, Failure> {
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

/// Marketplace calls serve participation: they open and close the workrooms.
fn provision_allowed(identity: &Identity) -> Result<(), Failure> {
    policy::decide(
        Caller::Token(identity),
        Act::Provision,
        Purpose::Participation,
        Resource::Nothing,
    )?;
    Ok(())
}

impl Service {
    /// A client accepted a bid: the workroom (and the project's shared room) exist from now
    /// on. `true` when this call created the room (a repeat returns the same room).
    pub async fn accept_bid(
        &self,
        identity: &Identity,
        bid_id: &str,
        body: &BidAccepted,
    ) -> Result<(RoomCreated, bool), Failure> {
        provision_allowed(identity)?;
        check_id("bid_id", bid_id)?;
        check_id("project", &body.project)?;
        let client = party("client", &body.client)?;
        let contractor = party("contractor", &body.contractor)?;
        if client.user == contractor.user {
            return Err(Failure::invalid(
                "client and contractor must be different users",
            ));
        }
        let outcome = self
            .store
            .accept_bid(
                bid_id,
                &body.project,
                &client,
                &contractor,
                &identity.actor(),
            )
            .await?;
        for room in &outcome.changed_rooms {
            let users = self.store.users_of_room(room).await?;
            self.hub.rooms_changed(&users);
        }
        if outcome.created {
            tracing::info!(bid = %bid_id, room = %outcome.room_id, "workroom opened");
        }
        let created = RoomCreated {
            room: outcome.room_id,
            shared_room: outcome.shared_room_id,
        };
        Ok((created, outcome.created))
    }

    /// The contract ended: its rooms become read-only. Idempotent.
    pub async fn end_contract(
        &self,
        identity: &Identity,
        bid_id: &str,
    ) -> Result<ContractEnded, Failure> {
        provision_allowed(identity)?;
        check_id("bid_id", bid_id)?;
        let outcome = self.store.end_contract(bid_id, &identity.actor()).await?;
        for room in &outcome.newly_closed {
            if let Ok(room_id) = RoomId::try_from(room.as_str()) {
                self.hub.room_closed(&room_id);
            }
            tracing::info!(bid = %bid_id, room = %room, "workroom closed");
        }
        Ok(ContractEnded {
            room: outcome.room_id,
            closed_at: rfc3339(outcome.closed_at),
            shared_room_closed: outcome.shared_room_closed,
        })
    }

    /// Add a user to a party account, or change their role there.
    pub async fn put_account_member(
        &self,
        identity: &Identity,
        account: &str,
        user: &str,
        body: &AccountMemberPut,
    ) -> Result<(), Failure> {
        provision_allowed(identity)?;
        check_id("account", account)?;
        check_id("user", user)?;
        let role = AccountRole::parse(&body.role)
            .ok_or_else(|| Failure::invalid("role: must be `owner`, `member` or `viewer`"))?;
        if let Some(name) = &body.name {
            check_text("name", name, 200)?;
        }
        if let Some(email) = &body.email {
            check_email("email", email)?;
        }
        self.store
            .put_account_member(
                account,
                user,
                role,
                body.name.as_deref(),
                body.email.as_deref(),
                &identity.actor(),
            )
            .await?;
        self.hub.rooms_changed(&[user.to_string()]);
        Ok(())
    }

    /// Remove a user from a party account (`404` when they are not in it).
    pub async fn remove_account_member(
        &self,
        identity: &Identity,
        account: &str,
        user: &str,
    ) -> Result<(), Failure> {
        provision_allowed(identity)?;
        check_id("account", account)?;
        check_id("user", user)?;
        self.store
            .remove_account_member(account, user, &identity.actor())
            .await?;
        self.hub.rooms_changed(&[user.to_string()]);
        Ok(())
    }
}
