//! The WebSocket endpoint `/v1/ws`: the upgrade checks (origin, capacity, token) and the
//! socket limits, then one `session` task per connection.

mod auth;
mod session;
mod writer;

use crate::app::AppState;
use crate::auth::AuthError;
use crate::request::{bearer_token, client_conn, connection_watch, refuse_token_in_url};
use crate::service::Failure;
use axum::extract::{FromRequestParts, Request, State, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use std::sync::atomic::Ordering;
use workroom_protocol::ErrorCode;

/// Per-connection socket buffers. tungstenite's defaults (128 KiB read buffer, 128 KiB write
/// buffer, unbounded write backlog, 64 MiB messages) would cost megabytes per idle
/// connection and let one peer exhaust memory; these are sized for chat frames.
///
/// Frames written between two flushes (a batch of events, the acks of one commit) are
/// gathered up to `WRITE_BUFFER` bytes and go out as one TLS record and one system call;
/// every path that writes flushes when it is done (`Writer::text`, `on_outbound`,
/// `on_replies`, `on_resume`), so nothing waits in the buffer. With 0 every frame was
/// written on its own: a quarter of the server's CPU flat out went to `writev`.
const READ_BUFFER: usize = 1024;
const WRITE_BUFFER: usize = 8 * 1024;

/// `GET /v1/ws`.
pub async fn upgrade(State(state): State<AppState>, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    if let Err(e) = refuse_token_in_url(&parts) {
        return e.into_response();
    }
    if let Some(origin) = parts.headers.get(axum::http::header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        let allowed = state.own_origins.iter().any(|o| o == origin)
            || state
                .config
                .auth
                .allowed_origins
                .iter()
                .any(|o| o == origin);
        if !allowed {
            return Failure::new(ErrorCode::Forbidden, "origin not allowed").into_response();
        }
    }
    if state.draining.load(Ordering::Relaxed) {
        return Failure::new(ErrorCode::Unavailable, "server is shutting down").into_response();
    }
    // A session starts by reading the user's rooms: with the database known to be down,
    // say so now rather than upgrade and close with 1011 after the pool's timeout.
    if !state.health.database_up() {
        return Failure::new(ErrorCode::Unavailable, "storage is unavailable").into_response();
    }
    if state.open_sessions.load(Ordering::Relaxed) >= state.config.limits.max_connections {
        return Failure::new(ErrorCode::Unavailable, "connection limit reached").into_response();
    }
    // A token on the upgrade is checked before upgrading, so a bad one is a plain 401.
    let identity = match bearer_token(&parts) {
        Some(token) => {
            let opened = match state.service.authenticate(token).await {
                Ok(identity) => state.service.open_session(&identity).map(|_| identity),
                Err(failure) => Err(failure),
            };
            match opened {
                Ok(identity) => Some(identity),
                Err(failure) => return failure.into_response(),
            }
        }
        None if parts
            .headers
            .contains_key(axum::http::header::AUTHORIZATION) =>
        {
            return Failure::from(AuthError::Malformed).into_response();
        }
        None => match state.service.connect_unauthenticated() {
            Ok(()) => None,
            Err(failure) => return failure.into_response(),
        },
    };
    // A token on the upgrade takes the user's session place now, so that a user over
    // `rate_limits.sessions_per_user` gets a plain 429.
    let slot = match &identity {
        Some(identity) => match state.service.rate_limits().open_session(identity.user()) {
            Some(slot) => Some(slot),
            None => {
                return Failure::rate_limited(
                    session::TOO_MANY_SESSIONS_RETRY_MS,
                    session::TOO_MANY_SESSIONS,
                )
                .into_response();
            }
        },
        None => None,
    };
    let conn = client_conn(&parts).cloned();
    let watch = connection_watch(&parts).cloned();
    if let (Some(conn), Some(identity)) = (&conn, &identity) {
        state.connlog.user(conn, identity.user()).await;
    }
    let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    if let Some(watch) = &watch {
        // From here the session's limits hold the connection: the `auth` deadline, pings,
        // the write timeout and the outbound queue.
        watch.upgraded();
        if identity.is_some() {
            watch.authenticated();
        }
    }
    let max_frame = state.config.limits.max_frame_bytes;
    let tracked = state.sessions.token();
    ws.read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(max_frame * 4)
        .max_message_size(max_frame)
        .max_frame_size(max_frame)
        .on_upgrade(move |socket| async move {
            session::run(socket, state, identity, conn, watch, slot).await;
            drop(tracked);
        })
}
