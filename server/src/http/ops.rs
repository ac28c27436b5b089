//! Operations endpoints: liveness, readiness, Prometheus metrics. Unauthenticated by design
//! (they carry no user data); put `/metrics` behind the network boundary in production.

use crate::app::AppState;
use crate::policy::{self, Act, Caller, Resource};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use std::sync::atomic::Ordering;
use workroom_protocol::Purpose;

/// Probes carry no user data: the policy allows them to anyone, for operations.
fn probe() {
    let _ = policy::decide(
        Caller::Anonymous,
        Act::Probe,
        Purpose::Operations,
        Resource::Nothing,
    );
}

/// `GET /healthz`: the process is up.
pub(super) async fn healthz() -> &'static str {
    probe();
    "ok"
}

/// `GET /readyz`: the database answers and the server is not draining.
pub(super) async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    probe();
    if state.draining.load(Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining");
    }
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

/// `GET /metrics`: Prometheus text format.
pub(super) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    probe();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
