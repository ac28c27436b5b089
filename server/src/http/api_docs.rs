//! `GET /v1/openapi.json` and `GET /v1/schemas/frames.json`: the machine-readable API
//! (`crate::api_docs`), generated once from the code and served from memory. No token.

use crate::app::AppState;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;

/// Plain JSON for both (tools fetch them as such), revalidated so a new binary's
/// description is picked up at once.
const JSON: &str = "application/json";
const CACHE: &str = "no-cache";

/// `GET /v1/openapi.json`: the OpenAPI 3.1 document of every HTTP route.
pub(crate) async fn openapi(State(state): State<AppState>) -> impl IntoResponse {
    state.service.describe_api();
    (
        [(CONTENT_TYPE, JSON), (CACHE_CONTROL, CACHE)],
        crate::api_docs::served().openapi.as_str(),
    )
}

/// `GET /v1/schemas/frames.json`: the JSON Schema of every WebSocket frame.
pub(crate) async fn frames(State(state): State<AppState>) -> impl IntoResponse {
    state.service.describe_api();
    (
        [(CONTENT_TYPE, JSON), (CACHE_CONTROL, CACHE)],
        crate::api_docs::served().frames.as_str(),
    )
}
