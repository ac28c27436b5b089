//! Anonymous analytics (C13): daily counters with no identifier in them.
//!
//! - `analytics_daily`: rows per (UTC day, metric, shard): how many events, their total
//!   (bytes for files) and how many distinct workrooms contributed (what suppression
//!   tests). A day's figure is the sum over its shards: each transaction adds to one shard
//!   picked at random, so concurrent commits (several committers, several nodes on
//!   PostgreSQL) rarely wait on the same row.
//! - `analytics_marks`: the last day each workroom counted towards each metric, so that a
//!   workroom adds one contributor per day and metric. It is working state, not output: a
//!   purged workroom's marks go with it, its counts stay.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0015_analytics"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("analytics_daily")
                    .col(string("day"))
                    .col(string("metric"))
                    .col(small_integer("shard"))
                    .col(big_integer("count").default(0))
                    .col(big_integer("total").default(0))
                    .col(big_integer("contributors").default(0))
                    .primary_key(Index::create().col("day").col("metric").col("shard"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("analytics_marks")
                    .col(string("metric"))
                    .col(string("room_id"))
                    .col(string("day"))
                    .primary_key(Index::create().col("metric").col("room_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("analytics_marks_by_room")
                    .table("analytics_marks")
                    .col("room_id")
                    .to_owned(),
            )
            .await
    }
}
