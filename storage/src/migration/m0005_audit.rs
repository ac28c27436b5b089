//! The audit trail (C7): an append-only hash chain and its signed checkpoints.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0005_audit"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("audit_entries")
                    .col(big_integer("seq").primary_key())
                    .col(big_integer("at"))
                    .col(string("actor"))
                    .col(string("actor_role"))
                    .col(string("action"))
                    .col(string("target"))
                    .col(string("purpose"))
                    .col(string_null("case_id"))
                    .col(string_null("request_id"))
                    .col(text("details"))
                    .col(string("prev_hash"))
                    .col(string("hash"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("audit_checkpoints")
                    .col(big_integer("seq").primary_key())
                    .col(string("hash"))
                    .col(big_integer("at"))
                    .col(string("key_id"))
                    .col(string("signature"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
