//! The HTTP side of the connection log (C11): every connection is recorded once, on its
//! first request, through the log's queue (never on the request's critical path).

use crate::app::AppState;
use crate::connlog::ClientConn;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// Middleware: record the connection on its first request.
pub(crate) async fn record(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(ConnectInfo(conn)) = request.extensions().get::<ConnectInfo<ClientConn>>() {
        state.connlog.connection(conn).await;
    }
    next.run(request).await
}
