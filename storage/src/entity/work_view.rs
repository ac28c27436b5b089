//! A contractor's Work View switch: while it is on, their Tracker may post screenshots.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "work_view")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    pub enabled: bool,
    pub updated_at: i64,
    pub purpose: String,
}

impl ActiveModelBehavior for ActiveModel {}
