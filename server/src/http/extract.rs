//! Request extractors: the bearer identity and JSON bodies with typed errors.

use super::error::ApiError;
use crate::app::AppState;
use crate::auth::{AuthError, Identity};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use workroom_protocol::ErrorCode;

/// A caller whose `Authorization: Bearer` token verified. Tokens in the URL are refused
/// outright: URLs end up in logs and proxies.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Identity);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        refuse_token_in_url(parts)?;
        let token = bearer_token(parts).ok_or(AuthError::Missing)?;
        let identity = verify(state, token).await?;
        if let Some(conn) = client_conn(parts) {
            state.connlog.user(conn, &identity.user).await;
        }
        Ok(Authenticated(identity))
    }
}

/// Verify a bearer token, and refuse a bot token its contractor revoked (checked on every
/// request, so a revocation takes effect at once on every node).
pub async fn verify(state: &AppState, token: &str) -> Result<Identity, ApiError> {
    let identity = state.verifier.verify(token)?;
    if identity.role == workroom_protocol::Role::Bot {
        let acts_for = identity.acts_for.as_deref().unwrap_or_default();
        if state.store.bot_revoked(&identity.jti, acts_for).await? {
            return Err(AuthError::Rejected("revoked bot token".into()).into());
        }
    }
    Ok(identity)
}

/// The connection the request arrived on (absent only in unit tests without a listener).
pub fn client_conn(parts: &Parts) -> Option<&crate::connlog::ClientConn> {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<crate::connlog::ClientConn>>()
        .map(|info| &info.0)
}

/// The token of an `Authorization: Bearer …` header, if any.
pub fn bearer_token(parts: &Parts) -> Option<&str> {
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
pub fn refuse_token_in_url(parts: &Parts) -> Result<(), ApiError> {
    let query = parts.uri.query().unwrap_or_default();
    let leaks = query.split('&').any(|pair| {
        let key = pair.split('=').next().unwrap_or_default();
        matches!(key, "token" | "access_token" | "jwt" | "auth")
    });
    if leaks {
        return Err(ApiError::new(
            ErrorCode::Invalid,
            "tokens are not accepted in URLs; use the Authorization header or the auth frame",
        ));
    }
    Ok(())
}

/// `axum::Json` with SPEC error bodies on rejection.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(ApiJson(value))
    }
}

/// `axum::extract::Query` with SPEC error bodies on rejection.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state)
                .await
                .map_err(|rejection| ApiError::new(ErrorCode::Invalid, rejection.body_text()))?;
        Ok(ApiQuery(value))
    }
}
