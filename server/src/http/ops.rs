//! Operations endpoints: liveness, readiness, Prometheus metrics. Unauthenticated by design
//! (they carry no user data); put `/metrics` behind the network boundary in production.

use crate::app::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use std::sync::atomic::Ordering;

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

/// `GET /metrics`: Prometheus text format.
pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    state.service.probe();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
