//! A bot token (by `jti`) its contractor revoked; it is refused from then on.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "revoked_bots")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub jti: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub acts_for: String,
    pub revoked_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}
