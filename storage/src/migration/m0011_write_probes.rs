//! The table the health probe writes to, to learn whether the database accepts commits
//! (`DatabaseProbe::write`: a row inserted and removed in one transaction).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0011_write_probes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("write_probes")
                    .col(string("id").primary_key())
                    .col(big_integer("written_at"))
                    .to_owned(),
            )
            .await
    }
}
