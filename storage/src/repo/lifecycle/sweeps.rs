//! Bounded retention for what outlives its purpose inside open or retained workrooms (C10):
//! the connection log, prior versions kept for compliance, the records of ended grants and
//! closed reports, revocations past the tokens' lifetime, and Tracker screenshots of closed
//! workrooms. Each sweep deletes in batches of its own transaction and reports a count;
//! the lifecycle task writes one `retention.swept` entry per kind that removed anything.

use crate::Store;
use crate::blob::BlobStore;
use crate::entity::{
    connection_users, connections, files, grants, prior_versions, report_messages, reports,
    revoked_bots, revoked_tokens, rooms, screenshots,
};
use crate::error::StorageError;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

const BATCH: u64 = 500;

impl Store {
    /// Connection records (and their user links) older than `before` (Unix ms).
    pub async fn sweep_connection_log(&self, before: i64) -> Result<u64, StorageError> {
        let mut removed = 0;
        loop {
            let sessions: Vec<String> = connections::Entity::find()
                .select_only()
                .column(connections::Column::SessionId)
                .filter(connections::Column::ConnectedAt.lt(before))
                .limit(BATCH)
                .into_tuple()
                .all(&self.db)
                .await?;
            if sessions.is_empty() {
                break;
            }
            let txn = self.begin_write().await?;
            connection_users::Entity::delete_many()
                .filter(connection_users::Column::SessionId.is_in(sessions.clone()))
                .exec(&txn)
                .await?;
            removed += connections::Entity::delete_many()
                .filter(connections::Column::SessionId.is_in(sessions))
                .exec(&txn)
                .await?
                .rows_affected;
            txn.commit().await?;
        }
        // Links whose connection record never arrived (or went first).
        removed += connection_users::Entity::delete_many()
            .filter(connection_users::Column::FirstSeen.lt(before))
            .exec(&self.db)
            .await?
            .rows_affected;
        Ok(removed)
    }

    /// Prior versions of edited or deleted messages replaced before `before`.
    pub async fn sweep_prior_versions(&self, before: i64) -> Result<u64, StorageError> {
        let mut removed = 0;
        loop {
            let keys: Vec<(String, i32)> = prior_versions::Entity::find()
                .select_only()
                .column(prior_versions::Column::MsgId)
                .column(prior_versions::Column::Version)
                .filter(prior_versions::Column::ReplacedAt.lt(before))
                .limit(BATCH)
                .into_tuple()
                .all(&self.db)
                .await?;
            if keys.is_empty() {
                return Ok(removed);
            }
            let mut any = Condition::any();
            for (msg, version) in keys {
                any = any.add(
                    Condition::all()
                        .add(prior_versions::Column::MsgId.eq(msg))
                        .add(prior_versions::Column::Version.eq(version)),
                );
            }
            removed += prior_versions::Entity::delete_many()
                .filter(any)
                .exec(&self.db)
                .await?
                .rows_affected;
        }
    }

    /// Grants that ended (revoked, or expired and recorded) and reports closed before
    /// `before`: the moderation records, with their sealed reasons and outcomes.
    pub async fn sweep_moderation_records(&self, before: i64) -> Result<u64, StorageError> {
        let ended = Condition::any()
            .add(grants::Column::RevokedAt.lt(before))
            .add(
                Condition::all()
                    .add(grants::Column::RevokedAt.is_null())
                    .add(grants::Column::ExpiryRecorded.eq(true))
                    .add(grants::Column::ExpiresAt.lt(before)),
            );
        let mut removed = grants::Entity::delete_many()
            .filter(ended)
            .exec(&self.db)
            .await?
            .rows_affected;
        loop {
            let ids: Vec<String> = reports::Entity::find()
                .select_only()
                .column(reports::Column::Id)
                .filter(reports::Column::State.eq("closed"))
                .filter(reports::Column::UpdatedAt.lt(before))
                .limit(BATCH)
                .into_tuple()
                .all(&self.db)
                .await?;
            if ids.is_empty() {
                return Ok(removed);
            }
            let txn = self.begin_write().await?;
            report_messages::Entity::delete_many()
                .filter(report_messages::Column::ReportId.is_in(ids.clone()))
                .exec(&txn)
                .await?;
            removed += reports::Entity::delete_many()
                .filter(reports::Column::Id.is_in(ids))
                .exec(&txn)
                .await?
                .rows_affected;
            txn.commit().await?;
        }
    }

    /// Logout revocations whose token expired by `now`, and bot revocations older than
    /// `bots_before`.
    pub async fn sweep_revocations(&self, now: i64, bots_before: i64) -> Result<u64, StorageError> {
        let tokens = revoked_tokens::Entity::delete_many()
            .filter(revoked_tokens::Column::ExpiresAt.lt(now))
            .exec(&self.db)
            .await?
            .rows_affected;
        let bots = revoked_bots::Entity::delete_many()
            .filter(revoked_bots::Column::RevokedAt.lt(bots_before))
            .exec(&self.db)
            .await?
            .rows_affected;
        Ok(tokens + bots)
    }

    /// Tracker screenshots (rows, files, objects) of rooms closed before `closed_before`
    /// whose purge has not begun, except rooms a legal hold covers.
    pub async fn sweep_closed_room_screenshots(
        &self,
        blobs: &BlobStore,
        closed_before: i64,
    ) -> Result<u64, StorageError> {
        let candidates: Vec<String> = screenshots::Entity::find()
            .select_only()
            .column(screenshots::Column::RoomId)
            .distinct()
            .into_tuple()
            .all(&self.db)
            .await?;
        if candidates.is_empty() {
            return Ok(0);
        }
        let closed: Vec<String> = rooms::Entity::find()
            .filter(rooms::Column::Id.is_in(candidates))
            .filter(rooms::Column::ClosedAt.lt(closed_before))
            .filter(rooms::Column::PurgeStartedAt.is_null())
            .order_by_asc(rooms::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|r| r.id)
            .collect();
        let holds = self.active_holds(&self.db).await?;
        let mut removed = 0;
        for room in closed {
            if self.room_held(&self.db, &holds, &room).await? {
                continue;
            }
            loop {
                let shots = screenshots::Entity::find()
                    .filter(screenshots::Column::RoomId.eq(room.as_str()))
                    .limit(100)
                    .all(&self.db)
                    .await?;
                if shots.is_empty() {
                    break;
                }
                let file_ids: Vec<String> = shots.iter().map(|s| s.file_id.clone()).collect();
                let stored = files::Entity::find()
                    .filter(files::Column::Id.is_in(file_ids.clone()))
                    .all(&self.db)
                    .await?;
                for file in &stored {
                    blobs
                        .delete(&file.object_key)
                        .await
                        .map_err(|e| StorageError::Blob(e.to_string()))?;
                }
                let bytes: i64 = stored.iter().map(|f| f.size).sum();
                let txn = self.begin_write().await?;
                removed += screenshots::Entity::delete_many()
                    .filter(screenshots::Column::FileId.is_in(file_ids.clone()))
                    .exec(&txn)
                    .await?
                    .rows_affected;
                files::Entity::delete_many()
                    .filter(files::Column::Id.is_in(file_ids))
                    .exec(&txn)
                    .await?;
                rooms::Entity::update_many()
                    .col_expr(
                        rooms::Column::FileBytes,
                        sea_orm::sea_query::ExprTrait::sub(
                            sea_orm::sea_query::Expr::col(rooms::Column::FileBytes),
                            bytes,
                        ),
                    )
                    .filter(rooms::Column::Id.eq(room.as_str()))
                    .exec(&txn)
                    .await?;
                txn.commit().await?;
            }
        }
        Ok(removed)
    }
}
