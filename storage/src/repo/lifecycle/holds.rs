//! Legal holds: placed and lifted by legal officers, naming a request id. A hold covers a
//! workroom, a user or a team account; while one covers data, its purge or erasure waits
//! (see [`super::pending`]).
//!
//! What a hold covers:
//! - a `room` hold: that workroom;
//! - an `account` hold: every workroom the account is a party of, and the person data of
//!   everyone who belonged to it (when terminated: who belonged to it then);
//! - a `user` hold: that person's data, and every workroom they are a contract party of or
//!   reach through one of its accounts.

use crate::Store;
use crate::audit::{Actor, AuditAction};
use crate::entity::{account_members, accounts, legal_holds, room_parties, rooms, users};
use crate::error::StorageError;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use workroom_protocol::Purpose;

/// What a legal hold or a disclosure export covers: a workroom, a user or a team account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegalScope {
    Room,
    User,
    Account,
}

impl LegalScope {
    pub fn as_str(self) -> &'static str {
        match self {
            LegalScope::Room => "room",
            LegalScope::User => "user",
            LegalScope::Account => "account",
        }
    }

    /// Whether the room, user or account `target` exists (a purged room's tombstone does).
    pub(crate) async fn target_exists<C: ConnectionTrait>(
        self,
        conn: &C,
        target: &str,
    ) -> Result<bool, StorageError> {
        let id = target.to_string();
        Ok(match self {
            LegalScope::Room => rooms::Entity::find_by_id(id).one(conn).await?.is_some(),
            LegalScope::User => users::Entity::find_by_id(id).one(conn).await?.is_some(),
            LegalScope::Account => accounts::Entity::find_by_id(id).one(conn).await?.is_some(),
        })
    }

    pub fn parse(value: &str) -> Option<LegalScope> {
        match value {
            "room" => Some(LegalScope::Room),
            "user" => Some(LegalScope::User),
            "account" => Some(LegalScope::Account),
            _ => None,
        }
    }
}

/// A hold as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRow {
    pub id: String,
    pub request_id: String,
    pub scope: LegalScope,
    pub target: String,
    pub placed_by: String,
    pub placed_at: i64,
    pub lifted_by: Option<String>,
    pub lifted_at: Option<i64>,
}

impl HoldRow {
    pub fn active(&self) -> bool {
        self.lifted_at.is_none()
    }
}

fn to_row(model: legal_holds::Model) -> Option<HoldRow> {
    Some(HoldRow {
        scope: LegalScope::parse(&model.scope)?,
        id: model.id,
        request_id: model.request_id,
        target: model.target,
        placed_by: model.placed_by,
        placed_at: model.placed_at,
        lifted_by: model.lifted_by,
        lifted_at: model.lifted_at,
    })
}

/// The holds in place, to test coverage against.
#[derive(Debug, Clone, Default)]
pub(crate) struct ActiveHolds {
    holds: Vec<HoldRow>,
}

impl ActiveHolds {
    pub(crate) fn is_empty(&self) -> bool {
        self.holds.is_empty()
    }

    fn covers(&self, scope: LegalScope, target: &str) -> bool {
        self.holds
            .iter()
            .any(|h| h.scope == scope && h.target == target)
    }

    /// Whether a hold covers a room, given its parties (account, user) and the members of
    /// its party accounts.
    pub(crate) fn cover_room(
        &self,
        room: &str,
        parties: &[(String, String)],
        members: &[String],
    ) -> bool {
        self.covers(LegalScope::Room, room)
            || parties.iter().any(|(account, user)| {
                self.covers(LegalScope::Account, account) || self.covers(LegalScope::User, user)
            })
            || members
                .iter()
                .any(|user| self.covers(LegalScope::User, user))
    }

    /// Whether a hold covers a person, given the accounts they belong (or belonged) to.
    pub(crate) fn cover_person(&self, user: &str, accounts: &[String]) -> bool {
        self.covers(LegalScope::User, user)
            || accounts
                .iter()
                .any(|account| self.covers(LegalScope::Account, account))
    }
}

impl Store {
    /// Place a hold on an existing room, user or account (`NotFound` otherwise; a room
    /// whose purge already began is a `Conflict`: its key is gone).
    pub async fn place_hold(
        &self,
        request_id: &str,
        scope: LegalScope,
        target: &str,
        actor: &Actor,
    ) -> Result<HoldRow, StorageError> {
        let txn = self.begin_write().await?;
        if scope == LegalScope::Room
            && rooms::Entity::find_by_id(target.to_string())
                .one(&txn)
                .await?
                .is_some_and(|r| r.purge_started_at.is_some())
        {
            return Err(StorageError::Conflict(
                "this workroom's purge has begun; there is nothing left to hold".into(),
            ));
        }
        if !scope.target_exists(&txn, target).await? {
            return Err(StorageError::NotFound);
        }
        let now = self.clock.now_ms();
        let model = legal_holds::ActiveModel {
            id: Set(format!("hold_{}", uuid::Uuid::now_v7().simple())),
            request_id: Set(request_id.to_string()),
            scope: Set(scope.as_str().to_string()),
            target: Set(target.to_string()),
            placed_by: Set(actor.id.clone()),
            placed_at: Set(now),
            lifted_by: Set(None),
            lifted_at: Set(None),
        }
        .insert(&txn)
        .await?;
        let entry = actor
            .entry(
                AuditAction::HoldPlaced,
                &format!("{}:{target}", scope.as_str()),
                Purpose::LegalDisclosure,
                serde_json::json!({"hold": model.id}),
            )
            .with_request(request_id);
        self.append_audit_in(&txn, &[entry]).await?;
        txn.commit().await?;
        to_row(model).ok_or_else(|| StorageError::Invalid("stored hold scope".into()))
    }

    /// Lift a hold (`NotFound` for an unknown one, `Conflict` when already lifted).
    pub async fn lift_hold(&self, id: &str, actor: &Actor) -> Result<HoldRow, StorageError> {
        let txn = self.begin_write().await?;
        let model = legal_holds::Entity::find_by_id(id.to_string())
            .one(&txn)
            .await?
            .ok_or(StorageError::NotFound)?;
        if model.lifted_at.is_some() {
            return Err(StorageError::Conflict("the hold was already lifted".into()));
        }
        let now = self.clock.now_ms();
        let mut active: legal_holds::ActiveModel = model.into();
        active.lifted_at = Set(Some(now));
        active.lifted_by = Set(Some(actor.id.clone()));
        let model = active.update(&txn).await?;
        let entry = actor
            .entry(
                AuditAction::HoldLifted,
                &format!("{}:{}", model.scope, model.target),
                Purpose::LegalDisclosure,
                serde_json::json!({"hold": model.id}),
            )
            .with_request(&model.request_id);
        self.append_audit_in(&txn, &[entry]).await?;
        txn.commit().await?;
        to_row(model).ok_or_else(|| StorageError::Invalid("stored hold scope".into()))
    }

    /// Holds, newest first; only those in place when `active_only`.
    pub async fn holds(&self, active_only: bool) -> Result<Vec<HoldRow>, StorageError> {
        let mut query = legal_holds::Entity::find();
        if active_only {
            query = query.filter(legal_holds::Column::LiftedAt.is_null());
        }
        let mut rows: Vec<HoldRow> = query
            .all(&self.db)
            .await?
            .into_iter()
            .filter_map(to_row)
            .collect();
        rows.sort_by(|a, b| b.placed_at.cmp(&a.placed_at).then(b.id.cmp(&a.id)));
        Ok(rows)
    }

    pub(crate) async fn active_holds<C: ConnectionTrait>(
        &self,
        conn: &C,
    ) -> Result<ActiveHolds, StorageError> {
        let holds = legal_holds::Entity::find()
            .filter(legal_holds::Column::LiftedAt.is_null())
            .all(conn)
            .await?
            .into_iter()
            .filter_map(to_row)
            .collect();
        Ok(ActiveHolds { holds })
    }

    /// Whether a hold covers the room now.
    pub(crate) async fn room_held<C: ConnectionTrait>(
        &self,
        conn: &C,
        holds: &ActiveHolds,
        room: &str,
    ) -> Result<bool, StorageError> {
        if holds.is_empty() {
            return Ok(false);
        }
        let parties: Vec<(String, String)> = room_parties::Entity::find()
            .filter(room_parties::Column::RoomId.eq(room))
            .all(conn)
            .await?
            .into_iter()
            .map(|p| (p.account_id, p.user_id))
            .collect();
        let accounts: Vec<String> = parties.iter().map(|(a, _)| a.clone()).collect();
        let members: Vec<String> = account_members::Entity::find()
            .filter(account_members::Column::AccountId.is_in(accounts))
            .all(conn)
            .await?
            .into_iter()
            .map(|m| m.user_id)
            .collect();
        Ok(holds.cover_room(room, &parties, &members))
    }

    /// Whether a hold covers the room now (for callers outside this module).
    pub async fn is_room_held(&self, room: &str) -> Result<bool, StorageError> {
        let holds = self.active_holds(&self.db).await?;
        self.room_held(&self.db, &holds, room).await
    }

    /// Whether a hold covers the person now.
    pub async fn is_person_held(&self, user: &str) -> Result<bool, StorageError> {
        let holds = self.active_holds(&self.db).await?;
        if holds.is_empty() {
            return Ok(false);
        }
        let accounts = self.accounts_of(&self.db, user).await?;
        Ok(holds.cover_person(user, &accounts))
    }

    pub(crate) async fn accounts_of<C: ConnectionTrait>(
        &self,
        conn: &C,
        user: &str,
    ) -> Result<Vec<String>, StorageError> {
        Ok(account_members::Entity::find()
            .filter(account_members::Column::UserId.eq(user))
            .all(conn)
            .await?
            .into_iter()
            .map(|m| m.account_id)
            .collect())
    }
}
