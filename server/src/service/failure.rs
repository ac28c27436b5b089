//! The one error of the service layer: a SPEC wire code and a message safe to show the
//! caller. Causes that are not the caller's business (a storage fault, a damaged file) go
//! to the log here, once, where they are turned into a failure; the transports only put
//! the code and message on the wire (an HTTP status and body, or an `error` frame).

use crate::auth::AuthError;
use crate::committer::RecordError;
use crate::policy::Denied;
use std::borrow::Cow;
use workroom_protocol::ErrorCode;
use workroom_storage::{
    AppendError, FileError, GrantChangeError, ReleaseError, ReportError, StorageError,
};

/// A refused or failed operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct Failure {
    pub code: ErrorCode,
    pub message: Cow<'static, str>,
    /// With `rate_limited`: milliseconds until a retry would be accepted (`Retry-After`
    /// over HTTP, `retry_after_ms` in an `error` frame).
    pub retry_after_ms: Option<u64>,
}

impl Failure {
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Failure {
            code,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    /// A rate limit refused the request; it may be retried in `retry_after_ms`.
    pub fn rate_limited(retry_after_ms: u64, message: impl Into<Cow<'static, str>>) -> Self {
        Failure {
            code: ErrorCode::RateLimited,
            message: message.into(),
            retry_after_ms: Some(retry_after_ms),
        }
    }

    pub fn not_found(message: &'static str) -> Self {
        Failure::new(ErrorCode::NotFound, message)
    }

    pub fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        Failure::new(ErrorCode::Invalid, message)
    }
}

impl From<Denied> for Failure {
    fn from(denied: Denied) -> Self {
        Failure::new(denied.code, denied.message)
    }
}

impl From<RecordError> for Failure {
    fn from(error: RecordError) -> Self {
        tracing::error!(error = %error, "recording an audited read failed");
        Failure::new(
            ErrorCode::Unavailable,
            "the audit trail is unavailable; nothing was read",
        )
    }
}

impl From<AuthError> for Failure {
    fn from(error: AuthError) -> Self {
        tracing::debug!(reason = %error, "token refused");
        Failure::new(ErrorCode::Unauthorized, "missing or invalid bearer token")
    }
}

impl From<StorageError> for Failure {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::NotFound => Failure::not_found("not found"),
            StorageError::Conflict(message) => Failure::new(ErrorCode::Conflict, message),
            StorageError::Invalid(message) => Failure::invalid(message),
            other => {
                tracing::error!(error = %other, "storage failure");
                Failure::new(ErrorCode::Unavailable, "storage is unavailable")
            }
        }
    }
}

impl From<FileError> for Failure {
    fn from(error: FileError) -> Self {
        match error {
            FileError::TooLarge { limit } => Failure::new(
                ErrorCode::TooLarge,
                format!("the file is larger than the limit of {limit} bytes"),
            ),
            FileError::QuotaExceeded { quota } => Failure::new(
                ErrorCode::TooLarge,
                format!("the workroom's file quota of {quota} bytes would be exceeded"),
            ),
            FileError::NotFound => Failure::not_found("no such file"),
            FileError::Erased => Failure::not_found("the file was erased"),
            FileError::ContentMissing => {
                tracing::error!("a file row points at a missing object");
                Failure::new(
                    ErrorCode::Internal,
                    "the file's content is missing from the object store",
                )
            }
            FileError::Damaged => {
                tracing::error!("a file failed its integrity check");
                Failure::new(ErrorCode::Internal, "the file's content is damaged")
            }
            FileError::Unavailable(cause) => {
                tracing::warn!(%cause, "object store unavailable");
                Failure::new(ErrorCode::Unavailable, "file storage is unavailable")
            }
            FileError::Storage(e) => e.into(),
        }
    }
}

impl From<ReportError> for Failure {
    fn from(error: ReportError) -> Self {
        match error {
            ReportError::UnknownMessage(id) => {
                Failure::invalid(format!("messages: no message {id} in this workroom"))
            }
            ReportError::NotFound => Failure::not_found("no such report"),
            ReportError::Closed => Failure::new(ErrorCode::Conflict, "the report is closed"),
            ReportError::Storage(e) => e.into(),
        }
    }
}

impl From<GrantChangeError> for Failure {
    fn from(error: GrantChangeError) -> Self {
        match error {
            GrantChangeError::NotFound => Failure::not_found("no such grant"),
            GrantChangeError::WrongState(state) => Failure::new(
                ErrorCode::Conflict,
                format!("the grant is {}", state.as_str()),
            ),
            GrantChangeError::Storage(e) => e.into(),
        }
    }
}

impl From<ReleaseError> for Failure {
    fn from(error: ReleaseError) -> Self {
        match error {
            ReleaseError::NoDetails => Failure::new(
                ErrorCode::Conflict,
                "you have no contact details on file: PUT /v1/me/contact first; nothing was released",
            ),
            ReleaseError::Storage(e) => e.into(),
        }
    }
}

/// A refused append: one table for every path that commits events.
impl From<AppendError> for Failure {
    fn from(error: AppendError) -> Self {
        match error {
            AppendError::BadAttachment(reason) => Failure::invalid(format!("attachment {reason}")),
            AppendError::RoomNotFound => Failure::not_found("no such room"),
            AppendError::RoomClosed => Failure::new(
                ErrorCode::Conflict,
                "the contract ended; this workroom is read-only",
            ),
            AppendError::RoomErased => {
                Failure::new(ErrorCode::Conflict, "this workroom's content was erased")
            }
            AppendError::TargetNotFound => Failure::not_found("no message with that seq"),
            AppendError::NotAuthor => {
                Failure::new(ErrorCode::Forbidden, "only the author may change a message")
            }
            AppendError::TargetDeleted => {
                Failure::new(ErrorCode::Conflict, "the message was deleted")
            }
            // An outage is logged once by the committer's health report, not per reply.
            AppendError::Unavailable(_) => Failure::new(
                ErrorCode::Unavailable,
                "storage is unavailable; retry with the same client_msg_id",
            ),
            AppendError::Storage(cause) => {
                tracing::error!(%cause, "commit failed");
                Failure::new(
                    ErrorCode::Unavailable,
                    "storage is unavailable; retry with the same client_msg_id",
                )
            }
        }
    }
}
