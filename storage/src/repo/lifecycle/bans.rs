//! The ban record a termination for a violation leaves: keyed hashes of the email and the
//! marketplace user id, a reason code and the date, nothing else. The key is derived from
//! the master keys (never stored with the data), so the table alone cannot be reversed by
//! hashing candidate emails; the marketplace asks "is this identity banned?" and gets a
//! yes or no with the date and reason code.

use crate::Store;
use crate::entity::bans;
use crate::error::StorageError;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

const PURPOSE: &str = "workroom ban identity v1";

/// Which identity a ban lookup names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BanIdentity<'a> {
    Email(&'a str),
    User(&'a str),
}

impl BanIdentity<'_> {
    fn kind(&self) -> &'static str {
        match self {
            BanIdentity::Email(_) => "email",
            BanIdentity::User(_) => "user",
        }
    }

    /// Emails compare case-insensitively and without surrounding blanks.
    fn normalized(&self) -> String {
        match self {
            BanIdentity::Email(email) => email.trim().to_lowercase(),
            BanIdentity::User(user) => user.to_string(),
        }
    }
}

/// A ban as answered to the marketplace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BanRow {
    pub reason_code: String,
    pub banned_at: i64,
}

impl Store {
    /// The identity's hash under each master key's derived key, newest first (bans written
    /// before a rotation still match).
    fn ban_hashes(&self, identity: BanIdentity<'_>) -> Vec<String> {
        let message = format!("{}:{}", identity.kind(), identity.normalized());
        self.keyring
            .derived_keys(PURPOSE)
            .iter()
            .map(|key| {
                let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key.as_ref());
                let tag = aws_lc_rs::hmac::sign(&key, message.as_bytes());
                tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
            })
            .collect()
    }

    pub(crate) async fn record_ban<C: ConnectionTrait>(
        &self,
        conn: &C,
        identity: BanIdentity<'_>,
        reason_code: &str,
        at: i64,
    ) -> Result<(), StorageError> {
        let Some(hash) = self.ban_hashes(identity).into_iter().next() else {
            return Err(StorageError::Keyring("no master key".into()));
        };
        bans::Entity::insert(bans::ActiveModel {
            identity_hash: Set(hash),
            kind: Set(identity.kind().to_string()),
            reason_code: Set(reason_code.to_string()),
            banned_at: Set(at),
        })
        .on_conflict(
            OnConflict::column(bans::Column::IdentityHash)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
        Ok(())
    }

    /// The ban on this identity, if there is one.
    pub async fn ban(&self, identity: BanIdentity<'_>) -> Result<Option<BanRow>, StorageError> {
        let hashes = self.ban_hashes(identity);
        Ok(bans::Entity::find()
            .filter(bans::Column::IdentityHash.is_in(hashes))
            .one(&self.db)
            .await?
            .map(|row| BanRow {
                reason_code: row.reason_code,
                banned_at: row.banned_at,
            }))
    }
}
