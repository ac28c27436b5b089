//! Encryption at rest, step one: the `data_keys` table and sealed (ciphertext) columns beside
//! the plaintext ones of the core schema. Rows are then sealed by `seal_legacy` (which has the
//! keyring) and `m0003_drop_plaintext` removes the plaintext columns.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0002_sealed_columns"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("data_keys")
                    .col(string("id").primary_key())
                    .col(string_null("master_key_id"))
                    .col(blob_null("wrapped"))
                    .col(big_integer("created_at"))
                    .col(big_integer_null("rewrapped_at"))
                    .col(big_integer_null("destroyed_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("data_keys_by_master")
                    .table("data_keys")
                    .col("master_key_id")
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("messages")
                    .add_column(blob_null("body_sealed"))
                    .to_owned(),
            )
            .await?;
        // SQLite can add only one column per ALTER TABLE.
        for column in ["name_sealed", "email_sealed"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("users")
                        .add_column(blob_null(column))
                        .to_owned(),
                )
                .await?;
        }
        // `message_versions.body` is NOT NULL, which SQLite cannot relax in place: prior
        // versions move to a new table as they are sealed.
        manager
            .create_table(
                Table::create()
                    .table("prior_versions")
                    .col(string("msg_id"))
                    .col(integer("version"))
                    .col(string("room_id"))
                    .col(blob_null("body_sealed"))
                    .col(big_integer("created_at"))
                    .col(big_integer("replaced_at"))
                    .primary_key(Index::create().col("msg_id").col("version"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
