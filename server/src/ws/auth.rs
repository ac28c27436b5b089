//! Authentication by first frame, for browsers (they cannot set headers on an upgrade):
//! `{"type":"auth","token":…}` must come first; anything else, a bad token or silence past
//! `auth.auth_timeout_secs` closes the connection.

use super::writer::{CLOSE_POLICY, CLOSE_UNAVAILABLE, Writer, close_for_read_error};
use crate::app::AppState;
use crate::auth::Identity;
use axum::extract::ws::{Message, WebSocket};
use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use std::time::Duration;
use workroom_protocol::{ClientFrame, ErrorCode, ServerFrame};

pub(super) async fn authenticate_first_frame(
    state: &AppState,
    stream: &mut SplitStream<WebSocket>,
    writer: &mut Writer,
) -> Option<Identity> {
    let timeout = Duration::from_secs(state.config.auth.auth_timeout_secs);
    let first = tokio::time::timeout(timeout, async {
        loop {
            match stream.next().await {
                Some(Ok(Message::Text(text))) => return Ok(text),
                // Not an auth frame: answered below like any other.
                Some(Ok(Message::Binary(_))) => return Ok(Default::default()),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Close(_))) | None => return Err(None),
                Some(Err(error)) => return Err(Some(error)),
            }
        }
    })
    .await;
    let text = match first {
        Ok(Ok(text)) => text,
        Ok(Err(None)) => return None,
        Ok(Err(Some(error))) => {
            if let Some((code, reason)) = close_for_read_error(error) {
                writer.close(code, reason).await;
            }
            return None;
        }
        Err(_) => {
            let _ = writer
                .frame(&ServerFrame::error(
                    None,
                    ErrorCode::Unauthorized,
                    "authentication timed out",
                ))
                .await;
            writer.close(CLOSE_POLICY, "authentication timed out").await;
            return None;
        }
    };
    let verified = match ClientFrame::decode(&text) {
        // The same check as the upgrade header: signature, claims and bot revocation.
        Ok(ClientFrame::Auth { token }) => state.service.authenticate(&token).await.map_err(|e| {
            tracing::debug!(reason = %e.message, "auth frame refused");
            match e.code {
                ErrorCode::Unauthorized => (e.code, "invalid token"),
                _ => (e.code, "the token could not be checked; try again"),
            }
        }),
        _ => Err((
            ErrorCode::Unauthorized,
            "the first frame must be {\"type\":\"auth\",\"token\":…}",
        )),
    };
    match verified {
        Ok(identity) => Some(identity),
        Err((code, message)) => {
            crate::metrics::error(code);
            let _ = writer.frame(&ServerFrame::error(None, code, message)).await;
            match code {
                ErrorCode::Unauthorized => writer.close(CLOSE_POLICY, "unauthorized").await,
                _ => writer.close(CLOSE_UNAVAILABLE, "storage unavailable").await,
            }
            None
        }
    }
}
