//! Tracker screenshots (C9) as members and reviewers see them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One screenshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct ScreenshotView {
    pub id: String,
    pub room: String,
    pub contractor: String,
    pub captured_at: String,
    /// 0–100.
    pub activity: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memo: Option<String>,
    /// Whether the client side sees it.
    pub shared: bool,
    pub content_type: String,
    pub size: u64,
}

/// `GET /v1/rooms/{room}/screenshots` and the review listing: one page, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct ScreenshotList {
    pub room: String,
    pub screenshots: Vec<ScreenshotView>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}
