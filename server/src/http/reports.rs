//! Reports (C6): members report messages of a workroom they are in; moderators list reports,
//! read a report's case (exactly the reported messages, their earlier versions and files)
//! and close it with an outcome the reporter sees. Filing, every moderator read and closing
//! are recorded in the audit trail.

use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, Authenticated};
use super::moderation::{moderated_messages, record_download};
use super::validate::{check_id, check_prose};
use crate::app::AppState;
use crate::auth::Identity;
use crate::events::rfc3339;
use crate::policy::{self, Act, Caller, Resource};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use workroom_protocol::moderation::{
    CloseReport, NewReport, ReportCase, ReportList, ReportState, ReportStatus, ReportStatusList,
    ReportSummary,
};
use workroom_protocol::{ErrorCode, Purpose, RoomId};
use workroom_storage::audit::AuditAction;
use workroom_storage::{ReportError, ReportFilter, ReportRow, Unreadable};

/// At most this many messages in one report.
const MAX_REPORTED: usize = 50;

impl From<ReportError> for ApiError {
    fn from(error: ReportError) -> Self {
        match error {
            ReportError::UnknownMessage(id) => ApiError::new(
                ErrorCode::Invalid,
                format!("messages: no message {id} in this workroom"),
            ),
            ReportError::NotFound => ApiError::new(ErrorCode::NotFound, "no such report"),
            ReportError::Closed => ApiError::new(ErrorCode::Conflict, "the report is closed"),
            ReportError::Storage(e) => e.into(),
        }
    }
}

fn text_or_marker(text: Result<String, Unreadable>) -> String {
    text.unwrap_or_else(|why| match why {
        Unreadable::Erased => "[erased]".to_string(),
        Unreadable::Damaged => "[damaged]".to_string(),
    })
}

fn status(report: ReportRow) -> ReportStatus {
    ReportStatus {
        id: report.id,
        case_id: report.case_id,
        room: report.room_id,
        state: report.state,
        messages: report.msg_ids,
        created_at: rfc3339(report.created_at),
        updated_at: rfc3339(report.updated_at),
        outcome: report.outcome.map(text_or_marker),
    }
}

fn summary(report: &ReportRow) -> ReportSummary {
    ReportSummary {
        id: report.id.clone(),
        case_id: report.case_id.clone(),
        room: report.room_id.clone(),
        reporter: report.reporter_id.clone(),
        state: report.state,
        message_count: report.msg_ids.len(),
        created_at: rfc3339(report.created_at),
        updated_at: rfc3339(report.updated_at),
    }
}

/// `POST /v1/rooms/{room}/reports` `{"messages":[msg_id…],"reason"}` → 201 the report's state.
pub(super) async fn file_report(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(room): Path<String>,
    ApiJson(body): ApiJson<NewReport>,
) -> Result<(StatusCode, Json<ReportStatus>), ApiError> {
    let room_id = super::rooms::room_for(
        &state,
        &identity,
        &room,
        Act::FileReport,
        Purpose::Moderation,
    )
    .await?;
    let mut msg_ids = body.messages.clone();
    msg_ids.sort_unstable();
    msg_ids.dedup();
    if msg_ids.is_empty() || msg_ids.len() > MAX_REPORTED {
        return Err(ApiError::new(
            ErrorCode::Invalid,
            format!("messages: name 1..={MAX_REPORTED} message ids"),
        ));
    }
    for id in &msg_ids {
        check_id("messages", id)?;
    }
    check_prose("reason", &body.reason, 1, 2000)?;
    let id = format!("rp_{}", uuid::Uuid::now_v7().simple());
    let new = workroom_storage::NewReport {
        case_id: id.clone(),
        id,
        room_id: room_id.to_string(),
        reporter_id: identity.user.clone(),
        reason: body.reason.trim().to_string(),
        msg_ids,
    };
    let entry = identity.case_entry(
        AuditAction::ReportFiled,
        room_id.as_str(),
        Purpose::Moderation,
        &new.case_id,
        json!({ "report": new.id, "messages": new.msg_ids.len() }),
    );
    let report = state
        .store
        .file_report(&new, state.clock.now_ms(), entry)
        .await?;
    Ok((StatusCode::CREATED, Json(status(report))))
}

/// `GET /v1/reports`: the caller's own reports and where each stands.
pub(super) async fn own_reports(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
) -> Result<Json<ReportStatusList>, ApiError> {
    policy::decide(
        Caller::Token(&identity),
        Act::ListOwnReports,
        Purpose::Moderation,
        Resource::Nothing,
    )?;
    let reports = state
        .store
        .reports(&ReportFilter {
            reporter: Some(identity.user.clone()),
            ..ReportFilter::default()
        })
        .await?;
    Ok(Json(ReportStatusList {
        reports: reports.into_iter().map(status).collect(),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReportListQuery {
    state: Option<ReportState>,
    room: Option<String>,
}

/// `GET /v1/moderation/reports?state=&room=`: reports without their content.
pub(super) async fn list_reports(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    ApiQuery(query): ApiQuery<ReportListQuery>,
) -> Result<Json<ReportList>, ApiError> {
    policy::decide(
        Caller::Token(&identity),
        Act::ListReports,
        Purpose::Moderation,
        Resource::Nothing,
    )?;
    let reports = state
        .store
        .reports(&ReportFilter {
            state: query.state,
            room: query.room,
            ..ReportFilter::default()
        })
        .await?;
    Ok(Json(ReportList {
        reports: reports.iter().map(summary).collect(),
    }))
}

/// A report, once the caller is known to be a moderator.
async fn load_report(
    state: &AppState,
    identity: &Identity,
    id: &str,
) -> Result<ReportRow, ApiError> {
    policy::decide(
        Caller::Token(identity),
        Act::ListReports,
        Purpose::Moderation,
        Resource::Nothing,
    )?;
    check_id("report", id).map_err(|_| ApiError::new(ErrorCode::NotFound, "no such report"))?;
    state
        .store
        .report(id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such report"))
}

/// `GET /v1/moderation/reports/{report}`: the case, with exactly the reported messages.
pub(super) async fn read_report(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<ReportCase>, ApiError> {
    let report = load_report(&state, &identity, &id).await?;
    let read = state.proofs.report(&identity, &report)?;
    let entry = identity.case_entry(
        AuditAction::ModerationReportRead,
        &report.room_id,
        Purpose::Moderation,
        &report.case_id,
        json!({ "report": report.id }),
    );
    // Recorded (and moved to in_review) before anything is shown.
    let read = state
        .store
        .record_report_read(read, &report.id, state.clock.now_ms(), entry)
        .await?;
    let room = RoomId::try_from(report.room_id.as_str())
        .map_err(|_| ApiError::new(ErrorCode::NotFound, "no such room"))?;
    let events = state.store.messages_by_ids(&read).await?;
    let messages = moderated_messages(&state, &read, &room, &events).await?;
    let report = state.store.report(&report.id).await?.unwrap_or(report);
    Ok(Json(ReportCase {
        summary: summary(&report),
        reason: text_or_marker(report.reason.clone()),
        outcome: report.outcome.clone().map(text_or_marker),
        messages,
    }))
}

/// `GET /v1/moderation/reports/{report}/files/{file}/content`: a file attached to one of the
/// reported messages.
pub(super) async fn read_reported_file(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path((id, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let report = load_report(&state, &identity, &id).await?;
    let stored = super::files::existing_file(&state, &file).await?;
    let read = state
        .proofs
        .reported_file(&identity, &report, &stored.meta)?;
    let details = json!({ "report": report.id, "file": stored.meta.id });
    let download = (report.room_id.as_str(), report.case_id.as_str(), details);
    record_download(&state, &identity, read, download, stored, &headers).await
}

/// `POST /v1/moderation/reports/{report}/close` `{"outcome"}`.
pub(super) async fn close_report(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CloseReport>,
) -> Result<Json<ReportStatus>, ApiError> {
    let report = load_report(&state, &identity, &id).await?;
    policy::decide(
        Caller::Token(&identity),
        Act::CloseReport,
        Purpose::Moderation,
        Resource::Report(&report),
    )?;
    check_prose("outcome", &body.outcome, 1, 2000)?;
    let entry = identity.case_entry(
        AuditAction::ReportClosed,
        &report.room_id,
        Purpose::Moderation,
        &report.case_id,
        json!({ "report": report.id }),
    );
    state
        .store
        .close_report(&report.id, body.outcome.trim(), state.clock.now_ms(), entry)
        .await?;
    let report = state
        .store
        .report(&report.id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such report"))?;
    Ok(Json(status(report)))
}
