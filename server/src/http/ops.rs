//! Operations endpoints: liveness, readiness, Prometheus metrics. Unauthenticated by design
//! (they carry no user data); put `/metrics` behind the network boundary in production, or
//! on its own private listener (`metrics_listen`), which takes it off the public one.

use super::error::ApiError;
use crate::app::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use std::sync::atomic::Ordering;
use workroom_protocol::ErrorCode;

/// `GET /healthz`: the process is up.
pub(crate) async fn healthz(State(state): State<AppState>) -> &'static str {
    state.service.probe();
    "ok"
}

/// `GET /readyz`: 200 when the server is not draining and the database answers and accepts
/// writes, else 503; the body names each dependency's state. Read from the background
/// checks (`health`), so it answers at once whatever the dependencies are doing.
pub(crate) async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    state.service.probe();
    let readiness = state
        .health
        .readiness(state.draining.load(Ordering::Relaxed));
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        axum::Json(readiness),
    )
}

/// `GET /metrics` on the public listener: Prometheus text format, or `404` as for an
/// unknown route when the metrics have a private listener of their own (`metrics_listen`).
pub(crate) async fn metrics(State(state): State<AppState>) -> axum::response::Response {
    if state.config.metrics_listen.is_some() {
        return ApiError::new(ErrorCode::NotFound, "no such route").into_response();
    }
    private_metrics(State(state)).await.into_response()
}

/// `GET /metrics` on the private listener (`metrics_listen`): Prometheus text format.
pub(crate) async fn private_metrics(State(state): State<AppState>) -> impl IntoResponse {
    state.service.probe();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
