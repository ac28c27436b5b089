//! A destruction a legal hold deferred: a person's erasure after termination, an operator's
//! `keys destroy`, or a room's purge. It runs once no hold covers it, and the row goes.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pending_erasures")]
pub struct Model {
    /// `person:<user>` or `room:<room>`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key_id: String,
    /// `termination`, `keys_destroy` or `retention`.
    pub why: String,
    /// For a person: the accounts they belonged to when terminated (comma-separated), so
    /// an account hold still covers them.
    pub accounts: String,
    pub requested_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The accounts recorded with the erasure.
    pub(crate) fn account_list(&self) -> Vec<String> {
        self.accounts
            .split(',')
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect()
    }
}
