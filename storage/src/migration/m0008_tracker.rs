//! The Tracker's groundwork (C9): each contractor's Work View switch, and the bot tokens a
//! contractor revoked.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0008_tracker"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("work_view")
                    .col(string("user_id").primary_key())
                    .col(boolean("enabled"))
                    .col(big_integer("updated_at"))
                    .col(string("purpose"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("revoked_bots")
                    .col(string("jti"))
                    .col(string("acts_for"))
                    .col(big_integer("revoked_at"))
                    .primary_key(Index::create().col("jti").col("acts_for"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
