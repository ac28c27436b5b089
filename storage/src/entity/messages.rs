//! One timeline event of a room: a message, an edit or a delete, numbered by `seq`.
//! Message rows hold the latest state; prior bodies move to `message_versions`.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub room_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    #[sea_orm(unique)]
    pub msg_id: String,
    /// `message`, `edit` or `delete`.
    pub kind: String,
    pub sender_id: String,
    pub client_msg_id: Option<String>,
    /// The body sealed under the room key as item `msg:<msg_id>:v<version>`.
    pub body_sealed: Option<Vec<u8>>,
    pub target_seq: Option<i64>,
    pub version: i32,
    pub purpose: String,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub deleted_at: Option<i64>,
    /// JSON array of attached file ids.
    pub attachments: Option<String>,
    /// A system notice posted by a moderator under a grant.
    pub notice: bool,
}

impl ActiveModelBehavior for ActiveModel {}
