//! Tracker screenshots (C9). The image is stored through the file pipeline (sealed, sniffed)
//! as a file collected for payment guarantee; this row adds the capture time, activity level,
//! memo (sealed under the room key) and whether the client side may see it. Sharing and
//! un-sharing commit with their audit entry.

use crate::Store;
use crate::audit::NewAuditEntry;
use crate::entity::{files, screenshots};
use crate::error::StorageError;
use crate::keyring::{KeyScope, Unreadable, open_text};
use crate::proof::ScreenshotsRead;
use crate::repo::files::{FileCompanion, FileMeta};
use crate::repo::sealing::screenshot_memo_item;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::HashMap;
use workroom_protocol::Purpose;

/// A screenshot to record with its image: `FileUpload::finish_with(&new_screenshot)`. It is
/// kept only if, once its image is in, the contractor's Work View is still on, the posting
/// bot token (`bot_jti`) is still not revoked, the contract has not ended and the contractor
/// is still in their party account. Its id is drawn when it is stored, so ids (and pages)
/// follow the order of arrival.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewScreenshot {
    pub room_id: String,
    pub contractor_id: String,
    pub bot_jti: String,
    pub captured_at: i64,
    pub activity: u8,
    pub memo: Option<String>,
}

/// A stored screenshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreenshotRow {
    pub id: String,
    pub room_id: String,
    pub contractor_id: String,
    pub file_id: String,
    pub captured_at: i64,
    pub activity: u8,
    pub memo: Option<Result<String, Unreadable>>,
    pub shared: bool,
    pub created_at: i64,
    /// The image's sniffed type and size.
    pub image_type: String,
    pub image_size: u64,
}

pub use crate::proof::ScreenshotFilter;

/// Recorded in the transaction of its image's file row: a screenshot never points at a
/// missing file, and no image is kept without its screenshot. Shared with the client side by
/// default.
impl FileCompanion for NewScreenshot {
    type Row = ScreenshotRow;

    /// Checked before the body was read, and again once it is in: a change while the image
    /// streamed in (Work View off, token revoked, contract ended, contractor gone from their
    /// account) stops it from being kept.
    async fn still_wanted(&self, store: &Store) -> Result<(), StorageError> {
        let changed = |what: &str| {
            Err(StorageError::Conflict(format!(
                "{what} while the screenshot was uploading; it was not kept"
            )))
        };
        if !store.work_view(&self.contractor_id).await? {
            return changed("the contractor's Work View was turned off");
        }
        if store
            .bot_revoked(&self.bot_jti, &self.contractor_id)
            .await?
        {
            return changed("the Tracker's token was revoked");
        }
        let sides = store.room_sides(&self.room_id).await?;
        if sides.closed() {
            return changed("the contract ended");
        }
        if !sides.in_own_team(&self.contractor_id) {
            return changed("the contractor left the workroom");
        }
        Ok(())
    }

    async fn insert_with_file(
        &self,
        store: &Store,
        txn: &DatabaseTransaction,
        file: &FileMeta,
    ) -> Result<ScreenshotRow, StorageError> {
        let id = format!("ss_{}", uuid::Uuid::now_v7().simple());
        let memo_sealed = match &self.memo {
            Some(memo) => {
                let key = store
                    .sealing_key(txn, KeyScope::Room(&self.room_id))
                    .await?;
                Some(key.seal(&screenshot_memo_item(&id), memo.as_bytes()))
            }
            None => None,
        };
        let model = screenshots::Model {
            id: id.clone(),
            room_id: self.room_id.clone(),
            contractor_id: self.contractor_id.clone(),
            file_id: file.id.clone(),
            captured_at: self.captured_at,
            activity: i16::from(self.activity),
            memo_sealed,
            shared: true,
            created_at: store.clock.now_ms(),
            purpose: Purpose::PaymentGuarantee.as_str().to_string(),
        };
        screenshots::Entity::insert(screenshots::ActiveModel::from(model.clone()))
            .exec_without_returning(txn)
            .await?;
        Ok(ScreenshotRow {
            id: model.id,
            room_id: model.room_id,
            contractor_id: model.contractor_id,
            file_id: model.file_id,
            captured_at: model.captured_at,
            activity: self.activity,
            memo: self.memo.clone().map(Ok),
            shared: model.shared,
            created_at: model.created_at,
            image_type: file.sniffed_type.clone(),
            image_size: file.size,
        })
    }
}

impl Store {
    /// One screenshot.
    pub async fn screenshot(&self, id: &str) -> Result<Option<ScreenshotRow>, StorageError> {
        self.one_screenshot(screenshots::Column::Id.eq(id)).await
    }

    /// The screenshot whose image is `file_id` (for signed links).
    pub async fn screenshot_of_file(
        &self,
        file_id: &str,
    ) -> Result<Option<ScreenshotRow>, StorageError> {
        self.one_screenshot(screenshots::Column::FileId.eq(file_id))
            .await
    }

    async fn one_screenshot(
        &self,
        condition: sea_orm::sea_query::SimpleExpr,
    ) -> Result<Option<ScreenshotRow>, StorageError> {
        let found = screenshots::Entity::find()
            .filter(condition)
            .one(&self.db)
            .await?;
        Ok(self
            .screenshot_rows(found.into_iter().collect())
            .await?
            .pop())
    }

    /// A page of a room's screenshots that `filter` lets through, oldest first (ids grow
    /// with time): at most `limit`, after the screenshot `after`.
    pub async fn screenshots(
        &self,
        read: &ScreenshotsRead,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<ScreenshotRow>, StorageError> {
        let (room_id, filter) = (read.room(), read.filter());
        let mut query = screenshots::Entity::find()
            .filter(screenshots::Column::RoomId.eq(room_id))
            .order_by_asc(screenshots::Column::Id)
            .limit(limit);
        if let ScreenshotFilter::Visible {
            client_side,
            contractors,
        } = filter
        {
            let mut visible = Condition::any()
                .add(screenshots::Column::ContractorId.is_in(contractors.iter().cloned()));
            if client_side {
                visible = visible.add(screenshots::Column::Shared.eq(true));
            }
            query = query.filter(visible);
        }
        if let Some(after) = after {
            query = query.filter(screenshots::Column::Id.gt(after));
        }
        self.screenshot_rows(query.all(&self.db).await?).await
    }

    /// Share or un-share, recording `entry` when the state changes. Returns whether it did.
    pub async fn set_screenshot_shared(
        &self,
        id: &str,
        shared: bool,
        entry: NewAuditEntry,
    ) -> Result<bool, StorageError> {
        let txn = self.begin_write().await?;
        let changed = screenshots::Entity::update_many()
            .col_expr(screenshots::Column::Shared, Expr::value(shared))
            .filter(screenshots::Column::Id.eq(id))
            .filter(screenshots::Column::Shared.eq(!shared))
            .exec(&txn)
            .await?
            .rows_affected
            > 0;
        if changed {
            self.append_audit_in(&txn, &[entry]).await?;
        }
        txn.commit().await?;
        Ok(changed)
    }

    /// Rows as readers see them: memo opened, the image's type and size attached (one
    /// query for all the images).
    async fn screenshot_rows(
        &self,
        models: Vec<screenshots::Model>,
    ) -> Result<Vec<ScreenshotRow>, StorageError> {
        let images: HashMap<String, files::Model> = files::Entity::find()
            .filter(files::Column::Id.is_in(models.iter().map(|m| m.file_id.clone())))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|f| (f.id.clone(), f))
            .collect();
        let mut rows = Vec::with_capacity(models.len());
        for m in models {
            let image = images.get(&m.file_id);
            let memo = match &m.memo_sealed {
                None => None,
                Some(sealed) => {
                    let key = self
                        .opening_key(&self.db, KeyScope::Room(&m.room_id))
                        .await
                        .ok()
                        .flatten();
                    Some(
                        open_text(key.as_deref(), &screenshot_memo_item(&m.id), Some(sealed))
                            .map(Option::unwrap_or_default),
                    )
                }
            };
            rows.push(ScreenshotRow {
                image_type: image.map(|f| f.sniffed_type.clone()).unwrap_or_default(),
                image_size: image
                    .and_then(|f| u64::try_from(f.size).ok())
                    .unwrap_or_default(),
                id: m.id,
                room_id: m.room_id,
                contractor_id: m.contractor_id,
                file_id: m.file_id,
                captured_at: m.captured_at,
                activity: u8::try_from(m.activity).unwrap_or(0),
                memo,
                shared: m.shared,
                created_at: m.created_at,
            });
        }
        Ok(rows)
    }
}
