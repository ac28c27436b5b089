//! A token (by `jti`) revoked by logout: refused until its `exp`, then the row is dropped.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "revoked_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub jti: String,
    pub user_id: String,
    /// Unix ms of the token's `exp`: after it the token is refused anyway.
    pub expires_at: i64,
    pub revoked_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}
