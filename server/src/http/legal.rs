//! Legal disclosure over HTTP (C12): exports for legal officers, and the public key any
//! holder of a bundle may check it with.

use super::error::ApiError;
use super::extract::{ApiJson, Authenticated};
use crate::app::AppState;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use workroom_protocol::legal::{ExportList, ExportRequest, ExportView, SigningKeyView};

/// `POST /v1/legal/exports` → 202 with the export (`building`).
pub(crate) async fn create_export(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    ApiJson(body): ApiJson<ExportRequest>,
) -> Result<(StatusCode, Json<ExportView>), ApiError> {
    let export = state.service.create_legal_export(&identity, &body).await?;
    Ok((StatusCode::ACCEPTED, Json(export)))
}

/// `GET /v1/legal/exports` → the newest exports.
pub(crate) async fn list_exports(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
) -> Result<Json<ExportList>, ApiError> {
    Ok(Json(state.service.legal_exports(&identity).await?))
}

/// `GET /v1/legal/exports/{export}` → its state.
pub(crate) async fn get_export(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(export): Path<String>,
) -> Result<Json<ExportView>, ApiError> {
    Ok(Json(state.service.legal_export(&identity, &export).await?))
}

/// `GET /v1/legal/exports/{export}/content` → the bundle (`application/x-tar`), streamed.
pub(crate) async fn export_content(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(export): Path<String>,
) -> Result<Response, ApiError> {
    let download = state.service.legal_bundle(&identity, &export).await?;
    let mut response = Response::new(Body::from_stream(download.stream));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    if let Ok(length) = HeaderValue::from_str(&download.size.to_string()) {
        h.insert(header::CONTENT_LENGTH, length);
    }
    // The export id is `lex_` and hex: always a safe file name.
    if let Ok(disposition) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}.tar\"",
        download.export.id
    )) {
        h.insert(header::CONTENT_DISPOSITION, disposition);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /v1/legal/public-key` → the bundle signing key (no token needed).
pub(crate) async fn public_key(
    State(state): State<AppState>,
) -> Result<Json<SigningKeyView>, ApiError> {
    Ok(Json(state.service.legal_public_key()?))
}
