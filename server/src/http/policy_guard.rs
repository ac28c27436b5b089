//! The HTTP half of the policy guard (`policy::guard`): a route that answers with success
//! without an allowing decision is turned into `internal` "the policy was not consulted",
//! logged and counted (`workroom_policy_bypass_total`).

use super::error::ApiError;
use crate::policy::guard::{BYPASS_MESSAGE, report_bypass, scoped};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use workroom_protocol::ErrorCode;

/// Axum middleware: a successful answer without a decision becomes `internal`.
pub(crate) async fn http(request: Request, next: Next) -> Response {
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

    fn asks(act: crate::policy::Act) -> Result<(), crate::policy::Denied> {
        crate::policy::decide(
            crate::policy::Caller::Anonymous,
            act,
            workroom_protocol::Purpose::Operations,
            crate::policy::Resource::Nothing,
        )
        .map(|_| ())
    }

    fn router() -> Router {
        Router::new()
            .route("/bypass", get(|| async { "data" }))
            .route(
                "/asks",
                get(|| async {
                    asks(crate::policy::Act::Probe).expect("probes are allowed");
                    "data"
                }),
            )
            .route(
                "/ignores-a-refusal",
                get(|| async {
                    let _ = asks(crate::policy::Act::ReadAudit);
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
    async fn a_route_that_answers_without_an_allowing_decision_is_turned_into_an_error() {
        use axum::http::StatusCode;
        assert_eq!(
            status_of(router(), "/bypass").await,
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(status_of(router(), "/asks").await, StatusCode::OK);
        assert_eq!(
            status_of(router(), "/ignores-a-refusal").await,
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            status_of(router(), "/refuses").await,
            StatusCode::BAD_REQUEST
        );
    }
}
