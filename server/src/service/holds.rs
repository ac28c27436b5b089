//! Legal holds (C10): a legal officer places a hold on a workroom, a user or an account for
//! a named request, lists and lifts holds; admins list holds and the erasures holds
//! deferred. Lifting wakes the lifecycle task, which runs what the hold was deferring.

use super::validate::{check_id, check_text};
use super::{Failure, Service};
use crate::auth::Identity;
use crate::events::rfc3339;
use crate::policy::Act;
use workroom_protocol::lifecycle::{ErasureList, ErasureView, HoldList, HoldRequest, HoldView};
use workroom_protocol::{Purpose, Role};
use workroom_storage::{HoldRow, LegalScope, StorageError};

fn view(row: HoldRow) -> HoldView {
    HoldView {
        id: row.id,
        request_id: row.request_id,
        scope: row.scope.as_str().to_string(),
        target: row.target,
        placed_by: row.placed_by,
        placed_at: rfc3339(row.placed_at),
        lifted_by: row.lifted_by,
        lifted_at: row.lifted_at.map(rfc3339),
    }
}

impl Service {
    /// Place a hold. `not_found` when the target does not exist.
    pub async fn place_hold(
        &self,
        identity: &Identity,
        body: &HoldRequest,
    ) -> Result<HoldView, Failure> {
        self.allow(identity, Act::ManageHolds, Purpose::LegalDisclosure)?;
        check_text("request_id", &body.request_id, 200)?;
        let scope = LegalScope::parse(&body.scope)
            .ok_or_else(|| Failure::invalid("scope: must be `room`, `user` or `account`"))?;
        check_id("target", &body.target)?;
        let row = self
            .store
            .place_hold(&body.request_id, scope, &body.target, &identity.actor())
            .await
            .map_err(|e| match e {
                StorageError::NotFound => Failure::not_found("no such room, user or account"),
                other => other.into(),
            })?;
        tracing::info!(hold = %row.id, scope = scope.as_str(), "legal hold placed");
        Ok(view(row))
    }

    /// Lift a hold. `not_found` for an unknown hold, `conflict` when already lifted.
    pub async fn lift_hold(&self, identity: &Identity, hold: &str) -> Result<HoldView, Failure> {
        self.allow(identity, Act::ManageHolds, Purpose::LegalDisclosure)?;
        check_id("hold", hold)?;
        let row = self
            .store
            .lift_hold(hold, &identity.actor())
            .await
            .map_err(|e| match e {
                StorageError::NotFound => Failure::not_found("no such hold"),
                other => other.into(),
            })?;
        tracing::info!(hold = %row.id, "legal hold lifted");
        // What the hold deferred may run now.
        self.lifecycle.notify_one();
        Ok(view(row))
    }

    /// Holds, newest first (all of them, or only those in place).
    pub async fn list_holds(
        &self,
        identity: &Identity,
        active_only: bool,
    ) -> Result<HoldList, Failure> {
        let purpose = match identity.role() {
            Role::Admin => Purpose::Operations,
            _ => Purpose::LegalDisclosure,
        };
        self.allow(identity, Act::ListHolds, purpose)?;
        let holds = self.store.holds(active_only).await?;
        Ok(HoldList {
            holds: holds.into_iter().map(view).collect(),
        })
    }

    /// Erasures a hold deferred, oldest first.
    pub async fn list_erasures(&self, identity: &Identity) -> Result<ErasureList, Failure> {
        self.allow(identity, Act::ListErasures, Purpose::Operations)?;
        let erasures = self.store.pending_erasures().await?;
        Ok(ErasureList {
            erasures: erasures
                .into_iter()
                .map(|e| ErasureView {
                    key: e.key_id,
                    why: e.why,
                    requested_at: rfc3339(e.requested_at),
                })
                .collect(),
        })
    }
}
