//! Files (C4): one row per stored object, written only after the object is complete, and the
//! attachment list of a message.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0004_files"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("files")
                    .col(string("id").primary_key())
                    .col(string("room_id"))
                    .col(string("uploader_id"))
                    .col(blob("name_sealed"))
                    .col(string_null("declared_type"))
                    .col(string("sniffed_type"))
                    .col(big_integer("size"))
                    .col(string("sha256"))
                    .col(blob("key_wrapped"))
                    .col(string("object_key"))
                    .col(string_null("msg_id"))
                    .col(string("purpose"))
                    .col(big_integer("created_at"))
                    .col(big_integer_null("deleted_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("files_by_room")
                    .table("files")
                    .col("room_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("files_by_message")
                    .table("files")
                    .col("msg_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("files_by_object")
                    .table("files")
                    .col("object_key")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("messages")
                    .add_column(text_null("attachments"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
