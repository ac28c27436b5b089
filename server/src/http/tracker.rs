//! The Tracker's groundwork (C9): a contractor's Work View switch (`GET`/`PUT
//! /v1/me/work-view`) and the revocation of bot tokens acting for them
//! (`DELETE /v1/me/bots/{jti}`). A revoked bot token is refused on its next request, on every
//! node (`extract::verify`). Both acts are audited.

use super::error::ApiError;
use super::extract::{ApiJson, Authenticated};
use super::validate::check_id;
use crate::app::AppState;
use crate::auth::Identity;
use crate::policy::{self, Act, Caller, Resource};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use workroom_protocol::Purpose;
use workroom_storage::audit::AuditAction;

/// `GET`/`PUT /v1/me/work-view`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WorkView {
    on: bool,
}

fn allowed(identity: &Identity, act: Act, purpose: Purpose) -> Result<(), ApiError> {
    policy::decide(Caller::Token(identity), act, purpose, Resource::Nothing)?;
    Ok(())
}

/// `GET /v1/me/work-view` → `{"on"}` (off until turned on).
pub(super) async fn get_work_view(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
) -> Result<Json<WorkView>, ApiError> {
    allowed(&identity, Act::KeepWorkView, Purpose::PaymentGuarantee)?;
    let on = state.store.work_view(&identity.user).await?;
    Ok(Json(WorkView { on }))
}

/// `PUT /v1/me/work-view` `{"on"}` → the new state; recorded as `tracker.work_view`.
pub(super) async fn put_work_view(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    ApiJson(body): ApiJson<WorkView>,
) -> Result<Json<WorkView>, ApiError> {
    allowed(&identity, Act::KeepWorkView, Purpose::PaymentGuarantee)?;
    let entry = identity.actor().entry(
        AuditAction::TrackerWorkView,
        &format!("user:{}", identity.user),
        Purpose::PaymentGuarantee,
        json!({ "on": body.on }),
    );
    state
        .store
        .set_work_view(&identity.user, body.on, entry)
        .await?;
    Ok(Json(body))
}

/// `DELETE /v1/me/bots/{jti}` → 204: the bot token with that `jti` acting for the caller is
/// refused from now on. Idempotent; recorded as `bot.revoked` the first time.
pub(super) async fn revoke_bot(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(jti): Path<String>,
) -> Result<StatusCode, ApiError> {
    allowed(&identity, Act::RevokeOwnBot, Purpose::Security)?;
    check_id("jti", &jti)?;
    let entry = identity.actor().entry(
        AuditAction::BotRevoked,
        &format!("user:{}", identity.user),
        Purpose::Security,
        json!({ "jti": jti }),
    );
    state.store.revoke_bot(&jti, &identity.user, entry).await?;
    Ok(StatusCode::NO_CONTENT)
}
