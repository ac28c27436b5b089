//! A signed statement "the chain up to `seq` has head `hash`".
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_checkpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    pub hash: String,
    pub at: i64,
    pub key_id: String,
    /// Hex Ed25519 signature over [`crate::audit::checkpoint_message`].
    pub signature: String,
}

impl ActiveModelBehavior for ActiveModel {}
