//! Which user authenticated on which connection. Read only by a moderator act under a grant.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "connection_users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub session_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    pub first_seen: i64,
}

impl ActiveModelBehavior for ActiveModel {}
