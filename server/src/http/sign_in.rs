//! `POST /v1/dev/sign-in` `{"code"}` → `{"token"}`: the web client trades the one-time code
//! of a development sign-in link for its token (see `sign_in_links` for why this is safe).
//! Anonymous by nature, like the first-frame `auth`: the code is the credential.

use super::error::ApiError;
use super::extract::ApiJson;
use crate::app::AppState;
use axum::extract::State;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignInRequest {
    code: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct SignInAnswer {
    token: String,
}

pub(crate) async fn redeem(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<SignInRequest>,
) -> Result<axum::Json<SignInAnswer>, ApiError> {
    let token = state.service.redeem_sign_in(&request.code)?;
    Ok(axum::Json(SignInAnswer { token }))
}
