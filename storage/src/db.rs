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
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// SQLite has one writer at a time; a few connections let readers (history, resume) run
/// beside the batched writer under WAL.
const SQLITE_POOL_SIZE: usize = 4;

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

/// The pool's `before_acquire` hook: [`is_clean`], counting into `discarded`.
fn clean_only<C: sqlx::Connection>(
    discarded: &Arc<AtomicU64>,
) -> impl Fn(
    &mut C,
    sqlx::pool::PoolConnectionMetadata,
) -> futures_util::future::BoxFuture<'_, Result<bool, sqlx::Error>>
+ Send
+ Sync
+ 'static {
    let discarded = discarded.clone();
    move |conn, _| {
        let clean = is_clean(&*conn, &discarded);
        Box::pin(async move { Ok(clean) })
    }
}

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
    /// Pooled connections closed because they were still inside a transaction.
    discarded: Arc<AtomicU64>,
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
                let discarded = Arc::new(AtomicU64::new(0));
                let pool = PgPoolOptions::new()
                    .max_connections(options.max_connections)
                    .acquire_timeout(options.acquire_timeout)
                    .before_acquire(clean_only(&discarded))
                    .connect_with(connect)
                    .await
                    .map_err(|e| StorageError::Connect(e.to_string()))?;
                Ok(Store {
                    db: SqlxPostgresConnector::from_sqlx_postgres_pool(pool),
                    backend: Backend::Postgres,
                    keyring,
                    discarded,
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
        let discarded = Arc::new(AtomicU64::new(0));
        let pool = SqlitePoolOptions::new()
            .max_connections(SQLITE_POOL_SIZE as u32)
            .acquire_timeout(options.acquire_timeout)
            .before_acquire(clean_only(&discarded))
            .connect_with(connect)
            .await
            .map_err(|e| StorageError::Connect(e.to_string()))?;
        Ok(Store {
            db: SqlxSqliteConnector::from_sqlx_sqlite_pool(pool),
            backend: Backend::Sqlite,
            keyring,
            discarded,
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

    /// How many pooled connections were closed instead of reused because they were still
    /// inside a transaction (after a failed `COMMIT` or `ROLLBACK`).
    pub fn discarded_connections(&self) -> u64 {
        self.discarded.load(Ordering::Relaxed)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Actor;
    use crate::keyring::{MasterKey, MasterKeySet};
    use crate::{AppendOutcome, NewEvent, NewEventKind, PartyInput};
    use sea_orm::ConnectionTrait;

    async fn sqlite_store(path: &std::path::Path, keyring: Arc<Keyring>) -> Store {
        Store::open(
            &DatabaseOptions {
                url: None,
                sqlite_path: path.to_path_buf(),
                sqlite_synchronous: SqliteSync::Full,
                max_connections: 4,
                acquire_timeout: Duration::from_secs(5),
            },
            keyring,
        )
        .await
        .unwrap()
    }

    fn party(user: &str) -> PartyInput {
        PartyInput {
            user: user.into(),
            account: format!("acct-{user}"),
            name: user.into(),
            email: format!("{user}@example.com"),
        }
    }

    /// A dropped connection is returned to the pool by a spawned task; let it land, so
    /// that the next acquire reuses it instead of opening a new one.
    async fn settle() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    /// SQLite ends a transaction by itself when a write fails with `SQLITE_FULL` or an I/O
    /// error; the `ROLLBACK` the driver then sends fails, and its transaction depth stays at
    /// 1. Reused as if clean, that connection opened every later "transaction" as a
    /// savepoint: after one refused batch (`ROLLBACK TO` keeps the savepoint and the
    /// transaction open) every acknowledged commit went into an outer transaction that
    /// never committed. Here the database's own rollback is provoked directly.
    #[tokio::test]
    async fn a_connection_whose_transaction_ended_behind_its_back_is_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("workroom.db");
        let keyring = Arc::new(Keyring::new(
            MasterKeySet::new(vec![MasterKey::generate()]).unwrap(),
        ));
        let store = sqlite_store(&path, keyring.clone()).await;
        store.migrate().await.unwrap();
        let room = store
            .accept_bid(
                "b1",
                "p1",
                &party("u1"),
                &party("u2"),
                &Actor::new("svc", "service"),
            )
            .await
            .unwrap()
            .room_id;
        settle().await;

        // Every connection of the pool in turn (they are handed out in order).
        for _ in 0..SQLITE_POOL_SIZE {
            let txn = store.begin_write().await.unwrap();
            txn.execute_unprepared("ROLLBACK").await.unwrap();
            drop(txn);
            settle().await;
        }
        // A transaction that fails (a refused batch) ...
        for _ in 0..SQLITE_POOL_SIZE {
            let txn = store.begin_write().await.unwrap();
            txn.execute_unprepared("UPDATE rooms SET last_seq = last_seq")
                .await
                .unwrap();
            drop(txn);
            settle().await;
        }
        // ... and then acknowledged appends.
        for n in 1..=SQLITE_POOL_SIZE as u64 {
            let results = store
                .append_batch(&[NewEvent {
                    room_id: room.clone(),
                    sender_id: "u1".into(),
                    client_msg_id: Some(format!("c{n}")),
                    kind: NewEventKind::Message {
                        body: format!("hello {n}"),
                        attachments: Vec::new(),
                    },
                    notice: false,
                }])
                .await;
            assert!(
                matches!(&results[0], Ok(AppendOutcome::Stored(e)) if e.seq == n),
                "{results:?}"
            );
            settle().await;
        }

        assert!(store.discarded_connections() >= 1);

        // Acknowledged means committed: another connection sees it.
        let other = sqlite_store(&path, keyring).await;
        let seen = other.events_after(&room, 0, 10).await.unwrap();
        assert_eq!(
            seen.len(),
            SQLITE_POOL_SIZE,
            "acknowledged messages were not committed"
        );
    }
}
