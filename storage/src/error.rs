//! Storage errors. The server maps them to wire codes; the cause chain goes to the log.

use sea_orm::{DbErr, RuntimeErr};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    #[error("could not open the database: {0}")]
    Connect(String),
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("invalid: {0}")]
    Invalid(String),
    /// The data key was destroyed: the room or person is erased.
    #[error("erased")]
    Erased,
    /// Master or data key trouble (a missing master key, a key that fails to unwrap).
    #[error("keyring: {0}")]
    Keyring(String),
    /// The object store failed (a purge deleting stored files).
    #[error("object store: {0}")]
    Blob(String),
    /// A health probe's connection or write failed.
    #[error("database probe: {0}")]
    Probe(String),
    /// A health probe got no answer in time: the database may be down or only slow (a
    /// checkpoint, a burst of load), which one check cannot tell apart.
    #[error("database probe: no answer within {} ms", .0.as_millis())]
    ProbeTimedOut(std::time::Duration),
}

impl StorageError {
    /// True when the database could not do the work at all: it is unreachable, out of disk
    /// or I/O, refusing writes, or no connection came in time. False when it refused this
    /// particular work (a constraint, a conflict, a missing row). Health checks and
    /// readiness care about the first kind only.
    pub fn is_outage(&self) -> bool {
        match self {
            StorageError::Connect(_) | StorageError::Probe(_) | StorageError::ProbeTimedOut(_) => {
                true
            }
            StorageError::Db(e) => db_outage(e),
            _ => false,
        }
    }

    /// True when the error is a unique-constraint violation: another writer (possibly another
    /// process) got there first, and the operation should be retried or resolved by reading.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StorageError::Db(e) => is_unique_violation(e),
            _ => false,
        }
    }
}

pub(crate) fn is_unique_violation(err: &DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

fn db_outage(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            sqlx_outage(e)
        }
        _ => false,
    }
}

fn sqlx_outage(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => match db.code() {
            Some(code) if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() => {
                code.parse().is_ok_and(sqlite_outage)
            }
            Some(code) => postgres_outage(&code),
            None => false,
        },
        _ => false,
    }
}

/// SQLite primary result codes (the low byte of an extended code): BUSY 5, LOCKED 6,
/// NOMEM 7, READONLY 8, IOERR 10, CORRUPT 11, FULL 13, CANTOPEN 14, PROTOCOL 15, NOTADB 26.
fn sqlite_outage(extended: i32) -> bool {
    matches!(extended & 0xff, 5..=8 | 10 | 11 | 13..=15 | 26)
}

/// PostgreSQL SQLSTATE classes: 08 connection exception, 53 insufficient resources (disk
/// full, out of memory, too many connections), 57 operator intervention (shutdown), 58
/// system error (I/O), XX internal error.
fn postgres_outage(sqlstate: &str) -> bool {
    matches!(sqlstate.get(..2), Some("08" | "53" | "57" | "58" | "XX"))
}

#[cfg(test)]
mod tests {
    use super::{postgres_outage, sqlite_outage};

    #[test]
    fn outages_are_told_apart_from_refusals_of_the_work() {
        // SQLITE_FULL, SQLITE_IOERR, SQLITE_IOERR_WRITE, SQLITE_BUSY, SQLITE_READONLY.
        for code in [13, 10, 778, 5, 8] {
            assert!(sqlite_outage(code), "{code}");
        }
        // SQLITE_CONSTRAINT, its unique flavour, SQLITE_ERROR.
        for code in [19, 2067, 1] {
            assert!(!sqlite_outage(code), "{code}");
        }
        for code in ["08006", "53100", "57P01", "58030"] {
            assert!(postgres_outage(code), "{code}");
        }
        for code in ["23505", "40001", "40P01", "22001"] {
            assert!(!postgres_outage(code), "{code}");
        }
    }
}
