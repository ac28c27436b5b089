//! A team account of the marketplace (client company or contractor agency).
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub created_at: i64,
    /// When the marketplace terminated the account: its members lost its workrooms.
    pub terminated_at: Option<i64>,
}

impl ActiveModelBehavior for ActiveModel {}
