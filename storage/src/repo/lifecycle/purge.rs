//! Retention of closed workrooms and their purge (C10).
//!
//! A closed room is due once `closed_at + retention` has passed (the room's own override,
//! else the global `retention.closed_room_secs`). The purge:
//! 1. claims the room under a lease in one transaction (every node may try; one holds the
//!    lease, another takes over only once it lapsed), after checking that no legal hold
//!    covers it (a held room gets a `pending_erasures` row and `erasure.deferred` once);
//!    from the claim on, members read it as purged;
//! 2. destroys the room's data key (crypto-shred: every body, name and file key under it is
//!    unrecoverable from this instant, whatever happens next);
//! 3. deletes stored objects and then their rows, then messages with their prior versions
//!    by seq window, each batch its own short transaction (the committers, which take the
//!    same writer, never wait for more than one batch), counting what went in the room row;
//! 4. deletes the rest (markers, grants, reports, releases, parties) and writes the
//!    tombstone (`purged_at`) with `retention.purged` and the counts in one transaction.
//!
//! Every step is idempotent and resumes where the rows say it stopped, so a `kill -9`
//! anywhere is finished by the next run, and a second run of a finished purge does nothing.

use super::termination::{defer_erasure, deferred_entry};
use crate::Store;
use crate::audit::{Actor, AuditAction};
use crate::blob::BlobStore;
use crate::entity::{
    analytics_marks, contact_releases, files, grants, messages, pending_erasures, prior_versions,
    read_markers, report_messages, reports, room_parties, rooms, screenshots,
};
use crate::error::StorageError;
use crate::keyring::KeyScope;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use workroom_protocol::Purpose;

/// How a purge runs.
#[derive(Debug, Clone, Copy)]
pub struct PurgeOptions {
    /// The global retention after closing, for rooms without an override.
    pub default_retention_secs: i64,
    /// Messages per transaction.
    pub batch: u64,
    /// Files (objects) per transaction.
    pub file_batch: u64,
    /// How long a claim holds before another node may take the work over.
    pub lease_ms: i64,
    /// Purge now even if retention has not passed (the marketplace asked); the room must
    /// still be closed and not held.
    pub now_requested: bool,
}

/// What was removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeCounts {
    pub messages: i64,
    pub files: i64,
    pub bytes: i64,
}

/// What one purge attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurgeOutcome {
    /// Purged now (or finished a purge begun before a crash).
    Purged(PurgeCounts),
    /// Purged before: nothing to do.
    AlreadyPurged,
    /// Retention has not passed.
    NotDue,
    /// A legal hold covers it: deferred until the hold lifts.
    Held,
    /// Another node holds the lease.
    Busy,
}

/// A room's retention as shown to members and operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomRetention {
    pub room: String,
    pub closed_at: Option<i64>,
    /// The room's own retention (seconds), if it has one.
    pub retention_secs: Option<i64>,
    pub purge_started_at: Option<i64>,
    pub purged_at: Option<i64>,
    pub counts: PurgeCounts,
}

impl RoomRetention {
    /// When the room is due for purge, given the global retention (`None` while open).
    pub fn purge_at(&self, default_retention_secs: i64) -> Option<i64> {
        let secs = self.retention_secs.unwrap_or(default_retention_secs);
        self.closed_at
            .map(|closed| closed.saturating_add(secs.saturating_mul(1000)))
    }
}

fn retention_of(row: rooms::Model) -> RoomRetention {
    RoomRetention {
        counts: PurgeCounts {
            messages: row.purged_messages,
            files: row.purged_files,
            bytes: row.purged_bytes,
        },
        room: row.id,
        closed_at: row.closed_at,
        retention_secs: row.retention_secs,
        purge_started_at: row.purge_started_at,
        purged_at: row.purged_at,
    }
}

impl Store {
    /// A room's retention (`None` for an unknown room).
    pub async fn room_retention(&self, room: &str) -> Result<Option<RoomRetention>, StorageError> {
        Ok(rooms::Entity::find_by_id(room.to_string())
            .one(&self.db)
            .await?
            .map(retention_of))
    }

    /// Set (or with `None` clear) a room's own retention. `NotFound` for an unknown room,
    /// `Conflict` once its purge began. Audited (`retention.changed`).
    pub async fn set_room_retention(
        &self,
        room: &str,
        retention_secs: Option<i64>,
        actor: &Actor,
        purpose: Purpose,
    ) -> Result<RoomRetention, StorageError> {
        let txn = self.begin_write().await?;
        let row = rooms::Entity::find_by_id(room.to_string())
            .one(&txn)
            .await?
            .ok_or(StorageError::NotFound)?;
        if row.purge_started_at.is_some() {
            return Err(StorageError::Conflict("this workroom was purged".into()));
        }
        rooms::Entity::update_many()
            .col_expr(rooms::Column::RetentionSecs, Expr::value(retention_secs))
            .filter(rooms::Column::Id.eq(room))
            .exec(&txn)
            .await?;
        let entry = actor.entry(
            AuditAction::RetentionChanged,
            &format!("room:{room}"),
            purpose,
            serde_json::json!({"from_secs": row.retention_secs, "to_secs": retention_secs}),
        );
        self.append_audit_in(&txn, &[entry]).await?;
        txn.commit().await?;
        let mut shown = retention_of(row);
        shown.retention_secs = retention_secs;
        Ok(shown)
    }

    /// Closed rooms whose retention passed by `now` and whose purge has not finished,
    /// oldest closure first, at most `limit`.
    pub async fn rooms_due_for_purge(
        &self,
        now: i64,
        default_retention_secs: i64,
        limit: u64,
    ) -> Result<Vec<String>, StorageError> {
        let cutoff = now.saturating_sub(default_retention_secs.saturating_mul(1000));
        let mut due: Vec<(i64, String)> = rooms::Entity::find()
            .filter(rooms::Column::ClosedAt.lte(cutoff))
            .filter(rooms::Column::RetentionSecs.is_null())
            .filter(rooms::Column::PurgedAt.is_null())
            .order_by_asc(rooms::Column::ClosedAt)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|r| (r.closed_at.unwrap_or_default(), r.id))
            .collect();
        // Rooms with their own retention are few: checked one by one.
        let overridden = rooms::Entity::find()
            .filter(rooms::Column::ClosedAt.is_not_null())
            .filter(rooms::Column::RetentionSecs.is_not_null())
            .filter(rooms::Column::PurgedAt.is_null())
            .all(&self.db)
            .await?;
        for row in overridden {
            let retention = retention_of(row);
            if retention
                .purge_at(default_retention_secs)
                .is_some_and(|at| at <= now)
            {
                due.push((retention.closed_at.unwrap_or_default(), retention.room));
            }
        }
        due.sort();
        due.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(due.into_iter().map(|(_, room)| room).collect())
    }

    /// Purge one room if it is due (see the module doc). `NotFound` for an unknown room,
    /// `Conflict` for one that is not closed.
    pub async fn purge_room(
        &self,
        blobs: &BlobStore,
        room: &str,
        options: PurgeOptions,
    ) -> Result<PurgeOutcome, StorageError> {
        match self.claim_purge(room, options).await? {
            Claim::Claimed => {}
            Claim::Not(outcome) => return Ok(outcome),
        }
        // Crypto-shred before anything else.
        self.destroy_data_key(KeyScope::Room(room)).await?;
        self.purge_files(blobs, room, options).await?;
        self.purge_messages(room, options).await?;
        let counts = self.finish_purge(room).await?;
        Ok(PurgeOutcome::Purged(counts))
    }

    async fn claim_purge(&self, room: &str, options: PurgeOptions) -> Result<Claim, StorageError> {
        let txn = self.begin_write().await?;
        let row = rooms::Entity::find_by_id(room.to_string())
            .one(&txn)
            .await?
            .ok_or(StorageError::NotFound)?;
        if row.purged_at.is_some() {
            return Ok(Claim::Not(PurgeOutcome::AlreadyPurged));
        }
        if row.closed_at.is_none() {
            return Err(StorageError::Conflict(
                "the workroom is open: only a closed workroom can be purged".into(),
            ));
        }
        let now = self.clock.now_ms();
        if row.lease_held(now) {
            return Ok(Claim::Not(PurgeOutcome::Busy));
        }
        // A purge that began (its key is gone) always finishes; before that, retention and
        // holds decide.
        if row.purge_started_at.is_none() {
            let due = options.now_requested
                || retention_of(row.clone())
                    .purge_at(options.default_retention_secs)
                    .is_some_and(|at| at <= now);
            if !due {
                return Ok(Claim::Not(PurgeOutcome::NotDue));
            }
            let holds = self.active_holds(&txn).await?;
            if self.room_held(&txn, &holds, room).await? {
                let key = KeyScope::Room(room);
                if defer_erasure(&txn, key, "retention", &[], now).await? {
                    self.append_audit_in(&txn, &[deferred_entry(key, "retention")])
                        .await?;
                }
                txn.commit().await?;
                return Ok(Claim::Not(PurgeOutcome::Held));
            }
        }
        rooms::Entity::update_many()
            .col_expr(
                rooms::Column::PurgeLeaseUntil,
                Expr::value(now.saturating_add(options.lease_ms)),
            )
            .col_expr(
                rooms::Column::PurgeStartedAt,
                Expr::value(row.purge_started_at.unwrap_or(now)),
            )
            .filter(rooms::Column::Id.eq(room))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(Claim::Claimed)
    }

    /// Objects first, then their rows (a crash between leaves rows whose objects are
    /// already gone: the next run deletes them again, which a missing object allows).
    async fn purge_files(
        &self,
        blobs: &BlobStore,
        room: &str,
        options: PurgeOptions,
    ) -> Result<(), StorageError> {
        loop {
            let batch = files::Entity::find()
                .filter(files::Column::RoomId.eq(room))
                .order_by_asc(files::Column::Id)
                .limit(options.file_batch)
                .all(&self.db)
                .await?;
            if batch.is_empty() {
                return Ok(());
            }
            for file in &batch {
                blobs
                    .delete(&file.object_key)
                    .await
                    .map_err(|e| StorageError::Blob(e.to_string()))?;
            }
            let ids: Vec<String> = batch.iter().map(|f| f.id.clone()).collect();
            let bytes: i64 = batch.iter().map(|f| f.size).sum();
            let txn = self.begin_write().await?;
            screenshots::Entity::delete_many()
                .filter(screenshots::Column::FileId.is_in(ids.clone()))
                .exec(&txn)
                .await?;
            let removed = files::Entity::delete_many()
                .filter(files::Column::Id.is_in(ids))
                .exec(&txn)
                .await?
                .rows_affected;
            let removed = i64::try_from(removed).unwrap_or(i64::MAX);
            self.count_purged(&txn, room, 0, removed, bytes, options)
                .await?;
            txn.commit().await?;
            tokio::task::yield_now().await;
        }
    }

    /// Messages (with their prior versions and report links) by seq window.
    async fn purge_messages(&self, room: &str, options: PurgeOptions) -> Result<(), StorageError> {
        let batch = i64::try_from(Ord::max(options.batch, 1)).unwrap_or(500);
        loop {
            let first = messages::Entity::find()
                .filter(messages::Column::RoomId.eq(room))
                .order_by_asc(messages::Column::Seq)
                .limit(1)
                .one(&self.db)
                .await?;
            let Some(first) = first else {
                return Ok(());
            };
            let (from, to) = (first.seq, first.seq.saturating_add(batch));
            let txn = self.begin_write().await?;
            let ids: Vec<String> = messages::Entity::find()
                .select_only()
                .column(messages::Column::MsgId)
                .filter(messages::Column::RoomId.eq(room))
                .filter(messages::Column::Seq.gte(from))
                .filter(messages::Column::Seq.lt(to))
                .into_tuple()
                .all(&txn)
                .await?;
            prior_versions::Entity::delete_many()
                .filter(prior_versions::Column::MsgId.is_in(ids.clone()))
                .exec(&txn)
                .await?;
            report_messages::Entity::delete_many()
                .filter(report_messages::Column::MsgId.is_in(ids))
                .exec(&txn)
                .await?;
            let removed = messages::Entity::delete_many()
                .filter(messages::Column::RoomId.eq(room))
                .filter(messages::Column::Seq.gte(from))
                .filter(messages::Column::Seq.lt(to))
                .exec(&txn)
                .await?
                .rows_affected;
            let removed = i64::try_from(removed).unwrap_or(i64::MAX);
            self.count_purged(&txn, room, removed, 0, 0, options)
                .await?;
            txn.commit().await?;
            tokio::task::yield_now().await;
        }
    }

    async fn count_purged(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        room: &str,
        messages: i64,
        files: i64,
        bytes: i64,
        options: PurgeOptions,
    ) -> Result<(), StorageError> {
        let lease = self.clock.now_ms().saturating_add(options.lease_ms);
        rooms::Entity::update_many()
            .col_expr(
                rooms::Column::PurgedMessages,
                Expr::col(rooms::Column::PurgedMessages).add(messages),
            )
            .col_expr(
                rooms::Column::PurgedFiles,
                Expr::col(rooms::Column::PurgedFiles).add(files),
            )
            .col_expr(
                rooms::Column::PurgedBytes,
                Expr::col(rooms::Column::PurgedBytes).add(bytes),
            )
            .col_expr(rooms::Column::PurgeLeaseUntil, Expr::value(lease))
            .filter(rooms::Column::Id.eq(room))
            .exec(txn)
            .await?;
        Ok(())
    }

    /// The small tables, then the tombstone and its audit entry, in one transaction.
    async fn finish_purge(&self, room: &str) -> Result<PurgeCounts, StorageError> {
        let txn = self.begin_write().await?;
        prior_versions::Entity::delete_many()
            .filter(prior_versions::Column::RoomId.eq(room))
            .exec(&txn)
            .await?;
        screenshots::Entity::delete_many()
            .filter(screenshots::Column::RoomId.eq(room))
            .exec(&txn)
            .await?;
        read_markers::Entity::delete_many()
            .filter(read_markers::Column::RoomId.eq(room))
            .exec(&txn)
            .await?;
        grants::Entity::delete_many()
            .filter(grants::Column::RoomId.eq(room))
            .exec(&txn)
            .await?;
        let report_ids: Vec<String> = reports::Entity::find()
            .filter(reports::Column::RoomId.eq(room))
            .all(&txn)
            .await?
            .into_iter()
            .map(|r| r.id)
            .collect();
        report_messages::Entity::delete_many()
            .filter(report_messages::Column::ReportId.is_in(report_ids))
            .exec(&txn)
            .await?;
        reports::Entity::delete_many()
            .filter(reports::Column::RoomId.eq(room))
            .exec(&txn)
            .await?;
        contact_releases::Entity::delete_many()
            .filter(contact_releases::Column::RoomId.eq(room))
            .exec(&txn)
            .await?;
        room_parties::Entity::delete_many()
            .filter(room_parties::Column::RoomId.eq(room))
            .exec(&txn)
            .await?;
        // The analytics' working marks name the room; the daily counts name nothing and stay.
        analytics_marks::Entity::delete_many()
            .filter(analytics_marks::Column::RoomId.eq(room))
            .exec(&txn)
            .await?;
        pending_erasures::Entity::delete_by_id(KeyScope::Room(room).key_id())
            .exec(&txn)
            .await?;
        let now = self.clock.now_ms();
        rooms::Entity::update_many()
            .col_expr(rooms::Column::PurgedAt, Expr::value(now))
            .col_expr(
                rooms::Column::PurgeLeaseUntil,
                Expr::value(Option::<i64>::None),
            )
            .col_expr(rooms::Column::FileBytes, Expr::value(0i64))
            .filter(rooms::Column::Id.eq(room))
            .exec(&txn)
            .await?;
        let row = rooms::Entity::find_by_id(room.to_string())
            .one(&txn)
            .await?
            .ok_or(StorageError::NotFound)?;
        let counts = retention_of(row).counts;
        let entry = Actor::new("system", "system").entry(
            AuditAction::RetentionPurged,
            &format!("room:{room}"),
            Purpose::Operations,
            serde_json::json!({
                "messages": counts.messages,
                "files": counts.files,
                "bytes": counts.bytes,
            }),
        );
        self.append_audit_in(&txn, &[entry]).await?;
        txn.commit().await?;
        Ok(counts)
    }
}

enum Claim {
    Claimed,
    Not(PurgeOutcome),
}

impl rooms::Model {
    fn lease_held(&self, now: i64) -> bool {
        self.purge_lease_until.is_some_and(|until| until > now)
    }
}
