//! A running total of each room's live file bytes, kept in the transactions that add and
//! withdraw files, so the quota check costs one row read instead of a sum over every file
//! of the room (a Tracker adds one a minute: rooms accumulate thousands).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0010_room_file_bytes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("rooms")
                    .add_column(big_integer("file_bytes").default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE rooms SET file_bytes = (SELECT COALESCE(SUM(files.size), 0) FROM files \
                 WHERE files.room_id = rooms.id AND files.deleted_at IS NULL)",
            )
            .await?;
        Ok(())
    }
}
