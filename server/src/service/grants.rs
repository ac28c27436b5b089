//! Moderator grants (C6): opening one (pending when four-eyes is on), approving, revoking,
//! listing. Only moderators learn whether a grant exists; every change commits with its
//! audit entry. What a grant opens is in [`super::moderation`].

use super::validate::{check_id, check_sentence};
use super::{Failure, Service};
use crate::auth::Identity;
use crate::events::rfc3339;
use crate::policy::{self, Act, Caller, Resource};
use serde_json::json;
use workroom_protocol::Purpose;
use workroom_protocol::moderation::{GrantList, GrantScope, GrantState, GrantView, OpenGrant};
use workroom_storage::audit::AuditAction;
use workroom_storage::{GrantRow, NewGrant, Unreadable};

fn grant_view(grant: GrantRow, now: i64) -> GrantView {
    GrantView {
        state: grant.state(now),
        id: grant.id,
        room: grant.room_id,
        case_id: grant.case_id,
        reason: grant.reason.unwrap_or_else(|why| match why {
            Unreadable::Erased => "[erased]".to_string(),
            Unreadable::Damaged => "[damaged]".to_string(),
        }),
        scope: grant.scope,
        moderator: grant.moderator_id,
        opened_at: rfc3339(grant.opened_at),
        duration_secs: u64::try_from(grant.duration_ms / 1000).unwrap_or(0),
        expires_at: rfc3339(grant.expires_at),
        approved_by: grant.approved_by,
        approved_at: grant.approved_at.map(rfc3339),
        revoked_by: grant.revoked_by,
        revoked_at: grant.revoked_at.map(rfc3339),
    }
}

impl Service {
    /// Refuse anyone but a moderator before anything about grants is looked up.
    fn moderators_only(&self, identity: &Identity) -> Result<(), Failure> {
        policy::decide(
            Caller::Token(identity),
            Act::ListGrants,
            Purpose::Moderation,
            Resource::Nothing,
        )?;
        Ok(())
    }

    /// The grant a moderator acts under (anyone else is refused before it is looked up);
    /// the act itself is decided by the caller of this.
    pub(super) async fn grant_for(
        &self,
        identity: &Identity,
        id: &str,
    ) -> Result<GrantRow, Failure> {
        self.moderators_only(identity)?;
        self.store
            .grant(id)
            .await?
            .ok_or_else(|| Failure::not_found("no such grant"))
    }

    /// Open a grant; pending until a second moderator approves it when four-eyes is on.
    pub async fn open_grant(
        &self,
        identity: &Identity,
        body: OpenGrant,
    ) -> Result<GrantView, Failure> {
        policy::decide(
            Caller::Token(identity),
            Act::OpenGrant,
            Purpose::Moderation,
            Resource::Nothing,
        )?;
        let config = &self.config.moderation;
        check_id("room", &body.room)?;
        check_id("case_id", &body.case_id)?;
        check_sentence("reason", &body.reason)?;
        if body.scope.is_empty() {
            return Err(Failure::invalid(
                "scope: name at least one of history, files, live, connections, notice",
            ));
        }
        if body.scope.contains(&GrantScope::Notice) && !config.allow_notices {
            return Err(Failure::invalid(
                "scope: notices are turned off on this server (moderation.allow_notices)",
            ));
        }
        let duration = body.duration_secs.unwrap_or(config.default_grant_secs);
        if duration == 0 || duration > config.max_grant_secs {
            return Err(Failure::invalid(format!(
                "duration_secs: must be 1..={} (moderation.max_grant_secs)",
                config.max_grant_secs
            )));
        }
        if self.store.room_last_seq(&body.room).await?.is_none() {
            return Err(Failure::not_found("no such room"));
        }
        let new = NewGrant {
            id: format!("g_{}", uuid::Uuid::now_v7().simple()),
            room_id: body.room.clone(),
            moderator_id: identity.user().to_string(),
            case_id: body.case_id.clone(),
            reason: body.reason.trim().to_string(),
            scope: body.scope.clone(),
            duration_ms: i64::try_from(duration.saturating_mul(1000)).unwrap_or(i64::MAX),
            needs_approval: config.require_approval,
        };
        let entry = identity.case_entry(
            AuditAction::GrantOpened,
            &new.room_id,
            Purpose::Moderation,
            &new.case_id,
            json!({
                "grant": new.id,
                "scope": new.scope.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                "duration_secs": duration,
                "needs_approval": new.needs_approval,
            }),
        );
        let now = self.clock.now_ms();
        let grant = self.store.open_grant(&new, now, entry).await?;
        tracing::info!(grant = %grant.id, room = %grant.room_id, "moderator grant opened");
        Ok(grant_view(grant, now))
    }

    /// Grants, newest first, of one room or all, in one state or any.
    pub async fn list_grants(
        &self,
        identity: &Identity,
        room: Option<&str>,
        state: Option<GrantState>,
    ) -> Result<GrantList, Failure> {
        self.moderators_only(identity)?;
        let now = self.clock.now_ms();
        let grants = self.store.grants(room).await?;
        Ok(GrantList {
            grants: grants
                .into_iter()
                .filter(|g| state.is_none_or(|s| g.state(now) == s))
                .map(|g| grant_view(g, now))
                .collect(),
        })
    }

    pub async fn grant(&self, identity: &Identity, id: &str) -> Result<GrantView, Failure> {
        let grant = self.grant_for(identity, id).await?;
        Ok(grant_view(grant, self.clock.now_ms()))
    }

    /// A grant a moderator wants to change (`ApproveGrant`, `RevokeGrant`), once the policy
    /// allowed it; with the time of the decision.
    async fn grant_to_change(
        &self,
        identity: &Identity,
        id: &str,
        act: Act,
    ) -> Result<(GrantRow, i64), Failure> {
        let grant = self.grant_for(identity, id).await?;
        let now = self.clock.now_ms();
        policy::decide(
            Caller::Token(identity),
            act,
            Purpose::Moderation,
            Resource::Grant {
                grant: &grant,
                scope: None,
                now,
            },
        )?;
        Ok((grant, now))
    }

    /// A second moderator activates a pending grant; its duration runs from now.
    pub async fn approve_grant(&self, identity: &Identity, id: &str) -> Result<GrantView, Failure> {
        let (grant, now) = self
            .grant_to_change(identity, id, Act::ApproveGrant)
            .await?;
        let entry = identity.case_entry(
            AuditAction::GrantApproved,
            &grant.room_id,
            Purpose::Moderation,
            &grant.case_id,
            json!({ "grant": grant.id, "opened_by": grant.moderator_id }),
        );
        let grant = self
            .store
            .approve_grant(id, identity.user(), now, entry)
            .await?;
        Ok(grant_view(grant, now))
    }

    /// End a grant at once; live views under it are cut off (`reason: revoked`).
    pub async fn revoke_grant(&self, identity: &Identity, id: &str) -> Result<GrantView, Failure> {
        let (grant, now) = self.grant_to_change(identity, id, Act::RevokeGrant).await?;
        let entry = identity.case_entry(
            AuditAction::GrantRevoked,
            &grant.room_id,
            Purpose::Moderation,
            &grant.case_id,
            json!({ "grant": grant.id }),
        );
        let grant = self
            .store
            .revoke_grant(id, identity.user(), now, entry)
            .await?;
        self.hub.grant_ended(
            &grant.moderator_id,
            &grant.id,
            crate::signals::GrantEndReason::Revoked,
        );
        Ok(grant_view(grant, now))
    }

    /// Where a grant stands now (`None`: it is gone), for live views to re-check.
    pub async fn grant_state(&self, id: &str) -> Result<Option<GrantState>, Failure> {
        let now = self.clock.now_ms();
        Ok(self.store.grant(id).await?.map(|g| g.state(now)))
    }
}
