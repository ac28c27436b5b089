//! Making a bypass of the policy visible, at run time, for every route and frame.
//!
//! Each HTTP request and each WebSocket frame is handled inside a task-local scope holding
//! one flag; [`super::decide`] sets it. When a route answers with success, or a frame
//! handler returns, and the flag is still clear, the handler never asked the policy: the
//! answer is replaced by an `internal` error, the bypass is logged and counted in
//! `workroom_policy_bypass_total`. Refusals before the policy was asked (a bad token, a
//! malformed body) are fine: deny by default needs no decision.
//!
//! The e2e test `policy::every_route_and_frame_goes_through_the_policy` calls every route and
//! every frame type with valid requests and fails if any of them trips this guard.

use crate::http::error::ApiError;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::cell::Cell;
use std::future::Future;
use workroom_protocol::ErrorCode;

tokio::task_local! {
    static CONSULTED: Cell<bool>;
}

/// Called by [`super::decide`]. Outside a guarded scope (unit tests, background tasks) it
/// does nothing.
pub(super) fn consulted() {
    let _ = CONSULTED.try_with(|flag| flag.set(true));
}

/// Run `work` in a fresh scope; returns its output and whether the policy was asked.
pub async fn scoped<F: Future>(work: F) -> (F::Output, bool) {
    CONSULTED
        .scope(Cell::new(false), async move {
            let output = work.await;
            let asked = CONSULTED.with(Cell::get);
            (output, asked)
        })
        .await
}

/// Log and count a handler that did not ask the policy.
pub fn report_bypass(what: &str) {
    tracing::error!(
        handler = what,
        "policy bypass: a handler answered without a decision"
    );
    metrics::counter!("workroom_policy_bypass_total").increment(1);
}

/// The message clients see when the guard fires.
pub const BYPASS_MESSAGE: &str = "internal error: the policy was not consulted";

/// Axum middleware: a successful answer without a decision becomes `internal`.
pub async fn http(request: Request, next: Next) -> Response {
    let route = format!("{} {}", request.method(), request.uri().path());
    let (response, asked) = scoped(next.run(request)).await;
    let succeeded = response.status().is_success()
        || response.status().is_redirection()
        || response.status() == axum::http::StatusCode::SWITCHING_PROTOCOLS;
    if succeeded && !asked {
        report_bypass(&route);
        return ApiError::new(ErrorCode::Internal, BYPASS_MESSAGE).into_response();
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    async fn status_of(router: Router, path: &str) -> axum::http::StatusCode {
        let request = Request::builder().uri(path).body(Body::empty()).unwrap();
        router.oneshot(request).await.unwrap().status()
    }

    fn router() -> Router {
        Router::new()
            .route("/bypass", get(|| async { "data" }))
            .route(
                "/asks",
                get(|| async {
                    let _ = super::super::decide(
                        super::super::Caller::Anonymous,
                        super::super::Act::Probe,
                        workroom_protocol::Purpose::Operations,
                        super::super::Resource::Nothing,
                    );
                    "data"
                }),
            )
            .route(
                "/refuses",
                get(|| async { ApiError::new(ErrorCode::Invalid, "bad") }),
            )
            .layer(axum::middleware::from_fn(http))
    }

    #[tokio::test]
    async fn a_route_that_answers_without_a_decision_is_turned_into_an_error() {
        assert_eq!(
            status_of(router(), "/bypass").await,
            axum::http::StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            status_of(router(), "/asks").await,
            axum::http::StatusCode::OK
        );
        assert_eq!(
            status_of(router(), "/refuses").await,
            axum::http::StatusCode::BAD_REQUEST
        );
    }

    #[tokio::test]
    async fn scopes_do_not_leak_into_each_other() {
        let ((), asked) = scoped(async {
            consulted();
        })
        .await;
        assert!(asked);
        let ((), asked) = scoped(async {}).await;
        assert!(!asked);
    }
}
