//! Encryption at rest, step two: drop the plaintext columns. Refuses to run while any row
//! still holds plaintext (`Store::migrate` seals legacy rows right before this step).

use sea_orm_migration::prelude::*;

pub(crate) struct Migration;

pub(crate) const NAME: &str = "m0003_drop_plaintext";

impl MigrationName for Migration {
    fn name(&self) -> &str {
        NAME
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (table, check) in [
            ("messages", "body IS NOT NULL"),
            ("message_versions", "1 = 1"),
            ("users", "name IS NOT NULL OR email IS NOT NULL"),
        ] {
            let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE {check}");
            let row = db
                .query_one_raw(sea_orm::Statement::from_string(
                    db.get_database_backend(),
                    sql,
                ))
                .await?;
            let left: i64 = match row {
                Some(row) => row.try_get("", "n")?,
                None => 0,
            };
            if left > 0 {
                return Err(DbErr::Migration(format!(
                    "{left} rows of `{table}` still hold plaintext; run `workroom migrate`, \
                     which seals them before this step"
                )));
            }
        }
        manager
            .alter_table(
                Table::alter()
                    .table("messages")
                    .drop_column("body")
                    .to_owned(),
            )
            .await?;
        for column in ["name", "email"] {
            manager
                .alter_table(Table::alter().table("users").drop_column(column).to_owned())
                .await?;
        }
        manager
            .drop_table(Table::drop().table("message_versions").to_owned())
            .await?;
        Ok(())
    }
}
