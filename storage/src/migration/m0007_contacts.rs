//! Reciprocal contact release (C8): each person's full contact details, sealed under their
//! person key, and which party's details were released to which other party in which room.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0007_contacts"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("contacts")
                    .col(string("user_id").primary_key())
                    .col(binary("details_sealed"))
                    .col(big_integer("updated_at"))
                    .col(string("purpose"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("contact_releases")
                    .col(string("room_id"))
                    .col(string("from_user"))
                    .col(string("to_user"))
                    .col(big_integer("released_at"))
                    .col(string("purpose"))
                    .primary_key(
                        Index::create()
                            .col("room_id")
                            .col("from_user")
                            .col("to_user"),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
