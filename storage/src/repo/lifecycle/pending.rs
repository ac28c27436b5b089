//! Erasures a legal hold deferred: listed for operators, and run by the lifecycle task once
//! no hold covers them any more (deferred, never skipped).

use super::termination::{defer_erasure, deferred_entry};
use crate::Store;
use crate::audit::{Actor, AuditAction};
use crate::entity::pending_erasures;
use crate::error::StorageError;
use crate::keyring::KeyScope;
use sea_orm::EntityTrait;
use workroom_protocol::Purpose;

/// A deferred erasure as listed to operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingErasure {
    /// `person:<user>` or `room:<room>`.
    pub key_id: String,
    /// `termination`, `keys_destroy` or `retention`.
    pub why: String,
    pub requested_at: i64,
}

/// What `workroom keys destroy` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyDestruction {
    /// Destroyed now (`true`: there was a live key).
    Destroyed(bool),
    /// A legal hold covers it: it runs when the last one lifts.
    Deferred,
}

impl Store {
    /// Every deferred erasure, oldest first.
    pub async fn pending_erasures(&self) -> Result<Vec<PendingErasure>, StorageError> {
        let mut rows: Vec<PendingErasure> = pending_erasures::Entity::find()
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| PendingErasure {
                key_id: row.key_id,
                why: row.why,
                requested_at: row.requested_at,
            })
            .collect();
        rows.sort_by(|a, b| {
            a.requested_at
                .cmp(&b.requested_at)
                .then(a.key_id.cmp(&b.key_id))
        });
        Ok(rows)
    }

    /// Destroy a data key now, or defer it while a hold covers the room or person.
    /// Audited either way (`keys.destroyed` or `erasure.deferred`).
    pub async fn destroy_or_defer(
        &self,
        scope: KeyScope<'_>,
        actor: &Actor,
    ) -> Result<KeyDestruction, StorageError> {
        // The check and the deferral in one write transaction: a hold placed meanwhile
        // is seen.
        let txn = self.begin_write().await?;
        let holds = self.active_holds(&txn).await?;
        let (held, accounts) = match scope {
            KeyScope::Room(room) => (self.room_held(&txn, &holds, room).await?, Vec::new()),
            KeyScope::Person(user) => {
                let accounts = self.accounts_of(&txn, user).await?;
                (holds.cover_person(user, &accounts), accounts)
            }
            // A bundle made for a legal request is that request's copy, not held data.
            KeyScope::Export(_) => (false, Vec::new()),
        };
        if held {
            let now = self.clock.now_ms();
            if defer_erasure(&txn, scope, "keys_destroy", &accounts, now).await? {
                self.append_audit_in(&txn, &[deferred_entry(scope, "keys_destroy")])
                    .await?;
            }
            txn.commit().await?;
            return Ok(KeyDestruction::Deferred);
        }
        txn.commit().await?;
        let destroyed = self.destroy_data_key(scope).await?;
        self.append_audit(&[actor.entry(
            AuditAction::KeysDestroyed,
            &scope.key_id(),
            Purpose::Operations,
            serde_json::json!({"had_live_key": destroyed}),
        )])
        .await?;
        Ok(KeyDestruction::Destroyed(destroyed))
    }

    /// Run every deferred person erasure and key destruction no hold covers any more (room
    /// purges are resumed by the purge itself). Returns the users erased.
    pub async fn run_released_erasures(&self) -> Result<Vec<String>, StorageError> {
        let rows = pending_erasures::Entity::find().all(&self.db).await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let holds = self.active_holds(&self.db).await?;
        let system = Actor::new("system", "system");
        let mut erased = Vec::new();
        for row in rows {
            let accounts = row.account_list();
            if let Some(user) = row.key_id.strip_prefix("person:") {
                let mut all = accounts.clone();
                all.extend(self.accounts_of(&self.db, user).await?);
                if holds.cover_person(user, &all) {
                    continue;
                }
                if row.why == "termination" {
                    self.erase_person(user, &system).await?;
                    erased.push(user.to_string());
                } else {
                    self.destroy_data_key(KeyScope::Person(user)).await?;
                    self.finish_deferred_destroy(&row.key_id, &system).await?;
                }
            } else if let Some(room) = row.key_id.strip_prefix("room:") {
                if row.why != "keys_destroy" || self.room_held(&self.db, &holds, room).await? {
                    continue;
                }
                self.destroy_data_key(KeyScope::Room(room)).await?;
                self.finish_deferred_destroy(&row.key_id, &system).await?;
            }
        }
        Ok(erased)
    }

    async fn finish_deferred_destroy(
        &self,
        key_id: &str,
        actor: &Actor,
    ) -> Result<(), StorageError> {
        let txn = self.begin_write().await?;
        pending_erasures::Entity::delete_by_id(key_id.to_string())
            .exec(&txn)
            .await?;
        let entry = actor.entry(
            AuditAction::KeysDestroyed,
            key_id,
            Purpose::Operations,
            serde_json::json!({"deferred": true}),
        );
        self.append_audit_in(&txn, &[entry]).await?;
        txn.commit().await?;
        Ok(())
    }
}
