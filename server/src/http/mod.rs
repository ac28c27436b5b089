//! The HTTP surface: one router for HTTPS routes and the WebSocket upgrade.

mod audit;
pub mod error;
pub mod extract;
mod files;
mod marketplace;
mod ops;
mod rooms;

pub use rooms::{member_view, summary};

use crate::app::AppState;
use crate::ws;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use error::ApiError;
use workroom_protocol::ErrorCode;

/// Every route, in one place (a test enumerates them).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/v1/ws"),
    ("POST", "/v1/marketplace/bids/{bid_id}/accept"),
    ("POST", "/v1/marketplace/bids/{bid_id}/end"),
    ("PUT", "/v1/marketplace/accounts/{account}/members/{user}"),
    (
        "DELETE",
        "/v1/marketplace/accounts/{account}/members/{user}",
    ),
    ("GET", "/v1/rooms"),
    ("GET", "/v1/rooms/{room}/members"),
    ("GET", "/v1/rooms/{room}/messages"),
    ("POST", "/v1/rooms/{room}/files"),
    ("GET", "/v1/rooms/{room}/files/{file}"),
    ("GET", "/v1/rooms/{room}/files/{file}/content"),
    ("POST", "/v1/rooms/{room}/files/{file}/link"),
    ("GET", "/v1/files/{file}/content"),
    ("GET", "/v1/audit"),
];

pub fn router(state: AppState) -> Router {
    let body_limit = state.config.limits.max_http_body_bytes;
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/v1/ws", get(ws::upgrade))
        .route(
            "/v1/marketplace/bids/{bid_id}/accept",
            post(marketplace::accept_bid),
        )
        .route(
            "/v1/marketplace/bids/{bid_id}/end",
            post(marketplace::end_contract),
        )
        .route(
            "/v1/marketplace/accounts/{account}/members/{user}",
            put(marketplace::put_account_member).delete(marketplace::remove_account_member),
        )
        .route("/v1/rooms", get(rooms::list_rooms))
        .route("/v1/rooms/{room}/members", get(rooms::members))
        .route("/v1/rooms/{room}/messages", get(rooms::history))
        .route("/v1/rooms/{room}/files/{file}", get(files::metadata))
        .route("/v1/rooms/{room}/files/{file}/content", get(files::content))
        .route("/v1/rooms/{room}/files/{file}/link", post(files::link))
        .route("/v1/files/{file}/content", get(files::signed_content))
        .route("/v1/audit", get(audit::list))
        .fallback(|| async { ApiError::new(ErrorCode::NotFound, "no such route") })
        .layer(DefaultBodyLimit::max(body_limit))
        // Uploads stream with their own limits (files.max_file_bytes), not the JSON limit.
        .merge(
            Router::new()
                .route("/v1/rooms/{room}/files", post(files::upload))
                .layer(DefaultBodyLimit::disable()),
        )
        .with_state(state)
}
