//! Moderation (C6) and connection logs (C11): access grants, reports and the messages they
//! expose, system notices, and pseudonymised connection records kept apart from the users
//! they belong to; and the purpose column on the remaining workroom tables.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0006_moderation"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("grants")
                    .col(string("id").primary_key())
                    .col(string("room_id"))
                    .col(string("moderator_id"))
                    .col(string("case_id"))
                    .col(binary("reason_sealed"))
                    .col(string("scope"))
                    .col(big_integer("duration_ms"))
                    .col(boolean("needs_approval"))
                    .col(big_integer("opened_at"))
                    .col(big_integer("expires_at"))
                    .col(string_null("approved_by"))
                    .col(big_integer_null("approved_at"))
                    .col(string_null("revoked_by"))
                    .col(big_integer_null("revoked_at"))
                    .col(boolean("expiry_recorded"))
                    .col(string("purpose"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("grants_by_room")
                    .table("grants")
                    .col("room_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("reports")
                    .col(string("id").primary_key())
                    .col(string("case_id"))
                    .col(string("room_id"))
                    .col(string("reporter_id"))
                    .col(binary("reason_sealed"))
                    .col(string("state"))
                    .col(binary_null("outcome_sealed"))
                    .col(big_integer("created_at"))
                    .col(big_integer("updated_at"))
                    .col(string("purpose"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("report_messages")
                    .col(string("report_id"))
                    .col(string("msg_id"))
                    .primary_key(Index::create().col("report_id").col("msg_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("connections")
                    .col(string("session_id").primary_key())
                    .col(string("address_hash"))
                    .col(big_integer("connected_at"))
                    .col(string("purpose"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("connections_by_address")
                    .table("connections")
                    .col("address_hash")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("connection_users")
                    .col(string("session_id"))
                    .col(string("user_id"))
                    .col(big_integer("first_seen"))
                    .primary_key(Index::create().col("session_id").col("user_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("connection_users_by_user")
                    .table("connection_users")
                    .col("user_id")
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("messages")
                    .add_column(boolean("notice").default(false))
                    .to_owned(),
            )
            .await?;
        // Every stored item records its purpose (C5): the rest of the workroom data, all
        // collected for participation.
        for table in ["users", "prior_versions", "read_markers"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(string("purpose").default("participation"))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
