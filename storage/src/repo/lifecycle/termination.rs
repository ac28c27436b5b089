//! Termination (C10): the marketplace ends a user's membership (`closed` or `violation`) or
//! a whole team account.
//!
//! One transaction ends access at once: the user leaves every account (so no room is
//! reachable), their tokens are refused from then on ([`super::tokens`]), rooms left with
//! nobody on one side close, and a violation leaves its ban record. The erasure of their
//! personal data ([`super::erasure`]) follows at once, or when the last legal hold covering
//! them lifts (a `pending_erasures` row until then).

use super::bans::BanIdentity;
use crate::Store;
use crate::audit::{Actor, AuditAction, NewAuditEntry};
use crate::entity::{account_members, accounts, pending_erasures, room_parties, rooms, users};
use crate::error::StorageError;
use crate::keyring::{KeyScope, open_text};
use crate::repo::sealing::person_item;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, Set};
use std::collections::{BTreeMap, BTreeSet};
use workroom_protocol::Purpose;

/// Why a membership ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminationReason {
    /// The member closed their account.
    Closed,
    /// Removed for a violation: a ban record is kept.
    Violation,
}

impl TerminationReason {
    pub fn as_str(self) -> &'static str {
        match self {
            TerminationReason::Closed => "closed",
            TerminationReason::Violation => "violation",
        }
    }

    pub fn parse(value: &str) -> Option<TerminationReason> {
        match value {
            "closed" => Some(TerminationReason::Closed),
            "violation" => Some(TerminationReason::Violation),
            _ => None,
        }
    }
}

/// What a termination did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TerminationOutcome {
    /// `false` when the membership (or account) had been terminated before: nothing changed.
    pub terminated_now: bool,
    /// Rooms this call closed.
    pub closed_rooms: Vec<String>,
    /// Users whose set of rooms changed (to be told live).
    pub affected_users: Vec<String>,
    /// The person's erasure waits for a legal hold to lift.
    pub erasure_deferred: bool,
}

impl Store {
    /// Terminate a user's membership. `NotFound` for a user the server never saw. A repeat
    /// changes nothing (`terminated_now: false`). The erasure is the caller's next step
    /// ([`Store::erase_person`]) unless `erasure_deferred`.
    pub async fn terminate_user(
        &self,
        user: &str,
        reason: TerminationReason,
        actor: &Actor,
    ) -> Result<TerminationOutcome, StorageError> {
        let txn = self.begin_write().await?;
        let row = users::Entity::find_by_id(user.to_string())
            .one(&txn)
            .await?
            .ok_or(StorageError::NotFound)?;
        if row.terminated_at.is_some() {
            // A repeat: the erasure is deferred only while a hold covers the person (an
            // unfinished one is finished by the caller, as after the first call).
            let pending = pending_erasures::Entity::find_by_id(KeyScope::Person(user).key_id())
                .one(&txn)
                .await?;
            let held = match pending {
                Some(p) => self
                    .active_holds(&txn)
                    .await?
                    .cover_person(user, &p.account_list()),
                None => false,
            };
            txn.rollback().await?;
            return Ok(TerminationOutcome {
                erasure_deferred: held,
                ..TerminationOutcome::default()
            });
        }
        let now = self.clock.now_ms();
        let accounts = self.accounts_of(&txn, user).await?;
        let rooms = rooms_of_accounts(&txn, &accounts).await?;
        account_members::Entity::delete_many()
            .filter(account_members::Column::UserId.eq(user))
            .exec(&txn)
            .await?;
        let closed_rooms = close_one_sided_rooms(&txn, &rooms, now).await?;
        self.count_closed_rooms(&txn, &closed_rooms).await?;
        users::Entity::update_many()
            .col_expr(users::Column::TerminatedAt, Expr::value(now))
            .col_expr(
                users::Column::TerminatedReason,
                Expr::value(reason.as_str()),
            )
            .col_expr(users::Column::TokensValidAfter, Expr::value(now / 1000 + 1))
            .filter(users::Column::Id.eq(user))
            .exec(&txn)
            .await?;
        if reason == TerminationReason::Violation {
            let email = self.email_of(&txn, &row).await?;
            if let Some(email) = email {
                self.record_ban(&txn, BanIdentity::Email(&email), reason.as_str(), now)
                    .await?;
            }
            self.record_ban(&txn, BanIdentity::User(user), reason.as_str(), now)
                .await?;
        }
        let holds = self.active_holds(&txn).await?;
        let erasure_deferred = holds.cover_person(user, &accounts);
        let mut entries = vec![actor.entry(
            AuditAction::UserTerminated,
            &format!("user:{user}"),
            Purpose::Participation,
            serde_json::json!({
                "reason": reason.as_str(),
                "accounts_left": accounts.len(),
                "rooms_closed": closed_rooms.len(),
                "ban_recorded": reason == TerminationReason::Violation,
            }),
        )];
        entries.extend(closed_entries(actor, &closed_rooms, "user terminated"));
        // Always recorded, with the accounts they left: the erasure (now, or when the
        // last hold lifts) relabels them in those accounts' rooms too, and a crash before
        // it finished leaves the row for the lifecycle task to finish.
        defer_erasure(&txn, KeyScope::Person(user), "termination", &accounts, now).await?;
        if erasure_deferred {
            entries.push(deferred_entry(KeyScope::Person(user), "termination"));
        }
        self.append_audit_in(&txn, &entries).await?;
        let affected_users = users_of_rooms(&txn, &rooms).await?;
        txn.commit().await?;
        Ok(TerminationOutcome {
            terminated_now: true,
            closed_rooms,
            affected_users,
            erasure_deferred,
        })
    }

    /// Terminate a team account: its members lose its workrooms and every workroom it is a
    /// party of closes (read-only for the other side; retention then applies). `NotFound`
    /// for an unknown account; a repeat changes nothing.
    pub async fn terminate_account(
        &self,
        account: &str,
        actor: &Actor,
    ) -> Result<TerminationOutcome, StorageError> {
        let txn = self.begin_write().await?;
        let row = accounts::Entity::find_by_id(account.to_string())
            .one(&txn)
            .await?
            .ok_or(StorageError::NotFound)?;
        if row.terminated_at.is_some() {
            return Ok(TerminationOutcome::default());
        }
        let now = self.clock.now_ms();
        let accounts = vec![account.to_string()];
        let rooms = rooms_of_accounts(&txn, &accounts).await?;
        // Everyone who saw these rooms before (the other side too: their rooms closed).
        let affected_users = users_of_rooms(&txn, &rooms).await?;
        let members = account_members::Entity::delete_many()
            .filter(account_members::Column::AccountId.eq(account))
            .exec(&txn)
            .await?
            .rows_affected;
        let mut closed_rooms = Vec::new();
        for room in &rooms {
            if close_room_at(&txn, room, now).await? {
                closed_rooms.push(room.clone());
            }
        }
        self.count_closed_rooms(&txn, &closed_rooms).await?;
        accounts::Entity::update_many()
            .col_expr(accounts::Column::TerminatedAt, Expr::value(now))
            .filter(accounts::Column::Id.eq(account))
            .exec(&txn)
            .await?;
        let mut entries = vec![actor.entry(
            AuditAction::AccountTerminated,
            &format!("account:{account}"),
            Purpose::Participation,
            serde_json::json!({"members_removed": members, "rooms_closed": closed_rooms.len()}),
        )];
        entries.extend(closed_entries(actor, &closed_rooms, "account terminated"));
        self.append_audit_in(&txn, &entries).await?;
        txn.commit().await?;
        Ok(TerminationOutcome {
            terminated_now: true,
            closed_rooms,
            affected_users,
            erasure_deferred: false,
        })
    }

    /// Refuse to add a terminated user or account to anything (`Conflict`).
    pub(crate) async fn refuse_terminated<C: ConnectionTrait>(
        &self,
        conn: &C,
        user_ids: &[&str],
        account_ids: &[&str],
    ) -> Result<(), StorageError> {
        let terminated_user = users::Entity::find()
            .filter(users::Column::Id.is_in(user_ids.iter().map(|u| u.to_string())))
            .filter(users::Column::TerminatedAt.is_not_null())
            .one(conn)
            .await?;
        if let Some(user) = terminated_user {
            return Err(StorageError::Conflict(format!(
                "the membership of user {} was terminated",
                user.id
            )));
        }
        let terminated_account = accounts::Entity::find()
            .filter(accounts::Column::Id.is_in(account_ids.iter().map(|a| a.to_string())))
            .filter(accounts::Column::TerminatedAt.is_not_null())
            .one(conn)
            .await?;
        if let Some(account) = terminated_account {
            return Err(StorageError::Conflict(format!(
                "account {} was terminated",
                account.id
            )));
        }
        Ok(())
    }

    async fn email_of<C: ConnectionTrait>(
        &self,
        conn: &C,
        row: &users::Model,
    ) -> Result<Option<String>, StorageError> {
        let key = self.opening_key(conn, KeyScope::Person(&row.id)).await?;
        Ok(open_text(
            key.as_deref(),
            &person_item(&row.id, "email"),
            row.email_sealed.as_deref(),
        )
        .ok()
        .flatten())
    }
}

pub(super) fn closed_entries(actor: &Actor, rooms: &[String], why: &str) -> Vec<NewAuditEntry> {
    rooms
        .iter()
        .map(|room| {
            actor.entry(
                AuditAction::RoomClosed,
                &format!("room:{room}"),
                Purpose::Participation,
                serde_json::json!({"reason": why}),
            )
        })
        .collect()
}

/// The audit entry of an erasure a hold deferred.
pub(super) fn deferred_entry(key: KeyScope<'_>, why: &str) -> NewAuditEntry {
    Actor::new("system", "system").entry(
        AuditAction::ErasureDeferred,
        &key.key_id(),
        Purpose::Operations,
        serde_json::json!({"why": why, "reason": "legal hold"}),
    )
}

/// Remember an erasure to run once no hold covers it (a repeat keeps the first).
pub(super) async fn defer_erasure<C: ConnectionTrait>(
    conn: &C,
    key: KeyScope<'_>,
    why: &str,
    accounts: &[String],
    now: i64,
) -> Result<bool, StorageError> {
    let inserted = pending_erasures::Entity::insert(pending_erasures::ActiveModel {
        key_id: Set(key.key_id()),
        why: Set(why.to_string()),
        accounts: Set(accounts.join(",")),
        requested_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(pending_erasures::Column::KeyId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(inserted > 0)
}

pub(super) async fn rooms_of_accounts<C: ConnectionTrait>(
    conn: &C,
    accounts: &[String],
) -> Result<Vec<String>, StorageError> {
    let rooms: BTreeSet<String> = room_parties::Entity::find()
        .filter(room_parties::Column::AccountId.is_in(accounts.iter().cloned()))
        .all(conn)
        .await?
        .into_iter()
        .map(|p| p.room_id)
        .collect();
    Ok(rooms.into_iter().collect())
}

async fn users_of_rooms<C: ConnectionTrait>(
    conn: &C,
    rooms: &[String],
) -> Result<Vec<String>, StorageError> {
    let accounts: BTreeSet<String> = room_parties::Entity::find()
        .filter(room_parties::Column::RoomId.is_in(rooms.iter().cloned()))
        .all(conn)
        .await?
        .into_iter()
        .map(|p| p.account_id)
        .collect();
    let users: BTreeSet<String> = account_members::Entity::find()
        .filter(account_members::Column::AccountId.is_in(accounts))
        .all(conn)
        .await?
        .into_iter()
        .map(|m| m.user_id)
        .collect();
    Ok(users.into_iter().collect())
}

/// Close `room` if it is open; whether this call closed it.
async fn close_room_at(
    txn: &DatabaseTransaction,
    room: &str,
    now: i64,
) -> Result<bool, StorageError> {
    let closed = rooms::Entity::update_many()
        .col_expr(rooms::Column::ClosedAt, Expr::value(now))
        .filter(rooms::Column::Id.eq(room))
        .filter(rooms::Column::ClosedAt.is_null())
        .exec(txn)
        .await?;
    Ok(closed.rows_affected > 0)
}

/// Close every open room among `rooms` where one side has nobody left in its accounts.
async fn close_one_sided_rooms(
    txn: &DatabaseTransaction,
    rooms: &[String],
    now: i64,
) -> Result<Vec<String>, StorageError> {
    let mut closed = Vec::new();
    for room in rooms {
        let parties = room_parties::Entity::find()
            .filter(room_parties::Column::RoomId.eq(room.as_str()))
            .all(txn)
            .await?;
        let mut sides: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for party in &parties {
            sides
                .entry(party.side.clone())
                .or_default()
                .insert(party.account_id.clone());
        }
        let mut empty_side = false;
        for accounts in sides.values() {
            let anyone = account_members::Entity::find()
                .filter(account_members::Column::AccountId.is_in(accounts.iter().cloned()))
                .one(txn)
                .await?
                .is_some();
            empty_side |= !anyone;
        }
        if empty_side && close_room_at(txn, room, now).await? {
            closed.push(room.clone());
        }
    }
    Ok(closed)
}
