//! A member's report of messages in a workroom: a moderation case that exposes exactly the
//! reported messages. Reason and outcome are sealed under the room key.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub case_id: String,
    pub room_id: String,
    pub reporter_id: String,
    pub reason_sealed: Vec<u8>,
    /// `open`, `in_review` or `closed`.
    pub state: String,
    pub outcome_sealed: Option<Vec<u8>>,
    pub created_at: i64,
    pub updated_at: i64,
    pub purpose: String,
}

impl ActiveModelBehavior for ActiveModel {}
