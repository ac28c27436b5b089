//! Reports over HTTPS (C6): members file them and follow their own; moderators list, read
//! and close them, and download the reported messages' files.

use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, Authenticated};
use super::files::serve;
use crate::app::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use workroom_protocol::moderation::{
    CloseReport, NewReport, ReportCase, ReportList, ReportState, ReportStatus, ReportStatusList,
};

/// `POST /v1/rooms/{room}/reports` `{"messages":[msg_id…],"reason"}` → 201 the report's state.
pub(crate) async fn file_report(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(room): Path<String>,
    ApiJson(body): ApiJson<NewReport>,
) -> Result<(StatusCode, Json<ReportStatus>), ApiError> {
    let report = state.service.file_report(&identity, &room, body).await?;
    Ok((StatusCode::CREATED, Json(report)))
}

/// `GET /v1/reports`: the caller's own reports and where each stands.
pub(crate) async fn own_reports(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
) -> Result<Json<ReportStatusList>, ApiError> {
    Ok(Json(state.service.own_reports(&identity).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReportListQuery {
    state: Option<ReportState>,
    room: Option<String>,
}

/// `GET /v1/moderation/reports?state=&room=`: reports without their content.
pub(crate) async fn list_reports(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    ApiQuery(query): ApiQuery<ReportListQuery>,
) -> Result<Json<ReportList>, ApiError> {
    let list = state
        .service
        .list_reports(&identity, query.state, query.room)
        .await?;
    Ok(Json(list))
}

/// `GET /v1/moderation/reports/{report}`: the case, with exactly the reported messages.
pub(crate) async fn read_report(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<ReportCase>, ApiError> {
    Ok(Json(state.service.read_report(&identity, &id).await?))
}

/// `GET /v1/moderation/reports/{report}/files/{file}/content`: a file attached to one of the
/// reported messages.
pub(crate) async fn read_reported_file(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path((id, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let download = state.service.reported_file(&identity, &id, &file).await?;
    serve(&state, &download, &headers).await
}

/// `POST /v1/moderation/reports/{report}/close` `{"outcome"}`.
pub(crate) async fn close_report(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CloseReport>,
) -> Result<Json<ReportStatus>, ApiError> {
    Ok(Json(
        state
            .service
            .close_report(&identity, &id, &body.outcome)
            .await?,
    ))
}
