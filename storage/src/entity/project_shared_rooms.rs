//! At most one shared room per project (the primary key enforces it across processes).
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "project_shared_rooms")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub project_id: String,
    pub room_id: String,
}

impl ActiveModelBehavior for ActiveModel {}
