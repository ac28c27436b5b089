//! A Tracker screenshot: its image is a file (purpose `payment_guarantee`); the memo is
//! sealed under the room key (item `screenshot:<id>:memo`).
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "screenshots")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub room_id: String,
    pub contractor_id: String,
    pub file_id: String,
    pub captured_at: i64,
    pub activity: i16,
    pub memo_sealed: Option<Vec<u8>>,
    pub shared: bool,
    pub created_at: i64,
    pub purpose: String,
}

impl ActiveModelBehavior for ActiveModel {}
