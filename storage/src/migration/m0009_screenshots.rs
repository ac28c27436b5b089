//! Tracker screenshots (C9): one row per screenshot, its image a file collected for payment
//! guarantee; `shared` says whether the client side may see it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0009_screenshots"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("screenshots")
                    .col(string("id").primary_key())
                    .col(string("room_id"))
                    .col(string("contractor_id"))
                    .col(string("file_id"))
                    .col(big_integer("captured_at"))
                    .col(small_integer("activity"))
                    .col(binary_null("memo_sealed"))
                    .col(boolean("shared"))
                    .col(big_integer("created_at"))
                    .col(string("purpose"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("screenshots_by_room")
                    .table("screenshots")
                    .col("room_id")
                    .col("captured_at")
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
