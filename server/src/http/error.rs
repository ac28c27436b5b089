//! HTTP errors: every non-2xx answer carries `{"code","message"}` with a SPEC code. A
//! route's error is the service's [`Failure`] (the cause, if any, was logged where it was
//! made); here it becomes the status and body, and axum's own rejections become failures.

use crate::service::Failure;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use workroom_protocol::{ErrorBody, ErrorCode};

/// An error answer of an HTTP route.
pub type ApiError = Failure;

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        crate::metrics::error(self.code);
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (
            status,
            Json(ErrorBody {
                code: self.code,
                message: self.message.into_owned(),
            }),
        )
            .into_response();
        if let Some(ms) = self.retry_after_ms {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(ms.div_ceil(1000)),
            );
        }
        if self.code == ErrorCode::Unauthorized {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl From<JsonRejection> for Failure {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Failure::new(ErrorCode::TooLarge, "request body too large")
        } else {
            Failure::invalid(rejection.body_text())
        }
    }
}
