//! Anonymous analytics (C13): daily counts with no identifier, small counts suppressed.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One cell: an exact count, or `"suppressed"` when fewer than `min_count` workrooms
/// contributed to it (never shown as zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
#[serde(untagged)]
pub enum Cell {
    Count(u64),
    Suppressed(Suppressed),
}

/// The string `"suppressed"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Suppressed {
    Suppressed,
}

impl Cell {
    pub const SUPPRESSED: Cell = Cell::Suppressed(Suppressed::Suppressed);

    /// The count, or `None` when suppressed.
    pub fn count(self) -> Option<u64> {
        match self {
            Cell::Count(n) => Some(n),
            Cell::Suppressed(_) => None,
        }
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Count(n) => write!(f, "{n}"),
            Cell::Suppressed(_) => f.write_str("suppressed"),
        }
    }
}

/// One UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct DayView {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub messages_sent: Cell,
    /// Workrooms in which at least one message was sent that day.
    pub workrooms_active: Cell,
    pub workrooms_opened: Cell,
    pub workrooms_closed: Cell,
    pub files_uploaded: Cell,
    pub file_bytes: Cell,
    pub screenshots_posted: Cell,
    pub contact_releases: Cell,
    pub moderator_grants_opened: Cell,
}

impl DayView {
    /// The column names, in CSV order.
    pub const COLUMNS: &'static [&'static str] = &[
        "day",
        "messages_sent",
        "workrooms_active",
        "workrooms_opened",
        "workrooms_closed",
        "files_uploaded",
        "file_bytes",
        "screenshots_posted",
        "contact_releases",
        "moderator_grants_opened",
    ];

    /// The cells after `day`, in [`DayView::COLUMNS`] order.
    pub fn cells(&self) -> [Cell; 9] {
        [
            self.messages_sent,
            self.workrooms_active,
            self.workrooms_opened,
            self.workrooms_closed,
            self.files_uploaded,
            self.file_bytes,
            self.screenshots_posted,
            self.contact_releases,
            self.moderator_grants_opened,
        ]
    }
}

/// `GET /v1/analytics/daily?from=&until=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct DailyAnalytics {
    /// Cells with fewer contributing workrooms than this are suppressed.
    pub min_count: u64,
    pub days: Vec<DayView>,
}
