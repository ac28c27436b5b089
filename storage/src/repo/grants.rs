//! Moderator access grants (C6). Every change of a grant commits in one transaction with its
//! audit entry, so the trail can never miss an opening, approval, revocation or expiry.
//!
//! A grant's state is derived from its times (see [`GrantRow::state`]), so a grant stops
//! working the moment it expires, whether or not `grant.expired` has been recorded yet.

use crate::Store;
use crate::audit::NewAuditEntry;
use crate::entity::grants;
use crate::error::StorageError;
use crate::keyring::{KeyScope, Unreadable, open_text};
use crate::repo::analytics::{Metric, Share};
use crate::repo::sealing::grant_reason_item;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use workroom_protocol::Purpose;
use workroom_protocol::moderation::{GrantScope, GrantState};

/// A grant to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGrant {
    pub id: String,
    pub room_id: String,
    pub moderator_id: String,
    pub case_id: String,
    pub reason: String,
    pub scope: Vec<GrantScope>,
    pub duration_ms: i64,
    /// Four-eyes: inactive until a second moderator approves.
    pub needs_approval: bool,
}

/// A stored grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRow {
    pub id: String,
    pub room_id: String,
    pub moderator_id: String,
    pub case_id: String,
    /// `Err` when the room's key was destroyed (or the ciphertext is damaged).
    pub reason: Result<String, Unreadable>,
    pub scope: Vec<GrantScope>,
    pub duration_ms: i64,
    pub needs_approval: bool,
    pub opened_at: i64,
    pub expires_at: i64,
    pub approved_by: Option<String>,
    pub approved_at: Option<i64>,
    pub revoked_by: Option<String>,
    pub revoked_at: Option<i64>,
}

impl GrantRow {
    /// The state at `now` (Unix ms).
    pub fn state(&self, now: i64) -> GrantState {
        if self.revoked_at.is_some() {
            GrantState::Revoked
        } else if now >= self.expires_at {
            GrantState::Expired
        } else if self.needs_approval && self.approved_at.is_none() {
            GrantState::Pending
        } else {
            GrantState::Active
        }
    }

    /// When the grant stopped working, once it has.
    pub fn ended_at(&self, now: i64) -> Option<i64> {
        match self.state(now) {
            GrantState::Revoked => self.revoked_at,
            GrantState::Expired => Some(self.expires_at),
            _ => None,
        }
    }

    pub fn allows(&self, scope: GrantScope) -> bool {
        self.scope.contains(&scope)
    }
}

/// Why a grant change was refused (checked again inside the transaction, so two moderators
/// racing cannot both succeed).
#[derive(Debug, thiserror::Error)]
pub enum GrantChangeError {
    #[error("no such grant")]
    NotFound,
    #[error("the grant is {}", .0.as_str())]
    WrongState(GrantState),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<sea_orm::DbErr> for GrantChangeError {
    fn from(e: sea_orm::DbErr) -> Self {
        GrantChangeError::Storage(e.into())
    }
}

fn scope_to_column(scope: &[GrantScope]) -> String {
    let mut names: Vec<&str> = scope.iter().map(|s| s.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names.join(",")
}

fn scope_from_column(column: &str) -> Vec<GrantScope> {
    column.split(',').filter_map(GrantScope::parse).collect()
}

impl Store {
    /// Open a grant and record `grant.opened` (built by `entry` from the stored row).
    pub async fn open_grant(
        &self,
        new: &NewGrant,
        now: i64,
        entry: NewAuditEntry,
    ) -> Result<GrantRow, StorageError> {
        let txn = self.begin_write().await?;
        let key = self.sealing_key(&txn, KeyScope::Room(&new.room_id)).await?;
        let model = grants::Model {
            id: new.id.clone(),
            room_id: new.room_id.clone(),
            moderator_id: new.moderator_id.clone(),
            case_id: new.case_id.clone(),
            reason_sealed: key.seal(&grant_reason_item(&new.id), new.reason.as_bytes()),
            scope: scope_to_column(&new.scope),
            duration_ms: new.duration_ms,
            needs_approval: new.needs_approval,
            opened_at: now,
            expires_at: now.saturating_add(new.duration_ms),
            approved_by: None,
            approved_at: None,
            revoked_by: None,
            revoked_at: None,
            expiry_recorded: false,
            purpose: Purpose::Moderation.as_str().to_string(),
        };
        grants::Entity::insert(grants::ActiveModel::from(model.clone()))
            .exec_without_returning(&txn)
            .await?;
        self.count_analytics(
            &txn,
            Metric::ModeratorGrantsOpened,
            &[Share::one(&new.room_id)],
        )
        .await?;
        self.append_audit_in(&txn, &[entry]).await?;
        txn.commit().await?;
        Ok(self.grant_row(model).await)
    }

    /// One grant.
    pub async fn grant(&self, id: &str) -> Result<Option<GrantRow>, StorageError> {
        match grants::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?
        {
            Some(m) => Ok(Some(self.grant_row(m).await)),
            None => Ok(None),
        }
    }

    /// Grants, newest first, optionally of one room.
    pub async fn grants(&self, room_id: Option<&str>) -> Result<Vec<GrantRow>, StorageError> {
        let mut query = grants::Entity::find().order_by_desc(grants::Column::OpenedAt);
        if let Some(room) = room_id {
            query = query.filter(grants::Column::RoomId.eq(room));
        }
        let rows = query.all(&self.db).await?;
        let mut out = Vec::with_capacity(rows.len());
        for m in rows {
            out.push(self.grant_row(m).await);
        }
        Ok(out)
    }

    /// Approve a pending grant (four-eyes): it becomes active for its duration from now.
    pub async fn approve_grant(
        &self,
        id: &str,
        approver: &str,
        now: i64,
        entry: NewAuditEntry,
    ) -> Result<GrantRow, GrantChangeError> {
        let allowed = |state| state == GrantState::Pending;
        self.change_grant(id, now, entry, allowed, |grant| {
            let expires_at = now.saturating_add(grant.duration_ms);
            let mut active = grants::ActiveModel::from(grant);
            active.approved_by = Set(Some(approver.to_string()));
            active.approved_at = Set(Some(now));
            active.expires_at = Set(expires_at);
            active
        })
        .await
    }

    /// Revoke a grant that has not ended.
    pub async fn revoke_grant(
        &self,
        id: &str,
        by: &str,
        now: i64,
        entry: NewAuditEntry,
    ) -> Result<GrantRow, GrantChangeError> {
        let allowed = |state: GrantState| !state.is_ended();
        self.change_grant(id, now, entry, allowed, |grant| {
            let mut active = grants::ActiveModel::from(grant);
            active.revoked_by = Set(Some(by.to_string()));
            active.revoked_at = Set(Some(now));
            active
        })
        .await
    }

    /// Change a grant whose state (re-read inside the transaction, so racing moderators
    /// cannot both succeed) passes `allowed`, and record `entry` with the change.
    async fn change_grant(
        &self,
        id: &str,
        now: i64,
        entry: NewAuditEntry,
        allowed: impl FnOnce(GrantState) -> bool,
        change: impl FnOnce(grants::Model) -> grants::ActiveModel,
    ) -> Result<GrantRow, GrantChangeError> {
        let txn = self.begin_write().await?;
        let mut query = grants::Entity::find_by_id(id.to_string());
        if self.backend() == crate::Backend::Postgres {
            // Racing approvals, revocations and the expiry recorder queue on the row (on
            // SQLite the writer lock already serialises them).
            query = query.lock_exclusive();
        }
        let model = query.one(&txn).await?.ok_or(GrantChangeError::NotFound)?;
        // The state as of now, after any racing change committed.
        let now = now.max(self.clock.now_ms());
        let state = self.grant_row(model.clone()).await.state(now);
        if !allowed(state) {
            return Err(GrantChangeError::WrongState(state));
        }
        let updated = change(model).update(&txn).await?;
        self.append_audit_in(&txn, &[entry]).await?;
        txn.commit().await?;
        Ok(self.grant_row(updated).await)
    }

    /// Record `grant.expired` for every grant that ran out and has not been recorded yet,
    /// each exactly once even with several processes doing this. Returns those grants.
    pub async fn record_expired_grants(
        &self,
        now: i64,
        entry_for: impl Fn(&GrantRow) -> NewAuditEntry,
    ) -> Result<Vec<GrantRow>, StorageError> {
        let due = grants::Entity::find()
            .filter(grants::Column::ExpiresAt.lte(now))
            .filter(grants::Column::RevokedAt.is_null())
            .filter(grants::Column::ExpiryRecorded.eq(false))
            .all(&self.db)
            .await?;
        let mut recorded = Vec::new();
        for model in due {
            let txn = self.begin_write().await?;
            let claimed = grants::Entity::update_many()
                .col_expr(grants::Column::ExpiryRecorded, Expr::value(true))
                .filter(grants::Column::Id.eq(model.id.as_str()))
                .filter(grants::Column::ExpiryRecorded.eq(false))
                .filter(grants::Column::RevokedAt.is_null())
                .filter(grants::Column::ExpiresAt.lte(now))
                .exec(&txn)
                .await?;
            if claimed.rows_affected == 0 {
                continue;
            }
            let row = self.grant_row(model).await;
            self.append_audit_in(&txn, &[entry_for(&row)]).await?;
            txn.commit().await?;
            recorded.push(row);
        }
        Ok(recorded)
    }

    async fn grant_row(&self, m: grants::Model) -> GrantRow {
        let key = self
            .opening_key(&self.db, KeyScope::Room(&m.room_id))
            .await
            .ok()
            .flatten();
        let reason = open_text(
            key.as_deref(),
            &grant_reason_item(&m.id),
            Some(&m.reason_sealed),
        )
        .map(Option::unwrap_or_default);
        GrantRow {
            id: m.id,
            room_id: m.room_id,
            moderator_id: m.moderator_id,
            case_id: m.case_id,
            reason,
            scope: scope_from_column(&m.scope),
            duration_ms: m.duration_ms,
            needs_approval: m.needs_approval,
            opened_at: m.opened_at,
            expires_at: m.expires_at,
            approved_by: m.approved_by,
            approved_at: m.approved_at,
            revoked_by: m.revoked_by,
            revoked_at: m.revoked_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> GrantRow {
        GrantRow {
            id: "g".into(),
            room_id: "r".into(),
            moderator_id: "m".into(),
            case_id: "c".into(),
            reason: Ok("r".into()),
            scope: vec![GrantScope::History],
            duration_ms: 1000,
            needs_approval: false,
            opened_at: 0,
            expires_at: 1000,
            approved_by: None,
            approved_at: None,
            revoked_by: None,
            revoked_at: None,
        }
    }

    #[test]
    fn state_follows_the_clock_approval_and_revocation() {
        let mut g = row();
        assert_eq!(g.state(999), GrantState::Active);
        assert_eq!(g.state(1000), GrantState::Expired);
        g.needs_approval = true;
        assert_eq!(g.state(10), GrantState::Pending);
        g.approved_at = Some(10);
        assert_eq!(g.state(10), GrantState::Active);
        g.revoked_at = Some(20);
        assert_eq!(g.state(20), GrantState::Revoked);
        assert_eq!(g.ended_at(30), Some(20));
    }

    #[test]
    fn scope_column_round_trips_sorted_and_unique() {
        let column = scope_to_column(&[GrantScope::Live, GrantScope::History, GrantScope::Live]);
        assert_eq!(column, "history,live");
        assert_eq!(
            scope_from_column(&column),
            vec![GrantScope::History, GrantScope::Live]
        );
    }
}
