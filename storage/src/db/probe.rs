//! Health probes on a connection of their own: whether the database answers, and whether it
//! accepts a commit right now.
//!
//! The probe keeps one plain connection, apart from the store's pool, so that it measures
//! the database rather than how busy the pool is, and it makes one connection attempt per
//! check: a refused connection fails the check at once (a pool would retry until its
//! acquire timeout). Any error drops the connection (closing it rolls back whatever it held)
//! and the next check connects again. SQLite's busy wait is half the probe's own timeout, so a
//! write lock held elsewhere fails the write probe after that long (not after the store's
//! ten seconds), and SQLite has given up before the check is abandoned. Callers bound each call with a timeout too (a database that accepts the
//! connection and never answers).

use super::DatabaseOptions;
use super::pool::Target;
use crate::clock::system_now_ms;
use crate::error::StorageError;
use sqlx::{Connection, PgConnection, SqliteConnection};
use std::time::Duration;
use tokio::sync::Mutex;

/// A database connection kept for health checks.
#[derive(Debug)]
pub struct DatabaseProbe {
    target: Target,
    timeout: Duration,
    connection: Mutex<Option<ProbeConnection>>,
}

#[derive(Debug)]
enum ProbeConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

impl DatabaseProbe {
    /// A probe of the database `options` name; each check fails after `timeout` (and SQLite
    /// waits at most that long for a lock). Connects on first use, so it can be made while
    /// the database is down.
    pub fn open(
        options: &DatabaseOptions,
        timeout: Duration,
    ) -> Result<DatabaseProbe, StorageError> {
        let target = match Target::of(options)? {
            // Half the check's timeout: SQLite gives up waiting for a lock itself, well
            // before the check is abandoned. A check abandoned while SQLite still waits would
            // leave a statement running on a dropped connection, which can go on to take the
            // write lock after nobody is left to release it.
            Target::Sqlite(connect) => Target::Sqlite(connect.busy_timeout(timeout / 2)),
            other => other,
        };
        Ok(DatabaseProbe {
            target,
            timeout,
            connection: Mutex::new(None),
        })
    }

    /// A round trip: the database answers.
    pub async fn ping(&self) -> Result<(), StorageError> {
        let mut slot = self.connection.lock().await;
        let result = within(self.timeout, async {
            match connected(&self.target, &mut slot).await? {
                ProbeConnection::Postgres(conn) => conn.ping().await,
                ProbeConnection::Sqlite(conn) => conn.ping().await,
            }
        })
        .await;
        settle(&mut slot, self.timeout, result)
    }

    /// Write a row and remove it in one transaction, and commit: the database accepts
    /// commits now (a full disk or a read-only database refuses this one too). Nothing stays
    /// behind.
    pub async fn write(&self) -> Result<(), StorageError> {
        let id = uuid::Uuid::now_v7().simple().to_string();
        let at = system_now_ms();
        let mut slot = self.connection.lock().await;
        let result = within(self.timeout, async {
            match connected(&self.target, &mut slot).await? {
                ProbeConnection::Postgres(conn) => {
                    let mut txn = conn.begin().await?;
                    sqlx::query("INSERT INTO write_probes (id, written_at) VALUES ($1, $2)")
                        .bind(&id)
                        .bind(at)
                        .execute(&mut *txn)
                        .await?;
                    sqlx::query("DELETE FROM write_probes WHERE id = $1")
                        .bind(&id)
                        .execute(&mut *txn)
                        .await?;
                    txn.commit().await
                }
                ProbeConnection::Sqlite(conn) => {
                    let mut txn = conn.begin_with("BEGIN IMMEDIATE").await?;
                    sqlx::query("INSERT INTO write_probes (id, written_at) VALUES (?, ?)")
                        .bind(&id)
                        .bind(at)
                        .execute(&mut *txn)
                        .await?;
                    sqlx::query("DELETE FROM write_probes WHERE id = ?")
                        .bind(&id)
                        .execute(&mut *txn)
                        .await?;
                    txn.commit().await
                }
            }
        })
        .await;
        settle(&mut slot, self.timeout, result)
    }

    /// Close the probe's connection.
    pub async fn close(&self) {
        match self.connection.lock().await.take() {
            Some(ProbeConnection::Postgres(conn)) => conn.close().await.ok(),
            Some(ProbeConnection::Sqlite(conn)) => conn.close().await.ok(),
            None => None,
        };
    }
}

/// The probe's connection, connecting (one attempt) when there is none.
async fn connected<'a>(
    target: &Target,
    slot: &'a mut Option<ProbeConnection>,
) -> Result<&'a mut ProbeConnection, sqlx::Error> {
    if let Some(connection) = slot {
        return Ok(connection);
    }
    let connection = match target {
        Target::Postgres(connect) => {
            ProbeConnection::Postgres(PgConnection::connect_with(connect).await?)
        }
        Target::Sqlite(connect) => {
            ProbeConnection::Sqlite(SqliteConnection::connect_with(connect).await?)
        }
    };
    Ok(slot.insert(connection))
}

/// `check`, or `None` after `limit` (a database that accepted the connection and never
/// answers, or is only slow to).
async fn within(
    limit: Duration,
    check: impl Future<Output = Result<(), sqlx::Error>>,
) -> Option<Result<(), sqlx::Error>> {
    tokio::time::timeout(limit, check).await.ok()
}

/// Keep the connection after a success; drop it after a failure or a timeout, so the next
/// check starts on a fresh one (never inside a transaction that failed or stopped halfway).
fn settle(
    slot: &mut Option<ProbeConnection>,
    limit: Duration,
    result: Option<Result<(), sqlx::Error>>,
) -> Result<(), StorageError> {
    let error = match result {
        Some(Ok(())) => return Ok(()),
        Some(Err(e)) => StorageError::Probe(e.to_string()),
        None => StorageError::ProbeTimedOut(limit),
    };
    *slot = None;
    Err(error)
}
