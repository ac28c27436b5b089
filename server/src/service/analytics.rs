//! Anonymous analytics (C13): the daily counters, with small cells suppressed.
//!
//! The counters are kept by the storage layer in the transaction of each act they count
//! (`workroom_storage::repo::analytics`); nothing here reads content, and the policy's
//! `anonymous_analytics` purpose could not: `policy::readable` is false for it whatever
//! the item. A cell is suppressed when fewer than `analytics.min_count` distinct
//! workrooms fed it. Only whole past UTC days are served, in fixed daily buckets, so two
//! queries can never be subtracted to isolate one workroom's activity within a day.

use super::{Failure, Service};
use crate::auth::Identity;
use crate::policy::Act;
use serde::Deserialize;
use time::Date;
use time::macros::format_description;
use workroom_protocol::Purpose;
use workroom_protocol::analytics::{Cell, DailyAnalytics, DayView};
use workroom_storage::{DailyCount, DailyCounts, Metric, StorageError, Store};

/// `GET /v1/analytics/daily?from=&until=` (UTC days, `YYYY-MM-DD`, both inclusive).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsQuery {
    /// Default: 29 days before `until`.
    pub from: Option<String>,
    /// Default: yesterday. Must be before today: a day is reported once it is over.
    pub until: Option<String>,
}

fn parse_day(name: &str, text: &str) -> Result<Date, Failure> {
    Date::parse(text, format_description!("[year]-[month]-[day]"))
        .map_err(|_| Failure::invalid(format!("{name}: expected a UTC day as YYYY-MM-DD")))
}

/// The UTC day of a unix-ms time.
fn day_of(ms: i64) -> Date {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .map(|t| t.date())
        .unwrap_or(Date::MIN)
}

/// The days asked for: whole past days only, at most `max_days`.
pub fn day_range(
    from: Option<&str>,
    until: Option<&str>,
    now_ms: i64,
    max_days: u64,
) -> Result<(Date, Date), Failure> {
    let today = day_of(now_ms);
    let until = match until {
        Some(text) => parse_day("until", text)?,
        None => today.previous_day().unwrap_or(today),
    };
    if until >= today {
        return Err(Failure::invalid(
            "until: must be before today (UTC): a day is reported once it is over",
        ));
    }
    let from = match from {
        Some(text) => parse_day("from", text)?,
        // The first representable days have no 29 days before them.
        None => until
            .checked_sub(time::Duration::days(29))
            .ok_or_else(|| Failure::invalid("until: too early to report 30 days up to it"))?,
    };
    if from > until {
        return Err(Failure::invalid("from: must not be after until"));
    }
    let span = u64::try_from((until - from).whole_days() + 1).unwrap_or(u64::MAX);
    if span > max_days {
        return Err(Failure::invalid(format!(
            "from: at most {max_days} days per query"
        )));
    }
    Ok((from, until))
}

/// One day's cells, suppressed where fewer than `min_count` workrooms contributed.
fn suppress(day: &DailyCounts, min_count: u64) -> DayView {
    let get = |metric| day.metrics.get(&metric).copied().unwrap_or_default();
    // A cell is exact when nobody fed it (zero describes no one) or enough workrooms did.
    let cell = |value: u64, fed_by: &DailyCount| {
        if fed_by.count == 0 || fed_by.contributors >= min_count {
            Cell::Count(value)
        } else {
            Cell::SUPPRESSED
        }
    };
    let messages = get(Metric::MessagesSent);
    let opened = get(Metric::WorkroomsOpened);
    let closed = get(Metric::WorkroomsClosed);
    let files = get(Metric::FilesUploaded);
    let shots = get(Metric::ScreenshotsPosted);
    let releases = get(Metric::ContactReleases);
    let grants = get(Metric::ModeratorGrantsOpened);
    DayView {
        day: day.day.clone(),
        messages_sent: cell(messages.count, &messages),
        workrooms_active: cell(messages.contributors, &messages),
        workrooms_opened: cell(opened.count, &opened),
        workrooms_closed: cell(closed.count, &closed),
        files_uploaded: cell(files.count, &files),
        file_bytes: cell(files.total, &files),
        screenshots_posted: cell(shots.count, &shots),
        contact_releases: cell(releases.count, &releases),
        moderator_grants_opened: cell(grants.count, &grants),
    }
}

/// The suppressed views of `from..=until` (the HTTP route and `workroom analytics export`).
pub async fn day_views(
    store: &Store,
    from: Date,
    until: Date,
    min_count: u64,
) -> Result<Vec<DayView>, StorageError> {
    Ok(store
        .analytics_days(from, until)
        .await?
        .iter()
        .map(|day| suppress(day, min_count))
        .collect())
}

impl Service {
    /// Daily analytics for services and admins.
    pub async fn daily_analytics(
        &self,
        identity: &Identity,
        query: &AnalyticsQuery,
    ) -> Result<DailyAnalytics, Failure> {
        self.allow(identity, Act::ReadAnalytics, Purpose::AnonymousAnalytics)?;
        let config = &self.config.analytics;
        let (from, until) = day_range(
            query.from.as_deref(),
            query.until.as_deref(),
            self.clock.now_ms(),
            config.max_days,
        )?;
        Ok(DailyAnalytics {
            min_count: config.min_count,
            days: day_views(&self.store, from, until, config.min_count).await?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn day(metrics: &[(Metric, u64, u64, u64)]) -> DailyCounts {
        DailyCounts {
            day: "2026-11-30".into(),
            metrics: metrics
                .iter()
                .map(|(m, count, total, contributors)| {
                    (
                        *m,
                        DailyCount {
                            count: *count,
                            total: *total,
                            contributors: *contributors,
                        },
                    )
                })
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn cells_fed_by_few_workrooms_are_suppressed_not_zero() {
        let view = suppress(
            &day(&[
                (Metric::MessagesSent, 500, 0, 9),
                (Metric::FilesUploaded, 12, 4096, 10),
                (Metric::WorkroomsOpened, 3, 0, 3),
            ]),
            10,
        );
        assert_eq!(view.messages_sent, Cell::SUPPRESSED);
        assert_eq!(view.workrooms_active, Cell::SUPPRESSED);
        assert_eq!(view.files_uploaded, Cell::Count(12));
        assert_eq!(view.file_bytes, Cell::Count(4096));
        assert_eq!(view.workrooms_opened, Cell::SUPPRESSED);
        // Nothing happened: an exact zero describes nobody.
        assert_eq!(view.workrooms_closed, Cell::Count(0));
    }

    #[test]
    fn only_whole_past_days_within_the_span() {
        let now = 1_796_083_200_000 + 3_600_000; // 2026-12-01T01:00Z
        let (from, until) = day_range(None, None, now, 366).unwrap();
        assert_eq!(until.to_string(), "2026-11-30");
        assert_eq!(from.to_string(), "2026-11-01");
        assert!(day_range(None, Some("2026-12-01"), now, 366).is_err());
        assert!(day_range(Some("2026-11-30"), Some("2026-11-29"), now, 366).is_err());
        assert!(day_range(Some("2025-01-01"), Some("2026-11-30"), now, 366).is_err());
        assert!(day_range(Some("2026-11-31"), None, now, 366).is_err());
        // The first representable day has no 29 days before it: refused, not a panic.
        assert!(day_range(None, Some("-9999-01-01"), now, 366).is_err());
        assert!(day_range(None, Some("0000-01-01"), now, 366).is_ok());
    }
}
