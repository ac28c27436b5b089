//! HTTP errors: every non-2xx answer carries `{"code","message"}` with a SPEC code. The
//! client gets the code and a safe message; the cause
//! goes to the log.

use crate::auth::AuthError;
use crate::committer::RecordError;
use crate::policy::Denied;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use workroom_protocol::{ErrorBody, ErrorCode};
use workroom_storage::StorageError;

/// An error answer of an HTTP route.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        crate::metrics::error(self.code);
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (
            status,
            Json(ErrorBody {
                code: self.code,
                message: self.message,
            }),
        )
            .into_response();
        if self.code == ErrorCode::Unauthorized {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl From<Denied> for ApiError {
    fn from(denied: Denied) -> Self {
        ApiError::new(denied.code, denied.message)
    }
}

impl From<RecordError> for ApiError {
    fn from(error: RecordError) -> Self {
        tracing::error!(error = %error, "recording an audited read failed");
        ApiError::new(
            ErrorCode::Unavailable,
            "the audit trail is unavailable; nothing was read",
        )
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        tracing::debug!(reason = %error, "token refused");
        ApiError::new(ErrorCode::Unauthorized, "missing or invalid bearer token")
    }
}

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::NotFound => ApiError::new(ErrorCode::NotFound, "not found"),
            StorageError::Conflict(message) => ApiError::new(ErrorCode::Conflict, message),
            StorageError::Invalid(message) => ApiError::new(ErrorCode::Invalid, message),
            other => {
                tracing::error!(error = %other, "storage failure");
                ApiError::new(ErrorCode::Unavailable, "storage is unavailable")
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(ErrorCode::TooLarge, "request body too large")
        } else {
            ApiError::new(ErrorCode::Invalid, rejection.body_text())
        }
    }
}
