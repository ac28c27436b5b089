//! A ban after a termination for a violation: a keyed hash of one identity (the email, or
//! the marketplace user id), a reason code and the date. Nothing else about the person.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bans")]
pub struct Model {
    /// Hex HMAC-SHA-256 of `kind:value` under a key derived from the master keys.
    #[sea_orm(primary_key, auto_increment = false)]
    pub identity_hash: String,
    /// `email` or `user`.
    pub kind: String,
    pub reason_code: String,
    pub banned_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}
