//! Versioned schema migrations. Each migration is a file that is never edited once released;
//! `workroom migrate` and `workroom serve` apply the pending ones in order.

use sea_orm_migration::prelude::*;

mod m0001_core;

pub(crate) struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m0001_core::Migration)]
    }
}
