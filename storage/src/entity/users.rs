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
    /// When the marketplace terminated the membership; its tokens are refused from then on.
    pub terminated_at: Option<i64>,
    /// `closed` or `violation`.
    pub terminated_reason: Option<String>,
    /// Unix seconds: tokens issued (`iat`) before this are refused.
    pub tokens_valid_after: Option<i64>,
    /// When the person's data was erased (their key destroyed, their ids replaced).
    pub erased_at: Option<i64>,
}

impl ActiveModelBehavior for ActiveModel {}
