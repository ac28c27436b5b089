//! A refused upload still gets its answer. Most HTTP clients send the whole body before they
//! read the response; a server that answers early and closes the connection leaves them
//! with a reset (`SSLEOFError`, an HTTP/2 stream reset) instead of the error body. So on the
//! upload routes, whatever refused the request (authentication, the policy, a limit, the
//! object store failing before or in the middle of the body), the rest of the body is read
//! and dropped before the answer goes out: up to `files.max_file_bytes` and
//! [`DRAIN_TIMEOUT`]. A body declared larger than that is not read (the client gets the
//! answer, then a closed connection).
//!
//! A client that sent `Expect: 100-continue` has sent no body yet: hyper sends `100
//! Continue` only once the handler reads the body, so a refusal made before that reaches
//! the client as the final answer and nothing is drained.

use crate::app::AppState;
use axum::body::{Body, BodyDataStream};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// The longest a refused body is read and dropped.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Middleware of the upload routes: hand the handler a body whose unread rest stays here,
/// and drain that rest when the answer is a refusal.
pub(super) async fn drain_refused(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let bound = state.config.files.max_file_bytes;
    let drainable = !expects_continue(request.headers())
        && declared_length(request.headers()).is_none_or(|n| n <= bound);
    let (parts, body) = request.into_parts();
    let rest = Arc::new(Mutex::new(body.into_data_stream()));
    let handed = futures_util::stream::unfold(rest.clone(), |rest| async move {
        let next = rest.lock().await.next().await;
        next.map(|chunk| (chunk, rest))
    });
    let response = next
        .run(Request::from_parts(parts, Body::from_stream(handed)))
        .await;
    if drainable && !response.status().is_success() {
        drain(&mut *rest.lock().await, bound).await;
    }
    response
}

fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Read and drop what is left of `body`, up to `bound` bytes and [`DRAIN_TIMEOUT`].
async fn drain(body: &mut BodyDataStream, bound: u64) {
    let mut seen = 0u64;
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while let Some(Ok(data)) = body.next().await {
            seen += data.len() as u64;
            if seen > bound {
                break;
            }
        }
    })
    .await;
}
