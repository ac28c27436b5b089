//! Every route, in one table: the router is built from it and the every-route policy test
//! walks [`ROUTES`], which the same table makes, so a route cannot be served without being
//! tested or listed without being served. Then the layers every request passes, outermost
//! last: the connection log, the security headers and the policy guard around everything,
//! the fail-fast check and body limits inside.
//!
//! This module sits above both transports (the WebSocket upgrade is one of the routes),
//! so neither `http` nor `ws` imports the other.

use crate::app::AppState;
use crate::http::error::ApiError;
use crate::http::{
    analytics, api_docs, audit, connection_log, contacts, fail_fast, files, legal, lifecycle,
    marketplace, moderation, ops, policy_guard, refused_upload, reports, rooms, screenshots,
    security_headers, sign_in, tracker, web,
};
use crate::ws;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use workroom_protocol::ErrorCode;

/// `GET` → `axum::routing::get` (which answers `HEAD` too), and so on.
macro_rules! method {
    (GET, $handler:expr) => {
        axum::routing::get($handler)
    };
    (POST, $handler:expr) => {
        axum::routing::post($handler)
    };
    (PUT, $handler:expr) => {
        axum::routing::put($handler)
    };
    (DELETE, $handler:expr) => {
        axum::routing::delete($handler)
    };
}

/// The table: [`ROUTES`], the routes with JSON-sized bodies, and the upload routes, which
/// stream their bodies under a limit of their own (read from the config).
macro_rules! route_table {
    (
        routes { $($method:ident $path:literal => $handler:path,)* }
        uploads { $($up_method:ident $up_path:literal => $up_handler:path, max $max:expr,)* }
    ) => {
        /// Every route: method and path template.
        pub const ROUTES: &[(&str, &str)] = &[
            $((stringify!($method), $path),)*
            $((stringify!($up_method), $up_path),)*
        ];

        fn routes() -> Router<AppState> {
            Router::new()
                $(.route($path, method!($method, $handler)))*
        }

        /// The upload routes, each inside `fail_fast` and then its draining layer.
        fn upload_routes(state: &AppState) -> Router<AppState> {
            let config = &state.config;
            let fail_fast =
                axum::middleware::from_fn_with_state(state.clone(), fail_fast::while_database_down);
            Router::new()
                $(.route($up_path, {
                    let max: u64 = $max(config);
                    method!($up_method, $up_handler)
                        .layer(fail_fast.clone())
                        .layer(axum::middleware::from_fn(move |r, n| {
                            refused_upload::drain_refused(max, r, n)
                        }))
                }))*
        }
    };
}

route_table! {
    routes {
        GET "/healthz" => ops::healthz,
        GET "/readyz" => ops::readyz,
        GET "/metrics" => ops::metrics,
        GET "/" => web::index,
        GET "/app/{file}" => web::asset,
        GET "/v1/openapi.json" => api_docs::openapi,
        GET "/v1/schemas/frames.json" => api_docs::frames,
        GET "/v1/ws" => ws::upgrade,
        POST "/v1/marketplace/bids/{bid_id}/accept" => marketplace::accept_bid,
        POST "/v1/marketplace/bids/{bid_id}/end" => marketplace::end_contract,
        PUT "/v1/marketplace/accounts/{account}/members/{user}" => marketplace::put_account_member,
        DELETE "/v1/marketplace/accounts/{account}/members/{user}" => marketplace::remove_account_member,
        GET "/v1/rooms" => rooms::list_rooms,
        GET "/v1/rooms/{room}/members" => rooms::members,
        GET "/v1/rooms/{room}/messages" => rooms::history,
        GET "/v1/rooms/{room}/files/{file}" => files::metadata,
        GET "/v1/rooms/{room}/files/{file}/content" => files::content,
        POST "/v1/rooms/{room}/files/{file}/link" => files::link,
        GET "/v1/files/{file}/content" => files::signed_content,
        GET "/v1/rooms/{room}/grants" => rooms::ended_grants,
        POST "/v1/rooms/{room}/reports" => reports::file_report,
        GET "/v1/reports" => reports::own_reports,
        PUT "/v1/me/contact" => contacts::put_own,
        GET "/v1/me/contact" => contacts::get_own,
        POST "/v1/rooms/{room}/contacts/release" => contacts::release,
        GET "/v1/rooms/{room}/contacts" => contacts::released,
        PUT "/v1/me/work-view" => tracker::put_work_view,
        GET "/v1/me/work-view" => tracker::get_work_view,
        DELETE "/v1/me/bots/{jti}" => tracker::revoke_bot,
        GET "/v1/rooms/{room}/screenshots" => screenshots::list,
        GET "/v1/rooms/{room}/screenshots/{shot}/content" => screenshots::content,
        POST "/v1/rooms/{room}/screenshots/{shot}/link" => screenshots::link,
        POST "/v1/rooms/{room}/screenshots/{shot}/unshare" => screenshots::unshare,
        POST "/v1/rooms/{room}/screenshots/{shot}/share" => screenshots::share,
        GET "/v1/marketplace/rooms/{room}/screenshots" => screenshots::review,
        GET "/v1/marketplace/rooms/{room}/screenshots/{shot}/content" => screenshots::review_content,
        POST "/v1/moderation/grants" => moderation::open_grant,
        GET "/v1/moderation/grants" => moderation::list_grants,
        GET "/v1/moderation/grants/{grant}" => moderation::get_grant,
        POST "/v1/moderation/grants/{grant}/approve" => moderation::approve_grant,
        POST "/v1/moderation/grants/{grant}/revoke" => moderation::revoke_grant,
        GET "/v1/moderation/grants/{grant}/messages" => moderation::grant_history,
        GET "/v1/moderation/grants/{grant}/files/{file}/content" => moderation::grant_file,
        POST "/v1/moderation/grants/{grant}/connections" => moderation::grant_connections,
        POST "/v1/moderation/grants/{grant}/notices" => moderation::post_notice,
        GET "/v1/moderation/reports" => reports::list_reports,
        GET "/v1/moderation/reports/{report}" => reports::read_report,
        GET "/v1/moderation/reports/{report}/files/{file}/content" => reports::read_reported_file,
        POST "/v1/moderation/reports/{report}/close" => reports::close_report,
        GET "/v1/audit" => audit::list,
        POST "/v1/audit/verify" => audit::verify,
        GET "/v1/marketplace/rooms/{room}/retention" => lifecycle::get_retention,
        PUT "/v1/marketplace/rooms/{room}/retention" => lifecycle::put_retention,
        GET "/v1/marketplace/bans/{user}" => lifecycle::ban_of_user,
        POST "/v1/marketplace/bans/check" => lifecycle::check_ban,
        POST "/v1/legal/holds" => lifecycle::place_hold,
        GET "/v1/legal/holds" => lifecycle::list_holds,
        POST "/v1/legal/holds/{hold}/lift" => lifecycle::lift_hold,
        GET "/v1/admin/holds" => lifecycle::admin_holds,
        GET "/v1/admin/erasures" => lifecycle::admin_erasures,
        POST "/v1/marketplace/rooms/{room}/purge" => lifecycle::purge_room,
        POST "/v1/marketplace/users/{user}/revoke-tokens" => lifecycle::revoke_tokens,
        POST "/v1/marketplace/accounts/{account}/terminate" => lifecycle::terminate_account,
        POST "/v1/marketplace/users/{user}/terminate" => lifecycle::terminate_user,
        POST "/v1/me/logout" => lifecycle::logout,
        POST "/v1/legal/exports" => legal::create_export,
        GET "/v1/legal/exports" => legal::list_exports,
        GET "/v1/legal/exports/{export}" => legal::get_export,
        GET "/v1/legal/exports/{export}/content" => legal::export_content,
        GET "/v1/legal/public-key" => legal::public_key,
        GET "/v1/analytics/daily" => analytics::daily,
        POST "/v1/dev/sign-in" => sign_in::redeem,
    }
    uploads {
        POST "/v1/rooms/{room}/files" => files::upload,
            max |c: &crate::config::Config| c.files.max_file_bytes,
        POST "/v1/tracker/screenshots" => screenshots::post,
            max |c: &crate::config::Config| c.tracker.max_screenshot_bytes,
    }
}

/// The private listener's router (`metrics_listen`): `/metrics` only, inside the policy
/// guard and with the security headers like every public route; nothing else answers.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", axum::routing::get(ops::private_metrics))
        .fallback(|| async { ApiError::new(ErrorCode::NotFound, "no such route") })
        .layer(axum::middleware::from_fn(policy_guard::http))
        .layer(axum::middleware::map_response(security_headers::add))
        .with_state(state)
}

/// The server's public router, with its state.
pub fn router(state: AppState) -> Router {
    let body_limit = state.config.limits.max_http_body_bytes;
    let fail_fast =
        axum::middleware::from_fn_with_state(state.clone(), fail_fast::while_database_down);
    routes()
        .fallback(|| async { ApiError::new(ErrorCode::NotFound, "no such route") })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(fail_fast)
        // Uploads stream with their own limits, not the JSON limit.
        .merge(upload_routes(&state).layer(DefaultBodyLimit::disable()))
        // Outermost last: every request is recorded in the connection log and runs inside
        // the policy guard.
        .layer(axum::middleware::from_fn(policy_guard::http))
        .layer(axum::middleware::map_response(security_headers::add))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            connection_log::record,
        ))
        .with_state(state)
}
