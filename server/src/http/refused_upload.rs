//! A refused upload still gets its answer. Most HTTP clients send the whole body before they
//! read the response; a server that answers early and closes the connection leaves them
//! with a reset (`SSLEOFError`, an HTTP/2 stream reset) instead of the error body. So on the
//! upload routes, whatever refused the request (the policy, a limit, the object store
//! failing before or in the middle of the body), the rest of the body is read and dropped
//! before the answer goes out: up to the route's largest accepted body and
//! [`DRAIN_TIMEOUT`]. A body declared larger than that is not read (the client gets the
//! answer, then a closed connection). A request refused as unauthenticated gets at most
//! [`UNAUTHENTICATED_DRAIN`] bytes read: strangers cannot make the server read 100 MiB.
//!
//! A client that sent `Expect: 100-continue` has sent no body until the handler reads it
//! (hyper sends `100 Continue` then): a refusal made before that is its final answer and
//! nothing is drained; one made after the body started is drained like any other.

use axum::body::{Body, BodyDataStream};
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use futures_util::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Mutex;

/// The longest a refused body is read and dropped.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// The most read of a body refused because its sender is not authenticated.
const UNAUTHENTICATED_DRAIN: u64 = 64 * 1024;
const UNAUTHENTICATED_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Middleware of an upload route whose bodies are at most `bound` bytes: hand the handler
/// a body whose unread rest stays here, and drain that rest when the answer is a refusal.
pub(crate) async fn drain_refused(bound: u64, request: Request, next: Next) -> Response {
    let expects_continue = expects_continue(request.headers());
    let declared_fits = declared_length(request.headers()).is_none_or(|n| n <= bound);
    let (parts, body) = request.into_parts();
    let rest = Arc::new(Mutex::new(body.into_data_stream()));
    let started = Arc::new(AtomicBool::new(false));
    let handed = {
        let started = started.clone();
        futures_util::stream::unfold(rest.clone(), move |rest| {
            started.store(true, Ordering::Relaxed);
            async move {
                let next = rest.lock().await.next().await;
                next.map(|chunk| (chunk, rest))
            }
        })
    };
    let response = next
        .run(Request::from_parts(parts, Body::from_stream(handed)))
        .await;
    let sent = started.load(Ordering::Relaxed) || !expects_continue;
    if response.status().is_success() || !sent {
        return response;
    }
    let mut rest = rest.lock().await;
    if response.status() == StatusCode::UNAUTHORIZED {
        drain(
            &mut rest,
            UNAUTHENTICATED_DRAIN,
            UNAUTHENTICATED_DRAIN_TIMEOUT,
        )
        .await;
    } else if declared_fits {
        drain(&mut rest, bound, DRAIN_TIMEOUT).await;
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

/// Read and drop what is left of `body`, up to `bound` bytes and `timeout`.
async fn drain(body: &mut BodyDataStream, bound: u64, timeout: Duration) {
    let mut seen = 0u64;
    let _ = tokio::time::timeout(timeout, async {
        while let Some(Ok(data)) = body.next().await {
            seen += data.len() as u64;
            if seen > bound {
                break;
            }
        }
    })
    .await;
}
