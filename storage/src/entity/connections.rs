//! One client connection (C11): a session id, the keyed hash of the client address and the
//! time. Nothing here names a user; that link lives in `connection_users`.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "connections")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub session_id: String,
    /// Hex HMAC-SHA-256 of the address under a key derived from the master keys.
    pub address_hash: String,
    pub connected_at: i64,
    pub purpose: String,
}

impl ActiveModelBehavior for ActiveModel {}
