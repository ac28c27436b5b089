//! A person's full contact details (name, company, phone, mailing address), one sealed JSON
//! document under their person key (item `person:<id>:contact`).
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "contacts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    pub details_sealed: Vec<u8>,
    pub updated_at: i64,
    pub purpose: String,
}

impl ActiveModelBehavior for ActiveModel {}
