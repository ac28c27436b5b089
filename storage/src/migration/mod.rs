//! Versioned schema migrations. Each migration is a file that is never edited once released;
//! `workroom migrate` and `workroom serve` apply the pending ones in order (`Store::migrate`,
//! which also runs the keyring-dependent data step `seal_legacy` at its place in the order).

use sea_orm_migration::prelude::*;

mod m0001_core;
mod m0002_sealed_columns;
mod m0003_drop_plaintext;
mod m0004_files;
mod m0005_audit;
mod m0006_moderation;
mod m0007_contacts;
mod m0008_tracker;
mod m0009_screenshots;
mod m0010_room_file_bytes;
mod m0011_write_probes;
mod m0012_lifecycle;
mod m0013_connection_links_by_time;
mod m0014_legal_exports;
mod m0015_analytics;
pub(crate) mod seal_legacy;

pub(crate) use m0003_drop_plaintext::NAME as DROP_PLAINTEXT;

pub(crate) struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_core::Migration),
            Box::new(m0002_sealed_columns::Migration),
            Box::new(m0003_drop_plaintext::Migration),
            Box::new(m0004_files::Migration),
            Box::new(m0005_audit::Migration),
            Box::new(m0006_moderation::Migration),
            Box::new(m0007_contacts::Migration),
            Box::new(m0008_tracker::Migration),
            Box::new(m0009_screenshots::Migration),
            Box::new(m0010_room_file_bytes::Migration),
            Box::new(m0011_write_probes::Migration),
            Box::new(m0012_lifecycle::Migration),
            Box::new(m0013_connection_links_by_time::Migration),
            Box::new(m0014_legal_exports::Migration),
            Box::new(m0015_analytics::Migration),
        ]
    }
}
