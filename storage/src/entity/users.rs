//! A marketplace user as last described by a service call (name and email for C1), sealed
//! under the person's data key.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name_sealed: Option<Vec<u8>>,
    pub email_sealed: Option<Vec<u8>>,
    pub created_at: i64,
    pub updated_at: i64,
    /// What the row was collected for (C5).
    pub purpose: String,
}

impl ActiveModelBehavior for ActiveModel {}
