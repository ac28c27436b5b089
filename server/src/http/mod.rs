//! The HTTP surface: one router for HTTPS routes and the WebSocket upgrade.

mod audit;
mod connection_log;
mod contacts;
pub mod error;
pub mod extract;
mod fail_fast;
mod files;
mod marketplace;
mod moderation;
mod ops;
mod policy_guard;
mod refused_upload;
mod reports;
mod rooms;
mod screenshots;
mod tracker;
mod validate;

pub use rooms::{member_view, summary};

use crate::app::AppState;
use crate::ws;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
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
    ("GET", "/v1/rooms/{room}/grants"),
    ("POST", "/v1/rooms/{room}/reports"),
    ("GET", "/v1/reports"),
    ("PUT", "/v1/me/contact"),
    ("GET", "/v1/me/contact"),
    ("POST", "/v1/rooms/{room}/contacts/release"),
    ("GET", "/v1/rooms/{room}/contacts"),
    ("PUT", "/v1/me/work-view"),
    ("GET", "/v1/me/work-view"),
    ("DELETE", "/v1/me/bots/{jti}"),
    ("POST", "/v1/tracker/screenshots"),
    ("GET", "/v1/rooms/{room}/screenshots"),
    ("GET", "/v1/rooms/{room}/screenshots/{shot}/content"),
    ("POST", "/v1/rooms/{room}/screenshots/{shot}/link"),
    ("POST", "/v1/rooms/{room}/screenshots/{shot}/unshare"),
    ("POST", "/v1/rooms/{room}/screenshots/{shot}/share"),
    ("GET", "/v1/marketplace/rooms/{room}/screenshots"),
    (
        "GET",
        "/v1/marketplace/rooms/{room}/screenshots/{shot}/content",
    ),
    ("POST", "/v1/moderation/grants"),
    ("GET", "/v1/moderation/grants"),
    ("GET", "/v1/moderation/grants/{grant}"),
    ("POST", "/v1/moderation/grants/{grant}/approve"),
    ("POST", "/v1/moderation/grants/{grant}/revoke"),
    ("GET", "/v1/moderation/grants/{grant}/messages"),
    ("GET", "/v1/moderation/grants/{grant}/files/{file}/content"),
    ("POST", "/v1/moderation/grants/{grant}/connections"),
    ("POST", "/v1/moderation/grants/{grant}/notices"),
    ("GET", "/v1/moderation/reports"),
    ("GET", "/v1/moderation/reports/{report}"),
    (
        "GET",
        "/v1/moderation/reports/{report}/files/{file}/content",
    ),
    ("POST", "/v1/moderation/reports/{report}/close"),
    ("GET", "/v1/audit"),
];

pub fn router(state: AppState) -> Router {
    let body_limit = state.config.limits.max_http_body_bytes;
    let max_file = state.config.files.max_file_bytes;
    let max_screenshot = state.config.tracker.max_screenshot_bytes;
    // Inside the upload routes' draining layer, so a refused upload still gets its answer.
    let fail_fast_layer =
        axum::middleware::from_fn_with_state(state.clone(), fail_fast::while_database_down);
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
        .route("/v1/rooms/{room}/grants", get(rooms::ended_grants))
        .route("/v1/rooms/{room}/reports", post(reports::file_report))
        .route("/v1/reports", get(reports::own_reports))
        .route(
            "/v1/me/contact",
            put(contacts::put_own).get(contacts::get_own),
        )
        .route("/v1/rooms/{room}/contacts/release", post(contacts::release))
        .route("/v1/rooms/{room}/contacts", get(contacts::released))
        .route(
            "/v1/me/work-view",
            put(tracker::put_work_view).get(tracker::get_work_view),
        )
        .route("/v1/me/bots/{jti}", delete(tracker::revoke_bot))
        .route("/v1/rooms/{room}/screenshots", get(screenshots::list))
        .route(
            "/v1/rooms/{room}/screenshots/{shot}/content",
            get(screenshots::content),
        )
        .route(
            "/v1/rooms/{room}/screenshots/{shot}/link",
            post(screenshots::link),
        )
        .route(
            "/v1/rooms/{room}/screenshots/{shot}/share",
            post(screenshots::share),
        )
        .route(
            "/v1/rooms/{room}/screenshots/{shot}/unshare",
            post(screenshots::unshare),
        )
        .route(
            "/v1/marketplace/rooms/{room}/screenshots",
            get(screenshots::review),
        )
        .route(
            "/v1/marketplace/rooms/{room}/screenshots/{shot}/content",
            get(screenshots::review_content),
        )
        .route(
            "/v1/moderation/grants",
            post(moderation::open_grant).get(moderation::list_grants),
        )
        .route("/v1/moderation/grants/{grant}", get(moderation::get_grant))
        .route(
            "/v1/moderation/grants/{grant}/approve",
            post(moderation::approve_grant),
        )
        .route(
            "/v1/moderation/grants/{grant}/revoke",
            post(moderation::revoke_grant),
        )
        .route(
            "/v1/moderation/grants/{grant}/messages",
            get(moderation::grant_history),
        )
        .route(
            "/v1/moderation/grants/{grant}/files/{file}/content",
            get(moderation::grant_file),
        )
        .route(
            "/v1/moderation/grants/{grant}/connections",
            post(moderation::grant_connections),
        )
        .route(
            "/v1/moderation/grants/{grant}/notices",
            post(moderation::post_notice),
        )
        .route("/v1/moderation/reports", get(reports::list_reports))
        .route("/v1/moderation/reports/{report}", get(reports::read_report))
        .route(
            "/v1/moderation/reports/{report}/files/{file}/content",
            get(reports::read_reported_file),
        )
        .route(
            "/v1/moderation/reports/{report}/close",
            post(reports::close_report),
        )
        .route("/v1/audit", get(audit::list))
        .fallback(|| async { ApiError::new(ErrorCode::NotFound, "no such route") })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(fail_fast_layer.clone())
        // Uploads stream with their own limits (files.max_file_bytes), not the JSON limit.
        .merge(
            Router::new()
                .route(
                    "/v1/rooms/{room}/files",
                    post(files::upload).layer(fail_fast_layer.clone()).layer(
                        axum::middleware::from_fn(move |r, n| {
                            refused_upload::drain_refused(max_file, r, n)
                        }),
                    ),
                )
                .route(
                    "/v1/tracker/screenshots",
                    post(screenshots::post).layer(fail_fast_layer).layer(
                        axum::middleware::from_fn(move |r, n| {
                            refused_upload::drain_refused(max_screenshot, r, n)
                        }),
                    ),
                )
                .layer(DefaultBodyLimit::disable()),
        )
        // Outermost last: every request is recorded in the connection log and runs inside
        // the policy guard.
        .layer(axum::middleware::from_fn(policy_guard::http))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            connection_log::record,
        ))
        .with_state(state)
}
