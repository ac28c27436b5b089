//! What both transports read from an HTTP request before anything else: the bearer token
//! (never from the URL) and the connection it came on. The WebSocket upgrade is an HTTP
//! request too, so these live apart from either transport.

use crate::service::Failure;
use axum::http::request::Parts;
use std::sync::Arc;

/// The connection the request arrived on (absent only in unit tests without a listener).
pub(crate) fn client_conn(parts: &Parts) -> Option<&crate::connlog::ClientConn> {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<crate::connlog::ClientConn>>()
        .map(|info| &info.0)
}

/// The listener's watch over the request's connection (absent only without a listener).
pub(crate) fn connection_watch(parts: &Parts) -> Option<&Arc<crate::listener::ConnWatch>> {
    parts.extensions.get::<Arc<crate::listener::ConnWatch>>()
}

/// The token of an `Authorization: Bearer …` header, if any.
pub(crate) fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// Refuse requests that put a token in the query string.
pub(crate) fn refuse_token_in_url(parts: &Parts) -> Result<(), Failure> {
    let query = parts.uri.query().unwrap_or_default();
    let leaks = query.split('&').any(|pair| {
        let key = pair.split('=').next().unwrap_or_default();
        matches!(key, "token" | "access_token" | "jwt" | "auth")
    });
    if leaks {
        return Err(Failure::invalid(
            "tokens are not accepted in URLs; use the Authorization header or the auth frame",
        ));
    }
    Ok(())
}
