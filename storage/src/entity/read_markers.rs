//! A member's read marker per room; it only moves forward.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "read_markers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub room_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    pub seq: i64,
    pub updated_at: i64,
    /// What the row was collected for (C5).
    pub purpose: String,
}

impl ActiveModelBehavior for ActiveModel {}
