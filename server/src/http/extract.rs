//! Request extractors: the bearer identity and JSON bodies with typed errors.

use super::error::ApiError;
use crate::app::AppState;
use crate::auth::{AuthError, Identity};
use crate::ratelimit::Family;
use crate::request::{bearer_token, client_conn, refuse_token_in_url};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use workroom_protocol::Role;

/// A caller whose `Authorization: Bearer` token verified, within their rate limit for the
/// route's family (every authenticated route passes here, so this is the one place HTTP
/// requests are counted). Tokens in the URL are refused outright: URLs end up in logs and
/// proxies.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Identity);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        refuse_token_in_url(parts)?;
        let token = bearer_token(parts).ok_or(AuthError::Missing)?;
        let identity = state.service.authenticate(token).await?;
        if let Some(conn) = client_conn(parts) {
            state.connlog.user(conn, identity.user()).await;
        }
        state
            .service
            .rate_limit(route_family(parts, identity.role()), &identity)?;
        Ok(Authenticated(identity))
    }
}

/// Which per-user budget a request spends: the systems' tokens one budget for every route;
/// people and bots by what the route does.
fn route_family(parts: &Parts, role: Role) -> Family {
    use axum::http::Method;
    match role {
        Role::Service | Role::Admin | Role::Legal | Role::Auditor => Family::HttpSystems,
        Role::Member | Role::Moderator | Role::Bot => {
            let path = parts.uri.path();
            let upload = parts.method == Method::POST
                && ((path.starts_with("/v1/rooms/") && path.ends_with("/files"))
                    || path == "/v1/tracker/screenshots");
            if upload {
                Family::HttpUploads
            } else if matches!(parts.method, Method::GET | Method::HEAD) {
                Family::HttpReads
            } else {
                Family::HttpWrites
            }
        }
    }
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
                .map_err(|rejection| ApiError::invalid(rejection.body_text()))?;
        Ok(ApiQuery(value))
    }
}
