//! Health probes on a connection of their own: whether the database answers, and whether it
//! accepts a commit right now.
//!
//! The probe has its own one-connection pool, so that it measures the database rather than
//! how busy the store's pool is, and a short timeout on everything (acquiring, connecting,
//! SQLite's busy wait), so that a database that is down or hung costs a check that long at
//! most. It connects on first use: a probe can be made while the database is down.

use super::pool::{self, PoolShape, Target};
use super::{DatabaseOptions, begin_write};
use crate::entity::write_probes;
use crate::error::StorageError;
use crate::time::now_ms;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// A database connection kept for health checks.
#[derive(Debug, Clone)]
pub struct DatabaseProbe {
    db: DatabaseConnection,
}

impl DatabaseProbe {
    /// A probe of the database `options` name; each call waits at most about `timeout` for
    /// a connection or a lock.
    pub async fn open(
        options: &DatabaseOptions,
        timeout: Duration,
    ) -> Result<DatabaseProbe, StorageError> {
        let target = Target::of(options)?;
        let db = pool::build(
            &target,
            PoolShape {
                max_connections: 1,
                acquire_timeout: timeout,
                eager: false,
                sqlite_busy_timeout: Some(timeout),
            },
            &Arc::new(AtomicU64::new(0)),
        )
        .await?;
        Ok(DatabaseProbe { db })
    }

    /// A round trip: the database answers.
    pub async fn ping(&self) -> Result<(), StorageError> {
        self.db.ping().await.map_err(StorageError::from)
    }

    /// Write a row and remove it in one transaction, and commit: the database accepts
    /// commits now (a full disk or a read-only database refuses this one too). Nothing stays
    /// behind.
    pub async fn write(&self) -> Result<(), StorageError> {
        let id = uuid::Uuid::now_v7().simple().to_string();
        let txn = begin_write(&self.db).await?;
        write_probes::ActiveModel {
            id: Set(id.clone()),
            written_at: Set(now_ms()),
        }
        .insert(&txn)
        .await?;
        write_probes::Entity::delete_many()
            .filter(write_probes::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Close the probe's connection.
    pub async fn close(self) {
        self.db.close().await.ok();
    }
}
