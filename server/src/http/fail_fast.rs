//! While the health check has the database down, API requests are refused at once with
//! `503 unavailable` "storage is unavailable", instead of each waiting out the pool's
//! acquire timeout (`database.acquire_timeout_ms`) to fail the same way. Every `/v1` route
//! needs the database; the probes (`/healthz`, `/readyz`, `/metrics`) do not and are left
//! alone.

use super::error::ApiError;
use crate::app::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use workroom_protocol::ErrorCode;

pub(crate) async fn while_database_down(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if !state.health.database_up() && request.uri().path().starts_with("/v1/") {
        return ApiError::new(ErrorCode::Unavailable, "storage is unavailable").into_response();
    }
    next.run(request).await
}
