//! Which accounts a room belongs to, and the user each account named on the accepted bid.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "room_parties")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub room_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub account_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    /// `client` or `contractor`.
    pub side: String,
    pub created_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}
