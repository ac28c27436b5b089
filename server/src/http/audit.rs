//! `GET /v1/audit`: the audit trail for auditors, filtered and paged by seq; `POST
//! /v1/audit/verify`: the whole trail checked on request.

use super::error::ApiError;
use super::extract::{ApiQuery, Authenticated};
use crate::app::AppState;
use crate::service::{AuditPage, AuditQuery, AuditVerification};
use axum::Json;
use axum::extract::State;

/// `GET /v1/audit?room=&actor=&action=&from=&until=&after_seq=&limit=`.
pub(crate) async fn list(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    Ok(Json(state.service.audit_page(&identity, query).await?))
}

/// `POST /v1/audit/verify` → 200 `{"intact", …}`: the whole trail checked now.
pub(crate) async fn verify(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
) -> Result<Json<AuditVerification>, ApiError> {
    Ok(Json(state.service.verify_audit(&identity).await?))
}
