//! `from_user`'s details were released to `to_user` through `room`. Rows come in pairs.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "contact_releases")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub room_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub from_user: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub to_user: String,
    pub released_at: i64,
    pub purpose: String,
}

impl ActiveModelBehavior for ActiveModel {}
