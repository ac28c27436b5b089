//! The closed set of error codes from SPEC "Protocol essentials". The code is the contract;
//! the message is for humans and never carries internals (those go to the log).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Every error a client can see, on the WebSocket (`error` frames) and over HTTP (bodies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No valid credentials: missing, expired, wrongly signed or wrong-audience token.
    Unauthorized,
    /// Authenticated, but the role or account role does not allow the act.
    Forbidden,
    /// The resource does not exist, or the caller may not know that it exists.
    NotFound,
    /// The request is malformed: bad JSON, unknown type, missing or mistyped field.
    Invalid,
    /// A body or upload over its configured limit.
    TooLarge,
    /// Too many requests; retry later.
    RateLimited,
    /// The request conflicts with the resource's state (e.g. sending into a closed room).
    Conflict,
    /// A dependency (database, object store) is down or the server is draining.
    Unavailable,
    /// A bug or an unexpected failure; details are in the server log only.
    Internal,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::Invalid,
        ErrorCode::TooLarge,
        ErrorCode::RateLimited,
        ErrorCode::Conflict,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];

    /// The wire spelling, also used as the `code` label in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Invalid => "invalid",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }

    /// The HTTP status that goes with the code on HTTP routes.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::Invalid => 400,
            ErrorCode::TooLarge => 413,
            ErrorCode::RateLimited => 429,
            ErrorCode::Conflict => 409,
            ErrorCode::Unavailable => 503,
            ErrorCode::Internal => 500,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every non-2xx HTTP response: `{"code":"…","message":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
}
