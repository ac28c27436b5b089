//! Opening the database (backend choice, the pool: [`pool`]), migrations, and the health
//! probe that runs beside the store ([`probe`]).

mod migration_lock;
mod pool;
mod probe;

pub use probe::DatabaseProbe;

use crate::clock::Clock;
use crate::error::StorageError;
use crate::keyring::Keyring;
use crate::migration::Migrator;
use pool::{SQLITE_POOL_SIZE, Target};
use sea_orm::DatabaseConnection;
use sea_orm_migration::MigratorTrait;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Which database the store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// SQLite's `synchronous` pragma. `Full` fsyncs the WAL on every commit (an ack survives a
/// power cut); `Normal` survives a process crash but may lose the last commits on power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SqliteSync {
    Full,
    Normal,
}

/// How to open the store.
#[derive(Debug, Clone)]
pub struct DatabaseOptions {
    /// `sqlite:` path or `postgres://` URL. `None` means SQLite at `sqlite_path`.
    pub url: Option<String>,
    /// The SQLite file used when `url` is `None`.
    pub sqlite_path: PathBuf,
    pub sqlite_synchronous: SqliteSync,
    /// PostgreSQL pool size.
    pub max_connections: u32,
    /// Longest wait for a pooled connection (connecting included); a call that waits longer
    /// fails, so a database that is down costs callers this long at most.
    pub acquire_timeout: Duration,
}

/// A handle on the database. Cheap to clone; all repositories hang off it.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) db: DatabaseConnection,
    /// Where write transactions ([`Store::begin_write`]) run. On SQLite, a pool of one
    /// connection beside `db`: SQLite takes one writer at a time anyway, and a connection
    /// discards its whole page cache whenever another connection wrote since its last
    /// transaction, so writes rotating over the pool re-read every page they touch; the one
    /// writer keeps its cache warm across commits. On PostgreSQL, `db` itself.
    writer: DatabaseConnection,
    backend: Backend,
    pub(crate) keyring: Arc<Keyring>,
    /// The time every row and audit entry is stamped with.
    pub(crate) clock: Clock,
    /// Pooled connections closed because they were still inside a transaction.
    discarded: Arc<AtomicU64>,
    /// Whether the one `proof::Mint` was handed out.
    pub(crate) mint_taken: Arc<std::sync::atomic::AtomicBool>,
    /// Workrooms already counted today by the analytics (a hint; see `repo::analytics`).
    pub(crate) analytics_marks: Arc<crate::repo::analytics::MarkCache>,
}

impl Store {
    /// Open (and for SQLite, create) the database. Does not migrate.
    pub async fn open(
        options: &DatabaseOptions,
        keyring: Arc<Keyring>,
        clock: Clock,
    ) -> Result<Store, StorageError> {
        let target = Target::of(options)?;
        let backend = match target {
            Target::Postgres(_) => Backend::Postgres,
            Target::Sqlite(_) => Backend::Sqlite,
        };
        let max_connections = match backend {
            Backend::Postgres => options.max_connections,
            Backend::Sqlite => SQLITE_POOL_SIZE as u32,
        };
        let discarded = Arc::new(AtomicU64::new(0));
        let db = pool::build(
            &target,
            max_connections,
            options.acquire_timeout,
            &discarded,
        )
        .await?;
        let writer = match target {
            Target::Postgres(_) => db.clone(),
            Target::Sqlite(_) => {
                pool::build(
                    &target,
                    1,
                    options.acquire_timeout.max(pool::SQLITE_BUSY_TIMEOUT),
                    &discarded,
                )
                .await?
            }
        };
        Ok(Store {
            db,
            writer,
            backend,
            keyring,
            clock,
            discarded,
            mint_taken: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            analytics_marks: Arc::default(),
        })
    }

    /// Begin a transaction that will write, on the writer connection. On SQLite it takes the
    /// write lock at `BEGIN` (`IMMEDIATE`), so a read-then-write transaction waits for the
    /// lock (busy timeout) instead of failing with `SQLITE_BUSY` when another process wrote
    /// in between; writers of this process queue for the one writer connection first.
    pub(crate) async fn begin_write(&self) -> Result<sea_orm::DatabaseTransaction, sea_orm::DbErr> {
        use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
        self.writer
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await
    }

    /// How many pooled connections were closed instead of reused because they were still
    /// inside a transaction (after a failed `COMMIT` or `ROLLBACK`).
    pub fn discarded_connections(&self) -> u64 {
        self.discarded.load(Ordering::Relaxed)
    }

    /// The clock rows and audit entries are stamped with.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Apply every pending migration. Returns how many were applied.
    ///
    /// Before the migration that drops the plaintext columns of the core schema, rows
    /// written in clear by an older release are sealed under their data keys (this needs the
    /// keyring, which schema migrations do not have), and afterwards the freed space is
    /// scrubbed so no old plaintext stays in the database files.
    pub async fn migrate(&self) -> Result<usize, StorageError> {
        self.migrate_until(None).await
    }

    /// Apply pending migrations up to and including `last` (upgrade tests, staged rollouts).
    pub async fn migrate_to(&self, last: &str) -> Result<usize, StorageError> {
        self.migrate_until(Some(last)).await
    }

    async fn migrate_until(&self, last: Option<&str>) -> Result<usize, StorageError> {
        // Nothing to do is found without writing: `get_pending_migrations` first installs
        // its table with DDL, which takes the write lock of a database that may be busy.
        // Nor without the migration lock, so a node starting on a current schema never
        // waits for a release-step `workroom migrate` running elsewhere.
        if Migrator::get_pending_migrations_read_only(&self.db)
            .await?
            .is_empty()
        {
            return Ok(0);
        }
        // On PostgreSQL one process at a time applies migrations (`migration_lock`); the
        // others wait, then find nothing pending. SQLite needs no lock: one node.
        let lock = match self.backend {
            Backend::Postgres => Some(migration_lock::MigrationLock::acquire(&self.db).await?),
            Backend::Sqlite => None,
        };
        let applied = self.apply_pending(last).await;
        if let Some(lock) = lock
            && let Err(e) = lock.release().await
        {
            // Its connection is gone either way, and the lock with its session.
            tracing::warn!(error = %e, "releasing the migration lock failed");
        }
        applied
    }

    /// Apply what is pending now (read again under the lock), in order, up to `last`.
    async fn apply_pending(&self, last: Option<&str>) -> Result<usize, StorageError> {
        let mut applied = 0;
        let mut sealed = 0;
        loop {
            let pending = Migrator::get_pending_migrations(&self.db).await?;
            let Some(next) = pending.first() else {
                break;
            };
            // `last` applied already (by another process while this one waited): done.
            if let Some(last) = last
                && !pending.iter().any(|m| m.name() == last)
            {
                break;
            }
            let name = next.name().to_string();
            if name == crate::migration::DROP_PLAINTEXT {
                sealed += crate::migration::seal_legacy::seal_legacy_rows(self).await?;
            }
            Migrator::up(&self.db, Some(1)).await?;
            applied += 1;
            if last == Some(name.as_str()) {
                break;
            }
        }
        if sealed > 0 {
            tracing::info!(
                rows = sealed,
                "sealed rows written in clear by an older release"
            );
            self.scrub_freed_space().await?;
        }
        Ok(applied)
    }

    /// Rewrite the database files so that no freed page still holds old bytes.
    async fn scrub_freed_space(&self) -> Result<(), StorageError> {
        use sea_orm::ConnectionTrait;
        match self.backend {
            Backend::Sqlite => {
                self.db.execute_unprepared("VACUUM").await?;
                self.db
                    .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
                    .await?;
            }
            Backend::Postgres => {
                self.db
                    .execute_unprepared("VACUUM FULL messages, prior_versions, users")
                    .await?;
            }
        }
        Ok(())
    }

    /// Names of migrations not yet applied.
    pub async fn pending_migrations(&self) -> Result<Vec<String>, StorageError> {
        Ok(Migrator::get_pending_migrations(&self.db)
            .await?
            .iter()
            .map(|m| m.name().to_string())
            .collect())
    }

    /// Close the pools, waiting for in-flight queries.
    pub async fn close(self) -> Result<(), StorageError> {
        if self.backend == Backend::Sqlite {
            self.writer.close().await?;
        }
        self.db.close().await.map_err(StorageError::from)
    }
}

#[cfg(test)]
mod tests;
