//! The connection log's user links by time: the retention sweep deletes the links older than
//! `retention.connection_log_secs` with one statement, which without this index scanned the
//! whole table while holding the database's writer, every round.

use sea_orm_migration::prelude::*;

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0013_connection_links_by_time"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("connection_users_by_time")
                    .table("connection_users")
                    .col("first_seen")
                    .to_owned(),
            )
            .await
    }
}
