//! A stored file: its object holds ciphertext under a per-file key, wrapped here by the
//! room's data key. The row is written only once the object is complete.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "files")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub room_id: String,
    pub uploader_id: String,
    pub name_sealed: Vec<u8>,
    pub declared_type: Option<String>,
    pub sniffed_type: String,
    pub size: i64,
    pub sha256: String,
    pub key_wrapped: Vec<u8>,
    #[sea_orm(unique)]
    pub object_key: String,
    /// The message that carries the file, once attached.
    pub msg_id: Option<String>,
    pub purpose: String,
    pub created_at: i64,
    /// Set when the carrying message was deleted: members lose access.
    pub deleted_at: Option<i64>,
}

impl ActiveModelBehavior for ActiveModel {}
