//! Storage errors. The server maps them to wire codes; the cause chain goes to the log.

use sea_orm::DbErr;

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
    /// A health probe's connection or write failed.
    #[error("database probe: {0}")]
    Probe(String),
}

impl StorageError {
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
