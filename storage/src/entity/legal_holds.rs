//! A legal hold on a workroom, a user or an account, for a named legal request: while it
//! is in place, purges and erasures of what it covers are deferred.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "legal_holds")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub request_id: String,
    /// `room`, `user` or `account`.
    pub scope: String,
    pub target: String,
    pub placed_by: String,
    pub placed_at: i64,
    pub lifted_by: Option<String>,
    pub lifted_at: Option<i64>,
}

impl ActiveModelBehavior for ActiveModel {}
