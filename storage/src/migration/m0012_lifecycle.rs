//! The data lifecycle (C10): retention and purge of closed workrooms, account termination
//! and bans, legal holds, and token revocation (C14).
//!
//! - `rooms` gains its retention override, the purge's progress (started, lease, counts)
//!   and the time it finished: a purged room's row stays as a tombstone (ids, times,
//!   counts), which also keeps a bid from opening a second room.
//! - `users` and `accounts` gain their termination; `users.tokens_valid_after` refuses every
//!   token issued before it.
//! - `revoked_tokens` (one `jti` each, dropped after the token's `exp`), `bans` (keyed hashes
//!   only), `legal_holds`, and `pending_erasures` (destruction a hold deferred).
//! - Indexes the purge and the retention sweeps page by.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0012_lifecycle"
    }
}

/// SQLite can add only one column per ALTER TABLE.
async fn add_columns(
    manager: &SchemaManager<'_>,
    table: &'static str,
    columns: Vec<ColumnDef>,
) -> Result<(), DbErr> {
    for mut column in columns {
        manager
            .alter_table(
                Table::alter()
                    .table(table)
                    .add_column(&mut column)
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}

async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: &'static str,
    columns: &[&'static str],
) -> Result<(), DbErr> {
    let mut statement = Index::create();
    statement.name(name).table(table);
    for column in columns {
        statement.col(*column);
    }
    manager.create_index(statement.to_owned()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(
            manager,
            "rooms",
            vec![
                big_integer_null("retention_secs"),
                big_integer_null("purge_started_at"),
                big_integer_null("purge_lease_until"),
                big_integer_null("purged_at"),
                big_integer("purged_messages").default(0).to_owned(),
                big_integer("purged_files").default(0).to_owned(),
                big_integer("purged_bytes").default(0).to_owned(),
            ],
        )
        .await?;
        add_columns(
            manager,
            "users",
            vec![
                big_integer_null("terminated_at"),
                string_null("terminated_reason"),
                big_integer_null("tokens_valid_after"),
                big_integer_null("erased_at"),
            ],
        )
        .await?;
        add_columns(manager, "accounts", vec![big_integer_null("terminated_at")]).await?;
        manager
            .create_table(
                Table::create()
                    .table("revoked_tokens")
                    .col(string("jti").primary_key())
                    .col(string("user_id"))
                    .col(big_integer("expires_at"))
                    .col(big_integer("revoked_at"))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "revoked_tokens_by_expiry",
            "revoked_tokens",
            &["expires_at"],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table("bans")
                    .col(string("identity_hash").primary_key())
                    .col(string("kind"))
                    .col(string("reason_code"))
                    .col(big_integer("banned_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("legal_holds")
                    .col(string("id").primary_key())
                    .col(string("request_id"))
                    .col(string("scope"))
                    .col(string("target"))
                    .col(string("placed_by"))
                    .col(big_integer("placed_at"))
                    .col(string_null("lifted_by"))
                    .col(big_integer_null("lifted_at"))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "legal_holds_by_target",
            "legal_holds",
            &["scope", "target"],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table("pending_erasures")
                    .col(string("key_id").primary_key())
                    .col(string("why"))
                    .col(text("accounts"))
                    .col(big_integer("requested_at"))
                    .to_owned(),
            )
            .await?;
        index(manager, "rooms_by_closed", "rooms", &["closed_at"]).await?;
        index(
            manager,
            "prior_versions_by_room",
            "prior_versions",
            &["room_id"],
        )
        .await?;
        index(
            manager,
            "prior_versions_by_time",
            "prior_versions",
            &["replaced_at"],
        )
        .await?;
        index(
            manager,
            "connections_by_time",
            "connections",
            &["connected_at"],
        )
        .await?;
        index(manager, "reports_by_room", "reports", &["room_id"]).await?;
        index(
            manager,
            "room_parties_by_user",
            "room_parties",
            &["user_id"],
        )
        .await?;
        Ok(())
    }
}
