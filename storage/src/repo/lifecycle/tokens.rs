//! Token revocation (C14): a logout revokes one token by its `jti` until its `exp`; the
//! marketplace revokes every token of a user issued before a time; a terminated membership
//! refuses all of them. Authentication asks [`Store::token_refusal`] on every request,
//! upgrade and `auth` frame, so a revocation holds on every node at once.

use crate::Store;
use crate::audit::{Actor, AuditAction};
use crate::entity::{revoked_tokens, users};
use crate::error::StorageError;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
use workroom_protocol::Purpose;

/// What a token names, for the revocation checks.
#[derive(Debug, Clone, Copy)]
pub struct TokenFacts<'a> {
    pub jti: &'a str,
    /// The user whose membership decides (a member's `sub`, a bot's contractor); `None`
    /// for staff and service tokens, which only a `jti` revocation refuses.
    pub member: Option<&'a str>,
    /// Unix seconds.
    pub issued_at: i64,
}

impl Store {
    /// Why the token must be refused, if it must.
    pub async fn token_refusal(
        &self,
        token: TokenFacts<'_>,
    ) -> Result<Option<&'static str>, StorageError> {
        if revoked_tokens::Entity::find_by_id(token.jti.to_string())
            .one(&self.db)
            .await?
            .is_some()
        {
            return Ok(Some("this token was revoked (logged out)"));
        }
        let Some(member) = token.member else {
            return Ok(None);
        };
        let Some(user) = users::Entity::find_by_id(member.to_string())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        if user.terminated_at.is_some() {
            return Ok(Some("this membership was terminated"));
        }
        if user
            .tokens_valid_after
            .is_some_and(|after| token.issued_at < after)
        {
            return Ok(Some("this token was revoked"));
        }
        Ok(None)
    }

    /// Revoke one token until `expires_at` (Unix ms). Repeats are harmless.
    pub async fn revoke_token(
        &self,
        jti: &str,
        user: &str,
        expires_at: i64,
        actor: &Actor,
    ) -> Result<(), StorageError> {
        let txn = self.begin_write().await?;
        let now = self.clock.now_ms();
        revoked_tokens::Entity::insert(revoked_tokens::ActiveModel {
            jti: Set(jti.to_string()),
            user_id: Set(user.to_string()),
            expires_at: Set(expires_at),
            revoked_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(revoked_tokens::Column::Jti)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        let entry = actor.entry(
            AuditAction::TokenRevoked,
            &format!("user:{user}"),
            Purpose::Security,
            serde_json::json!({"jti": jti}),
        );
        self.append_audit_in(&txn, &[entry]).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Refuse every token of `user` issued before `before` (Unix seconds). A later call
    /// with an earlier time changes nothing. `NotFound` for an unknown user.
    pub async fn revoke_tokens_before(
        &self,
        user: &str,
        before: i64,
        actor: &Actor,
    ) -> Result<i64, StorageError> {
        let txn = self.begin_write().await?;
        let row = users::Entity::find_by_id(user.to_string())
            .one(&txn)
            .await?
            .ok_or(StorageError::NotFound)?;
        let after = row.tokens_valid_after.map_or(before, |t| t.max(before));
        users::Entity::update_many()
            .col_expr(users::Column::TokensValidAfter, Expr::value(after))
            .filter(users::Column::Id.eq(user))
            .exec(&txn)
            .await?;
        let entry = actor.entry(
            AuditAction::TokensRevoked,
            &format!("user:{user}"),
            Purpose::Security,
            serde_json::json!({"issued_before": after}),
        );
        self.append_audit_in(&txn, &[entry]).await?;
        txn.commit().await?;
        Ok(after)
    }
}

/// Which tokens a revocation read back from the audit trail covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokedTokens {
    /// One token (logout).
    Token(String),
    /// Those issued before this (Unix seconds).
    IssuedBefore(i64),
    /// All of them (termination).
    All,
}

/// A revocation some node committed, with the user whose sessions it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationEvent {
    pub user: String,
    pub tokens: RevokedTokens,
}

impl Store {
    /// Revocations committed after audit entry `after` (by any node), and the audit seq to
    /// ask from next time. The audit trail is the one log every node writes revocations to,
    /// so a node learns of another's without a bus.
    pub async fn revocations_after(
        &self,
        after: u64,
    ) -> Result<(Vec<RevocationEvent>, u64), StorageError> {
        use crate::entity::audit_entries;
        use sea_orm::QueryOrder;
        let Some(head) = self.audit_head().await? else {
            return Ok((Vec::new(), after));
        };
        if head.seq <= after {
            return Ok((Vec::new(), head.seq));
        }
        let actions = [
            AuditAction::TokenRevoked,
            AuditAction::TokensRevoked,
            AuditAction::UserTerminated,
        ];
        let rows = audit_entries::Entity::find()
            .filter(audit_entries::Column::Seq.gt(i64::try_from(after).unwrap_or(i64::MAX)))
            .filter(audit_entries::Column::Seq.lte(i64::try_from(head.seq).unwrap_or(i64::MAX)))
            .filter(audit_entries::Column::Action.is_in(actions.map(|a| a.as_str())))
            .order_by_asc(audit_entries::Column::Seq)
            .all(&self.db)
            .await?;
        let events = rows
            .into_iter()
            .filter_map(|row| {
                let user = row.target.strip_prefix("user:")?.to_string();
                let details: serde_json::Value = serde_json::from_str(&row.details).ok()?;
                let tokens = match AuditAction::parse(&row.action)? {
                    AuditAction::TokenRevoked => {
                        RevokedTokens::Token(details["jti"].as_str()?.to_string())
                    }
                    AuditAction::TokensRevoked => {
                        RevokedTokens::IssuedBefore(details["issued_before"].as_i64()?)
                    }
                    _ => RevokedTokens::All,
                };
                Some(RevocationEvent { user, tokens })
            })
            .collect();
        Ok((events, head.seq))
    }
}
