//! Anonymous analytics (C13): daily counters incremented in the transaction of the act they
//! count, from what that act already knows (never by reading content), and read back per
//! UTC day with no identifier in them.
//!
//! Each (day, metric) figure holds the events, their total (bytes, for files) and how many
//! distinct workrooms contributed; suppression (a server concern) tests the contributors.
//! It is kept in [`SHARDS`] rows, each transaction adding to one picked at random, so that
//! concurrent commits do not queue on one hot row.
//! A workroom is a new contributor when its mark in `analytics_marks` moves to today (one
//! conditional upsert, which reports whether it changed). A process-local cache skips that
//! upsert for workrooms already marked today; it is only a hint (another node may mark a
//! room this cache has not seen: its upsert then changes nothing), and a batch rolled back
//! after its room was cached leaves that room uncounted as a contributor that day, which
//! errs towards suppression.

use crate::Store;
use crate::entity::{analytics_daily, analytics_marks};
use crate::error::StorageError;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

/// Rows per (day, metric).
const SHARDS: u8 = 16;

fn random_shard() -> i16 {
    let mut byte = [0u8; 1];
    // Without randomness every commit uses shard 0: correct, only more contended.
    let _ = aws_lc_rs::rand::fill(&mut byte);
    i16::from(byte[0] % SHARDS)
}

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// Members' messages (not edits, deletes or notices); contributors: active workrooms.
    MessagesSent,
    WorkroomsOpened,
    WorkroomsClosed,
    /// Files uploaded to workrooms; total: their bytes.
    FilesUploaded,
    /// Tracker screenshots posted.
    ScreenshotsPosted,
    ContactReleases,
    ModeratorGrantsOpened,
}

impl Metric {
    pub const ALL: &'static [Metric] = &[
        Metric::MessagesSent,
        Metric::WorkroomsOpened,
        Metric::WorkroomsClosed,
        Metric::FilesUploaded,
        Metric::ScreenshotsPosted,
        Metric::ContactReleases,
        Metric::ModeratorGrantsOpened,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::MessagesSent => "messages_sent",
            Metric::WorkroomsOpened => "workrooms_opened",
            Metric::WorkroomsClosed => "workrooms_closed",
            Metric::FilesUploaded => "files_uploaded",
            Metric::ScreenshotsPosted => "screenshots_posted",
            Metric::ContactReleases => "contact_releases",
            Metric::ModeratorGrantsOpened => "moderator_grants_opened",
        }
    }

    fn parse(name: &str) -> Option<Metric> {
        Metric::ALL.iter().copied().find(|m| m.as_str() == name)
    }
}

/// One metric on one day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DailyCount {
    pub count: u64,
    pub total: u64,
    /// Distinct workrooms that contributed.
    pub contributors: u64,
}

/// The counters of one UTC day (`YYYY-MM-DD`); metrics with nothing counted are absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyCounts {
    pub day: String,
    pub metrics: BTreeMap<Metric, DailyCount>,
}

/// Workrooms already marked today, per metric (see the module doc).
#[derive(Debug, Default)]
pub(crate) struct MarkCache {
    inner: Mutex<(String, HashSet<(Metric, String)>)>,
}

impl MarkCache {
    fn seen(&self, day: &str, metric: Metric, room: &str) -> bool {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if guard.0 != day {
            // A new day: yesterday's marks are no use (and the set stays bounded).
            *guard = (day.to_string(), HashSet::new());
        }
        guard.1.contains(&(metric, room.to_string()))
    }

    fn remember(&self, day: &str, metric: Metric, room: &str) {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if guard.0 == day {
            guard.1.insert((metric, room.to_string()));
        }
    }
}

/// The UTC day of a unix-ms time, `YYYY-MM-DD`.
pub fn utc_day(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let date = time::Date::from_julian_day(i32::try_from(days + 2_440_588).unwrap_or(2_440_588))
        .unwrap_or(time::Date::MIN);
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// One workroom's share of a count: events and their total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Share<'a> {
    pub(crate) room: &'a str,
    pub(crate) count: u64,
    pub(crate) total: u64,
}

impl<'a> Share<'a> {
    pub(crate) fn one(room: &'a str) -> Share<'a> {
        Share {
            room,
            count: 1,
            total: 0,
        }
    }
}

fn db_count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Store {
    /// Count `shares` of `metric` today, inside the caller's transaction.
    pub(crate) async fn count_analytics<C: ConnectionTrait>(
        &self,
        conn: &C,
        metric: Metric,
        shares: &[Share<'_>],
    ) -> Result<(), StorageError> {
        if shares.is_empty() {
            return Ok(());
        }
        let day = utc_day(self.clock.now_ms());
        let mut contributors = 0u64;
        let (mut count, mut total) = (0u64, 0u64);
        for share in shares {
            count += share.count;
            total += share.total;
            if self.analytics_marks.seen(&day, metric, share.room) {
                continue;
            }
            let marked = analytics_marks::Entity::insert(analytics_marks::ActiveModel {
                metric: Set(metric.as_str().to_string()),
                room_id: Set(share.room.to_string()),
                day: Set(day.clone()),
            })
            .on_conflict(
                OnConflict::columns([
                    analytics_marks::Column::Metric,
                    analytics_marks::Column::RoomId,
                ])
                .update_column(analytics_marks::Column::Day)
                .action_and_where(
                    Expr::col((analytics_marks::Entity, analytics_marks::Column::Day))
                        .ne(day.as_str()),
                )
                .to_owned(),
            )
            .exec_without_returning(conn)
            .await?;
            contributors += marked;
            self.analytics_marks.remember(&day, metric, share.room);
        }
        analytics_daily::Entity::insert(analytics_daily::ActiveModel {
            day: Set(day),
            metric: Set(metric.as_str().to_string()),
            shard: Set(random_shard()),
            count: Set(db_count(count)),
            total: Set(db_count(total)),
            contributors: Set(db_count(contributors)),
        })
        .on_conflict(
            OnConflict::columns([
                analytics_daily::Column::Day,
                analytics_daily::Column::Metric,
                analytics_daily::Column::Shard,
            ])
            .value(
                analytics_daily::Column::Count,
                Expr::col((analytics_daily::Entity, analytics_daily::Column::Count))
                    .add(db_count(count)),
            )
            .value(
                analytics_daily::Column::Total,
                Expr::col((analytics_daily::Entity, analytics_daily::Column::Total))
                    .add(db_count(total)),
            )
            .value(
                analytics_daily::Column::Contributors,
                Expr::col((
                    analytics_daily::Entity,
                    analytics_daily::Column::Contributors,
                ))
                .add(db_count(contributors)),
            )
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
        Ok(())
    }

    /// Count workrooms that closed in the caller's transaction.
    pub(crate) async fn count_closed_rooms<C: ConnectionTrait>(
        &self,
        conn: &C,
        rooms: &[String],
    ) -> Result<(), StorageError> {
        let shares: Vec<Share<'_>> = rooms.iter().map(|r| Share::one(r)).collect();
        self.count_analytics(conn, Metric::WorkroomsClosed, &shares)
            .await
    }

    /// The counters of the days `from..=until` (`YYYY-MM-DD`), oldest first; a day with
    /// nothing counted is listed with no metrics.
    pub async fn analytics_days(
        &self,
        from: time::Date,
        until: time::Date,
    ) -> Result<Vec<DailyCounts>, StorageError> {
        let name = |d: time::Date| utc_day(day_start_ms(d));
        let rows = analytics_daily::Entity::find()
            .filter(analytics_daily::Column::Day.gte(name(from)))
            .filter(analytics_daily::Column::Day.lte(name(until)))
            .order_by_asc(analytics_daily::Column::Day)
            .all(&self.db)
            .await?;
        let mut by_day: BTreeMap<String, BTreeMap<Metric, DailyCount>> = BTreeMap::new();
        for row in rows {
            let Some(metric) = Metric::parse(&row.metric) else {
                continue;
            };
            let sum = by_day
                .entry(row.day)
                .or_default()
                .entry(metric)
                .or_default();
            sum.count += u64::try_from(row.count).unwrap_or(0);
            sum.total += u64::try_from(row.total).unwrap_or(0);
            sum.contributors += u64::try_from(row.contributors).unwrap_or(0);
        }
        let mut out = Vec::new();
        let mut day = from;
        while day <= until {
            let key = name(day);
            out.push(DailyCounts {
                metrics: by_day.remove(&key).unwrap_or_default(),
                day: key,
            });
            match day.next_day() {
                Some(next) => day = next,
                None => break,
            }
        }
        Ok(out)
    }
}

/// Unix ms of a day's midnight, UTC.
fn day_start_ms(day: time::Date) -> i64 {
    (i64::from(day.to_julian_day()) - 2_440_588) * 86_400_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_calendar_days() {
        assert_eq!(utc_day(0), "1970-01-01");
        assert_eq!(utc_day(86_399_999), "1970-01-01");
        assert_eq!(utc_day(86_400_000), "1970-01-02");
        assert_eq!(utc_day(-1), "1969-12-31");
        // 2026-12-01T00:00:00Z
        assert_eq!(utc_day(1_796_083_200_000), "2026-12-01");
        let date = time::macros::date!(2026 - 12 - 01);
        assert_eq!(utc_day(day_start_ms(date)), "2026-12-01");
    }
}

#[cfg(test)]
mod counting {
    use super::*;
    use crate::Clock;
    use crate::db::{DatabaseOptions, SqliteSync};
    use crate::keyring::{Keyring, MasterKey, MasterKeySet};
    use std::sync::Arc;
    use std::time::Duration;

    async fn node(path: &std::path::Path, clock: Clock) -> Store {
        let keyring = Arc::new(Keyring::new(
            MasterKeySet::new(vec![MasterKey::generate()]).unwrap(),
        ));
        Store::open(
            &DatabaseOptions {
                url: None,
                sqlite_path: path.to_path_buf(),
                sqlite_synchronous: SqliteSync::Full,
                max_connections: 2,
                acquire_timeout: Duration::from_secs(5),
            },
            keyring,
            clock,
        )
        .await
        .unwrap()
    }

    async fn count(store: &Store, shares: &[(&str, u64)]) {
        let shares: Vec<Share<'_>> = shares
            .iter()
            .map(|(room, count)| Share {
                room,
                count: *count,
                total: 0,
            })
            .collect();
        let txn = store.begin_write().await.unwrap();
        store
            .count_analytics(&txn, Metric::MessagesSent, &shares)
            .await
            .unwrap();
        txn.commit().await.unwrap();
    }

    #[tokio::test]
    async fn a_workroom_contributes_once_per_day_and_metric_whichever_node_counts_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("workroom.db");
        let (clock, control) = Clock::adjustable();
        let a = node(&path, clock.clone()).await;
        a.migrate().await.unwrap();
        // Another node on the same database: its mark cache knows nothing of `a`'s.
        let b = node(&path, clock.clone()).await;
        // Noon, so that no count below falls on the other side of a midnight.
        let into_day = clock.now_ms().rem_euclid(86_400_000);
        let noon = 43_200_000;
        if into_day > noon {
            control.rewind(Duration::from_millis((into_day - noon) as u64));
        } else {
            control.advance(Duration::from_millis((noon - into_day) as u64));
        }
        let first = time::OffsetDateTime::from_unix_timestamp(clock.now_secs() as i64)
            .unwrap()
            .date();
        count(&a, &[("r1", 3), ("r2", 1)]).await;
        count(&a, &[("r1", 2)]).await;
        count(&b, &[("r1", 1), ("r3", 1)]).await;
        control.advance(Duration::from_secs(86_400));
        count(&b, &[("r1", 4)]).await;
        count(&a, &[("r1", 1)]).await;
        let days = a
            .analytics_days(first, first.next_day().unwrap())
            .await
            .unwrap();
        let sent = |i: usize| days[i].metrics[&Metric::MessagesSent];
        assert_eq!(
            sent(0),
            DailyCount {
                count: 8,
                total: 0,
                contributors: 3
            }
        );
        assert_eq!(
            sent(1),
            DailyCount {
                count: 5,
                total: 0,
                contributors: 1
            }
        );
        assert!(!days[0].metrics.contains_key(&Metric::FilesUploaded));
    }
}
