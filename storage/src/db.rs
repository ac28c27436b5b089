//! Opening the database: backend choice, SQLite pragmas, pool sizes, migrations.

use crate::error::StorageError;
use crate::keyring::Keyring;
use crate::migration::Migrator;
use sea_orm::{DatabaseConnection, SqlxPostgresConnector, SqlxSqliteConnector};
use sea_orm_migration::MigratorTrait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
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
    pub acquire_timeout: Duration,
}

/// A handle on the database. Cheap to clone; all repositories hang off it.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) db: DatabaseConnection,
    backend: Backend,
    pub(crate) keyring: Arc<Keyring>,
}

impl Store {
    /// Open (and for SQLite, create) the database. Does not migrate.
    pub async fn open(
        options: &DatabaseOptions,
        keyring: Arc<Keyring>,
    ) -> Result<Store, StorageError> {
        match options.url.as_deref() {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let connect = PgConnectOptions::from_str(url)
                    .map_err(|e| StorageError::Connect(e.to_string()))?;
                let pool = PgPoolOptions::new()
                    .max_connections(options.max_connections)
                    .acquire_timeout(options.acquire_timeout)
                    .connect_with(connect)
                    .await
                    .map_err(|e| StorageError::Connect(e.to_string()))?;
                Ok(Store {
                    db: SqlxPostgresConnector::from_sqlx_postgres_pool(pool),
                    backend: Backend::Postgres,
                    keyring,
                })
            }
            Some(url) if url.starts_with("sqlite:") => {
                let connect = SqliteConnectOptions::from_str(url)
                    .map_err(|e| StorageError::Connect(e.to_string()))?;
                Self::open_sqlite(connect, options, keyring).await
            }
            Some(other) => Err(StorageError::Connect(format!(
                "unsupported database URL scheme in `{}`",
                other.split(':').next().unwrap_or_default()
            ))),
            None => {
                if let Some(parent) = options.sqlite_path.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| StorageError::Connect(e.to_string()))?;
                }
                let connect = SqliteConnectOptions::new().filename(&options.sqlite_path);
                Self::open_sqlite(connect, options, keyring).await
            }
        }
    }

    async fn open_sqlite(
        connect: SqliteConnectOptions,
        options: &DatabaseOptions,
        keyring: Arc<Keyring>,
    ) -> Result<Store, StorageError> {
        let connect = connect
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match options.sqlite_synchronous {
                SqliteSync::Full => SqliteSynchronous::Full,
                SqliteSync::Normal => SqliteSynchronous::Normal,
            })
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // 64 MiB page cache per connection (SQLite's default is 2 MiB): the message
            // indexes take random inserts, and a small cache turns each into page reads.
            .pragma("cache_size", "-65536")
            // Freed space is zeroed, so a deleted or re-sealed row leaves no old bytes behind
            // in the file (erasure must mean the bytes are gone, not merely unlinked).
            .pragma("secure_delete", "on");
        // SQLite has one writer at a time; a few connections let readers (history, resume)
        // run beside the batched writer under WAL.
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(|e| StorageError::Connect(e.to_string()))?;
        Ok(Store {
            db: SqlxSqliteConnector::from_sqlx_sqlite_pool(pool),
            backend: Backend::Sqlite,
            keyring,
        })
    }

    /// Begin a transaction that will write. On SQLite it takes the write lock at `BEGIN`
    /// (`IMMEDIATE`), so a read-then-write transaction waits for the lock (busy timeout)
    /// instead of failing with `SQLITE_BUSY` when another process wrote in between.
    pub(crate) async fn begin_write(&self) -> Result<sea_orm::DatabaseTransaction, sea_orm::DbErr> {
        use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
        self.db
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await
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
        let mut applied = 0;
        let mut sealed = 0;
        loop {
            let pending = Migrator::get_pending_migrations(&self.db).await?;
            let Some(next) = pending.first() else {
                break;
            };
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

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), StorageError> {
        self.db.ping().await.map_err(StorageError::from)
    }

    /// Close the pool, waiting for in-flight queries.
    pub async fn close(self) -> Result<(), StorageError> {
        self.db.close().await.map_err(StorageError::from)
    }
}
