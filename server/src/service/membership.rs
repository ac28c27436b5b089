//! The end of access (C10, C14): logout, the marketplace revoking a user's tokens,
//! terminating a user or a team account, and asking whether an identity is banned.
//!
//! Each one is stored first (so every node refuses the token from the next request on, see
//! `identity`), then the sessions on this node are told at once through the hub (sessions
//! on other nodes close at their token's next check; the bus of C15 will carry it).

use super::audit::parse_time;
use super::validate::{check_email, check_id};
use super::{Failure, Service};
use crate::auth::Identity;
use crate::events::rfc3339;
use crate::hub::Revocation;
use crate::policy::Act;
use workroom_protocol::lifecycle::{
    BanQuery, BanStatus, RevokeTokens, TerminateUser, Terminated, TokensRevoked,
};
use workroom_protocol::{Purpose, RoomId};
use workroom_storage::{BanIdentity, TerminationOutcome, TerminationReason};

impl Service {
    /// Revoke the caller's own token until it expires, and close the sessions using it.
    pub async fn logout(&self, identity: &Identity) -> Result<(), Failure> {
        self.allow(identity, Act::Logout, Purpose::Security)?;
        let expires_at = i64::try_from(identity.expires_at())
            .unwrap_or(i64::MAX / 1000)
            .saturating_mul(1000);
        self.store
            .revoke_token(
                identity.jti(),
                identity.user(),
                expires_at,
                &identity.actor(),
            )
            .await?;
        self.hub.tokens_revoked(
            identity.user(),
            Revocation::Token(identity.jti().to_string()),
        );
        Ok(())
    }

    /// Refuse every token of `user` issued before a time (default: now).
    pub async fn revoke_tokens(
        &self,
        identity: &Identity,
        user: &str,
        body: &RevokeTokens,
    ) -> Result<TokensRevoked, Failure> {
        self.allow(identity, Act::RevokeTokens, Purpose::Security)?;
        check_id("user", user)?;
        let before_ms = parse_time("issued_before", body.issued_before.as_deref())?
            .unwrap_or_else(|| self.clock.now_ms());
        // Tokens carry whole seconds: "before now" includes the current second.
        let before = before_ms.div_euclid(1000) + i64::from(body.issued_before.is_none());
        let after = self
            .store
            .revoke_tokens_before(user, before, &identity.actor())
            .await?;
        self.hub.tokens_revoked(
            user,
            Revocation::IssuedBefore(u64::try_from(after).unwrap_or(0)),
        );
        Ok(TokensRevoked {
            user: user.to_string(),
            issued_before: rfc3339(after.saturating_mul(1000)),
        })
    }

    /// Terminate a user's membership (see `workroom_storage::repo::lifecycle`): access
    /// ends now; their personal data is erased now, or when the last legal hold covering
    /// them lifts.
    pub async fn terminate_user(
        &self,
        identity: &Identity,
        user: &str,
        body: &TerminateUser,
    ) -> Result<Terminated, Failure> {
        self.allow(identity, Act::Terminate, Purpose::Participation)?;
        check_id("user", user)?;
        let reason = TerminationReason::parse(&body.reason)
            .ok_or_else(|| Failure::invalid("reason: must be `closed` or `violation`"))?;
        let actor = identity.actor();
        let outcome = self
            .store
            .terminate_user(user, reason, &actor)
            .await
            .map_err(|e| match e {
                workroom_storage::StorageError::NotFound => Failure::not_found("no such user"),
                other => other.into(),
            })?;
        self.hub.tokens_revoked(user, Revocation::All);
        self.announce_termination(&outcome);
        let erasure = if outcome.erasure_deferred {
            "deferred"
        } else {
            // Also finishes an erasure a crash interrupted, when this is a repeat.
            let rooms = self.store.erase_person(user, &actor).await?;
            let users = self.users_of_rooms(&rooms).await?;
            self.hub.rooms_changed(&users);
            "erased"
        };
        tracing::info!(user = %user, reason = reason.as_str(), erasure, "membership terminated");
        Ok(Terminated {
            terminated_now: outcome.terminated_now,
            closed_rooms: outcome.closed_rooms,
            erasure: erasure.into(),
        })
    }

    /// Terminate a team account: its members lose its workrooms, which close.
    pub async fn terminate_account(
        &self,
        identity: &Identity,
        account: &str,
    ) -> Result<Terminated, Failure> {
        self.allow(identity, Act::Terminate, Purpose::Participation)?;
        check_id("account", account)?;
        let outcome = self
            .store
            .terminate_account(account, &identity.actor())
            .await
            .map_err(|e| match e {
                workroom_storage::StorageError::NotFound => Failure::not_found("no such account"),
                other => other.into(),
            })?;
        self.announce_termination(&outcome);
        tracing::info!(account = %account, rooms = outcome.closed_rooms.len(), "account terminated");
        Ok(Terminated {
            terminated_now: outcome.terminated_now,
            closed_rooms: outcome.closed_rooms,
            erasure: "none".into(),
        })
    }

    /// Whether an email or a user id is banned (after a termination for a violation).
    pub async fn check_ban(
        &self,
        identity: &Identity,
        query: &BanQuery,
    ) -> Result<BanStatus, Failure> {
        self.allow(identity, Act::CheckBan, Purpose::Security)?;
        let subject = match (&query.email, &query.user) {
            (Some(email), None) => {
                check_email("email", email)?;
                BanIdentity::Email(email)
            }
            (None, Some(user)) => {
                check_id("user", user)?;
                BanIdentity::User(user)
            }
            _ => {
                return Err(Failure::invalid("name exactly one of `email` or `user`"));
            }
        };
        let ban = self.store.ban(subject).await?;
        Ok(BanStatus {
            banned: ban.is_some(),
            reason: ban.as_ref().map(|b| b.reason_code.clone()),
            banned_at: ban.map(|b| rfc3339(b.banned_at)),
        })
    }

    /// Tell sessions on this node about rooms that closed and access that changed.
    fn announce_termination(&self, outcome: &TerminationOutcome) {
        for room in &outcome.closed_rooms {
            if let Ok(room) = RoomId::try_from(room.as_str()) {
                self.hub.room_closed(&room);
            }
        }
        self.hub.rooms_changed(&outcome.affected_users);
    }

    async fn users_of_rooms(&self, rooms: &[String]) -> Result<Vec<String>, Failure> {
        let mut users = Vec::new();
        for room in rooms {
            users.extend(self.store.users_of_room(room).await?);
        }
        users.sort();
        users.dedup();
        Ok(users)
    }
}
