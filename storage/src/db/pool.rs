//! The store's connection pool: where the database is, how a connection is set up, and the
//! rule that a connection is handed out only when it is outside any transaction. The health
//! probe (`probe.rs`) connects to the same [`Target`] on a connection of its own.

use super::{DatabaseOptions, SqliteSync};
use crate::error::StorageError;
use sea_orm::{DatabaseConnection, SqlxPostgresConnector, SqlxSqliteConnector};
use sqlx::pool::PoolConnectionMetadata;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// SQLite has one writer at a time; a few connections let readers (history, resume) run
/// beside the batched writer under WAL.
pub(crate) const SQLITE_POOL_SIZE: usize = 4;

/// How long a SQLite connection of the store waits for the write lock another connection
/// or process holds before failing with "database is locked". Also how long a write waits
/// for the store's one writer connection (`Store::open`): the same wait, queued in the pool
/// instead of in SQLite's lock.
pub(crate) const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the database is, as the driver's connect options.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    Postgres(PgConnectOptions),
    Sqlite(SqliteConnectOptions),
}

impl Target {
    /// Parse the URL (or take the SQLite path, creating its directory).
    pub(crate) fn of(options: &DatabaseOptions) -> Result<Target, StorageError> {
        let connect_error = |e: &dyn std::fmt::Display| StorageError::Connect(e.to_string());
        match options.url.as_deref() {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let connect = PgConnectOptions::from_str(url).map_err(|e| connect_error(&e))?;
                Ok(Target::Postgres(connect))
            }
            Some(url) if url.starts_with("sqlite:") => {
                let connect = SqliteConnectOptions::from_str(url).map_err(|e| connect_error(&e))?;
                Ok(Target::Sqlite(sqlite_setup(
                    connect,
                    options.sqlite_synchronous,
                )))
            }
            Some(other) => Err(StorageError::Connect(format!(
                "unsupported database URL scheme in `{}`",
                other.split(':').next().unwrap_or_default()
            ))),
            None => {
                if let Some(parent) = options.sqlite_path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| connect_error(&e))?;
                }
                let connect = SqliteConnectOptions::new().filename(&options.sqlite_path);
                Ok(Target::Sqlite(sqlite_setup(
                    connect,
                    options.sqlite_synchronous,
                )))
            }
        }
    }
}

/// Every SQLite connection: WAL, the configured durability, foreign keys, secure delete.
fn sqlite_setup(connect: SqliteConnectOptions, sync: SqliteSync) -> SqliteConnectOptions {
    connect
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(match sync {
            SqliteSync::Full => SqliteSynchronous::Full,
            SqliteSync::Normal => SqliteSynchronous::Normal,
        })
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        // 64 MiB page cache per connection (SQLite's default is 2 MiB): the message
        // indexes take random inserts, and a small cache turns each into page reads.
        .pragma("cache_size", "-65536")
        // Freed space is zeroed, so a deleted or re-sealed row leaves no old bytes behind
        // in the file (erasure must mean the bytes are gone, not merely unlinked).
        .pragma("secure_delete", "on")
}

/// The store's pool on `target`: at most `max_connections`, each wait for one bounded by
/// `acquire_timeout`, connected now (so a database that is down fails the start), handing
/// out only clean connections; `discarded` counts those refused by [`is_clean`].
pub(crate) async fn build(
    target: &Target,
    max_connections: u32,
    acquire_timeout: Duration,
    discarded: &Arc<AtomicU64>,
) -> Result<DatabaseConnection, StorageError> {
    let failed = |e: sqlx::Error| StorageError::Connect(e.to_string());
    match target {
        Target::Postgres(connect) => {
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(acquire_timeout)
                .before_acquire(clean_only(discarded))
                .connect_with(connect.clone())
                .await
                .map_err(failed)?;
            Ok(SqlxPostgresConnector::from_sqlx_postgres_pool(pool))
        }
        Target::Sqlite(connect) => {
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(acquire_timeout)
                .before_acquire(clean_only(discarded))
                .connect_with(connect.clone())
                .await
                .map_err(failed)?;
            Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
        }
    }
}

/// Whether a pooled connection may be handed out again: only when the driver knows it to be
/// outside any transaction.
///
/// This is the durability fix for a full disk. SQLite ends a transaction by itself when a
/// write or a `COMMIT` fails with `SQLITE_FULL` or an I/O error; the `ROLLBACK` the driver
/// then sends fails ("no transaction is active"), so the driver's transaction depth stays
/// above zero. Reused as if clean, such a connection opened every later transaction as a
/// `SAVEPOINT`, whose `RELEASE` commits nothing while an outer transaction is open, and one
/// refused batch (`ROLLBACK TO` keeps the savepoint and so the transaction) left it holding
/// the write lock: later batches on it were acknowledged without ever being committed, and
/// the other connections saw "database is locked". The same holds for any backend whose
/// `COMMIT` or `ROLLBACK` fails. The hook runs after the pool's liveness ping, which also
/// flushes a rollback queued by a dropped transaction; a connection that is still inside one
/// is closed (closing rolls back whatever it held) and a fresh one takes its place.
fn is_clean<C: sqlx::Connection>(conn: &C, discarded: &AtomicU64) -> bool {
    if conn.is_in_transaction() {
        tracing::error!(
            "a database connection is still inside a transaction after a failed COMMIT or \
             ROLLBACK; closing it instead of reusing it"
        );
        discarded.fetch_add(1, Ordering::Relaxed);
        false
    } else {
        true
    }
}

/// The pools' `before_acquire` hook: [`is_clean`], counting into `discarded`.
fn clean_only<C: sqlx::Connection>(
    discarded: &Arc<AtomicU64>,
) -> impl for<'c> Fn(
    &'c mut C,
    PoolConnectionMetadata,
) -> futures_util::future::BoxFuture<'c, Result<bool, sqlx::Error>>
+ Send
+ Sync
+ 'static {
    let discarded = discarded.clone();
    move |conn, _| {
        let clean = is_clean(&*conn, &discarded);
        Box::pin(async move { Ok(clean) })
    }
}
