//! Rows the health probe writes and removes in one transaction; the table is always empty.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "write_probes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub written_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}
