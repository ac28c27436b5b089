//! Data keys, stored only wrapped by a master key. A destroyed key keeps its row (so the
//! server can tell "erased" from "never existed") with the wrapped bytes gone.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "data_keys")]
pub struct Model {
    /// `room:<room id>` or `person:<user id>`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub master_key_id: Option<String>,
    pub wrapped: Option<Vec<u8>>,
    pub created_at: i64,
    pub rewrapped_at: Option<i64>,
    pub destroyed_at: Option<i64>,
}

impl ActiveModelBehavior for ActiveModel {}
