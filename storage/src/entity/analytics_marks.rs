//! The last day a workroom counted towards a metric (working state of the daily counters;
//! deleted with the workroom).
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "analytics_marks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub metric: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub room_id: String,
    pub day: String,
}

impl ActiveModelBehavior for ActiveModel {}
