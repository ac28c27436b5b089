//! Legal disclosure exports (C12): one row per export a legal officer asked for, naming
//! the request, the scope and the time bounds, and the state of its bundle. The bundle
//! itself is a sealed object (`exports/<id>`) under the export's own data key, so expiring
//! an export destroys that key and deletes the object.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0014_legal_exports"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("legal_exports")
                    .col(string("id").primary_key())
                    .col(string("request_id"))
                    .col(string("scope"))
                    .col(string("target"))
                    .col(big_integer_null("from_ms"))
                    .col(big_integer_null("until_ms"))
                    .col(string("state"))
                    .col(string("requested_by"))
                    .col(big_integer("created_at"))
                    .col(big_integer("heartbeat_at"))
                    .col(big_integer_null("finished_at"))
                    .col(string_null("object_key"))
                    .col(big_integer_null("size"))
                    .col(big_integer_null("entries"))
                    .col(string_null("manifest_sha256"))
                    .col(string_null("error"))
                    .col(big_integer_null("expires_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("legal_exports_by_state")
                    .table("legal_exports")
                    .col("state")
                    .to_owned(),
            )
            .await
    }
}
