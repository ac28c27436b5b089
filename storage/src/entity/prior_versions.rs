//! Prior versions of edited and deleted messages, kept for the compliance record (C3). The
//! sealed body moves here unchanged: its item name (`msg:<id>:v<version>`) already names it.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "prior_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub msg_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i32,
    pub room_id: String,
    pub body_sealed: Option<Vec<u8>>,
    pub created_at: i64,
    pub replaced_at: i64,
    /// What the row was collected for (C5).
    pub purpose: String,
}

impl ActiveModelBehavior for ActiveModel {}
