//! The lock that lets only one process apply migrations at a time on PostgreSQL, so that
//! replicas starting together (or a release-step `workroom migrate` beside a starting node)
//! cannot race: two processes that both saw a migration pending would both run its DDL and
//! both insert its record. sea-orm-migration takes no lock of its own.
//!
//! The lock is a session-level advisory lock (`pg_advisory_lock`) taken on one connection
//! detached from the store's pool, held while the migrations run on the pool, and released
//! by `pg_advisory_unlock` before that connection is closed. Detached, the connection never
//! goes back to the pool still holding the lock: if the migrating future is dropped or the
//! process dies, the connection closes and PostgreSQL releases the lock with the session.
//!
//! SQLite takes none: it serves one node (SPEC C15), whose start-up migrates before it
//! serves; two processes migrating one SQLite file at the same instant are not supported.

use crate::error::StorageError;
use sea_orm::DatabaseConnection;
use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// Key of the advisory lock; any constant distinct from the other advisory locks
/// (`audit::APPEND_LOCK`). ASCII "WRMIGRAT".
pub(crate) const MIGRATION_LOCK: i64 = 0x5752_4d49_4752_4154;

/// The held lock: the connection that holds it.
pub(crate) struct MigrationLock {
    conn: PgConnection,
}

impl MigrationLock {
    /// Take the lock, waiting for a process that holds it to finish.
    pub(crate) async fn acquire(db: &DatabaseConnection) -> Result<MigrationLock, StorageError> {
        let pool = db.get_postgres_connection_pool();
        let mut conn = pool.acquire().await.map_err(connect_error)?.detach();
        let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(MIGRATION_LOCK)
            .fetch_one(&mut conn)
            .await
            .map_err(lock_error)?;
        if !taken {
            tracing::info!("another process is applying migrations; waiting for it to finish");
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(MIGRATION_LOCK)
                .execute(&mut conn)
                .await
                .map_err(lock_error)?;
        }
        Ok(MigrationLock { conn })
    }

    /// Release the lock and close its connection. Closing alone would release it too (the
    /// session ends); the explicit unlock says so at once rather than when the server
    /// notices the socket closed.
    pub(crate) async fn release(mut self) -> Result<(), StorageError> {
        let unlocked = sqlx::query_scalar::<_, bool>("SELECT pg_advisory_unlock($1)")
            .bind(MIGRATION_LOCK)
            .fetch_one(&mut self.conn)
            .await
            .map_err(lock_error);
        let closed = self.conn.close().await.map_err(lock_error);
        unlocked?;
        closed
    }
}

fn connect_error(e: sqlx::Error) -> StorageError {
    StorageError::Connect(format!("a connection for the migration lock: {e}"))
}

fn lock_error(e: sqlx::Error) -> StorageError {
    StorageError::Db(sea_orm::DbErr::Custom(format!("the migration lock: {e}")))
}
