//! One shard of an anonymous daily counter: a metric's events on a UTC day, their total,
//! and how many distinct workrooms contributed. No identifier of any person or workroom.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "analytics_daily")]
pub struct Model {
    /// `YYYY-MM-DD`, UTC.
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub metric: String,
    /// Which of the day's rows for this metric (see the migration).
    #[sea_orm(primary_key, auto_increment = false)]
    pub shard: i16,
    pub count: i64,
    pub total: i64,
    pub contributors: i64,
}

impl ActiveModelBehavior for ActiveModel {}
