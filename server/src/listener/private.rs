//! The private listener (`metrics_listen`): plain HTTP/1.1 for operators' scrapers on a
//! private address, serving its own small router (`/metrics`). No TLS and no per-address
//! gate, since only the operator's network reaches it; still bounded, so that a stuck
//! scraper cannot pile up connections: at most [`MAX_CONNECTIONS`] at once (more are closed
//! at accept), one request per connection, each connection closed after [`CONNECTION_TIME`].

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Connections served at once.
const MAX_CONNECTIONS: usize = 16;
/// What one connection may take, from accept to the end of its response.
const CONNECTION_TIME: Duration = Duration::from_secs(30);

/// Serve `app` on `listener` until `shutdown` fires.
pub async fn serve_private(
    listener: std::net::TcpListener,
    app: Router,
    shutdown: CancellationToken,
) {
    let listener = match listener
        .set_nonblocking(true)
        .and_then(|()| tokio::net::TcpListener::from_std(listener))
    {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%error, "the private listener could not start");
            return;
        }
    };
    let places = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, _) = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::debug!(%error, "private accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(place) = places.clone().try_acquire_owned() else {
            continue;
        };
        let app = app.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _place = place;
            let service = hyper::service::service_fn(move |request: hyper::Request<_>| {
                app.clone().oneshot(request.map(axum::body::Body::new))
            });
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Some(Duration::from_secs(10)))
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = tokio::time::timeout(CONNECTION_TIME, served) => {}
            }
        });
    }
}
