//! Anonymous analytics over HTTP (C13): daily counts for services and admins.

use super::error::ApiError;
use super::extract::{ApiQuery, Authenticated};
use crate::app::AppState;
use crate::service::AnalyticsQuery;
use axum::Json;
use axum::extract::State;
use workroom_protocol::analytics::DailyAnalytics;

/// `GET /v1/analytics/daily?from=&until=` → one row per whole past UTC day.
pub(crate) async fn daily(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    ApiQuery(query): ApiQuery<AnalyticsQuery>,
) -> Result<Json<DailyAnalytics>, ApiError> {
    Ok(Json(
        state.service.daily_analytics(&identity, &query).await?,
    ))
}
