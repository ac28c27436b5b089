//! The Tracker's groundwork (C9): the contractor's Work View switch and bot token
//! revocation. A revocation is keyed by (jti, contractor), so a contractor can only revoke
//! tokens that act for them.

use crate::Store;
use crate::audit::NewAuditEntry;
use crate::entity::{revoked_bots, work_view};
use crate::error::StorageError;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
use workroom_protocol::Purpose;

impl Store {
    /// Turn a contractor's Work View on or off, recording `entry` with the change.
    pub async fn set_work_view(
        &self,
        user_id: &str,
        enabled: bool,
        entry: NewAuditEntry,
    ) -> Result<(), StorageError> {
        let txn = self.begin_write().await?;
        work_view::Entity::insert(work_view::ActiveModel {
            user_id: Set(user_id.to_string()),
            enabled: Set(enabled),
            updated_at: Set(self.clock.now_ms()),
            purpose: Set(Purpose::PaymentGuarantee.as_str().to_string()),
        })
        .on_conflict(
            OnConflict::column(work_view::Column::UserId)
                .update_columns([work_view::Column::Enabled, work_view::Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        self.append_audit_in(&txn, &[entry]).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Whether the contractor's Work View is on (off until turned on).
    pub async fn work_view(&self, user_id: &str) -> Result<bool, StorageError> {
        Ok(work_view::Entity::find_by_id(user_id.to_string())
            .one(&self.db)
            .await?
            .is_some_and(|w| w.enabled))
    }

    /// Revoke the bot token `jti` acting for `acts_for`, recording `entry`. Idempotent;
    /// returns whether it was newly revoked.
    pub async fn revoke_bot(
        &self,
        jti: &str,
        acts_for: &str,
        entry: NewAuditEntry,
    ) -> Result<bool, StorageError> {
        let txn = self.begin_write().await?;
        let inserted = revoked_bots::Entity::insert(revoked_bots::ActiveModel {
            jti: Set(jti.to_string()),
            acts_for: Set(acts_for.to_string()),
            revoked_at: Set(self.clock.now_ms()),
        })
        .on_conflict(
            OnConflict::columns([revoked_bots::Column::Jti, revoked_bots::Column::ActsFor])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        let newly = inserted > 0;
        if newly {
            self.append_audit_in(&txn, &[entry]).await?;
        }
        txn.commit().await?;
        Ok(newly)
    }

    /// Whether the bot token `jti` acting for `acts_for` was revoked.
    pub async fn bot_revoked(&self, jti: &str, acts_for: &str) -> Result<bool, StorageError> {
        Ok(revoked_bots::Entity::find()
            .filter(revoked_bots::Column::Jti.eq(jti))
            .filter(revoked_bots::Column::ActsFor.eq(acts_for))
            .one(&self.db)
            .await?
            .is_some())
    }
}
