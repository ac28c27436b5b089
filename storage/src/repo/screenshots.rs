//! Tracker screenshots (C9). The image is stored through the file pipeline (sealed, sniffed)
//! as a file collected for payment guarantee; this row adds the capture time, activity level,
//! memo (sealed under the room key) and whether the client side may see it. Sharing and
//! un-sharing commit with their audit entry.

use crate::Store;
use crate::audit::{NewAuditEntry, append_in as append_audit_in};
use crate::entity::screenshots;
use crate::error::StorageError;
use crate::keyring::{KeyScope, Unreadable, open_text};
use crate::repo::files::FileCompanion;
use crate::repo::sealing::screenshot_memo_item;
use crate::time::now_ms;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder};
use workroom_protocol::Purpose;

/// A screenshot to record with its image: `FileUpload::finish_with(&new_screenshot)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewScreenshot {
    pub id: String,
    pub room_id: String,
    pub contractor_id: String,
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
}

/// Recorded in the transaction of its image's file row: a screenshot never points at a
/// missing file, and no image is kept without its screenshot. Shared with the client side by
/// default.
impl FileCompanion for NewScreenshot {
    type Row = ScreenshotRow;

    async fn insert_with_file(
        &self,
        store: &Store,
        txn: &DatabaseTransaction,
        file_id: &str,
    ) -> Result<ScreenshotRow, StorageError> {
        let memo_sealed = match &self.memo {
            Some(memo) => {
                let key = store
                    .sealing_key(txn, KeyScope::Room(&self.room_id))
                    .await?;
                Some(key.seal(&screenshot_memo_item(&self.id), memo.as_bytes()))
            }
            None => None,
        };
        let model = screenshots::Model {
            id: self.id.clone(),
            room_id: self.room_id.clone(),
            contractor_id: self.contractor_id.clone(),
            file_id: file_id.to_string(),
            captured_at: self.captured_at,
            activity: i16::from(self.activity),
            memo_sealed,
            shared: true,
            created_at: now_ms(),
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
        })
    }
}

impl Store {
    /// One screenshot.
    pub async fn screenshot(&self, id: &str) -> Result<Option<ScreenshotRow>, StorageError> {
        match screenshots::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?
        {
            Some(m) => Ok(Some(self.screenshot_row(m).await)),
            None => Ok(None),
        }
    }

    /// The screenshot whose image is `file_id` (for signed links).
    pub async fn screenshot_of_file(
        &self,
        file_id: &str,
    ) -> Result<Option<ScreenshotRow>, StorageError> {
        match screenshots::Entity::find()
            .filter(screenshots::Column::FileId.eq(file_id))
            .one(&self.db)
            .await?
        {
            Some(m) => Ok(Some(self.screenshot_row(m).await)),
            None => Ok(None),
        }
    }

    /// A room's screenshots by capture time; only shared ones unless `all`.
    pub async fn screenshots(
        &self,
        room_id: &str,
        all: bool,
    ) -> Result<Vec<ScreenshotRow>, StorageError> {
        let mut query = screenshots::Entity::find()
            .filter(screenshots::Column::RoomId.eq(room_id))
            .order_by_asc(screenshots::Column::CapturedAt);
        if !all {
            query = query.filter(screenshots::Column::Shared.eq(true));
        }
        let mut out = Vec::new();
        for m in query.all(&self.db).await? {
            out.push(self.screenshot_row(m).await);
        }
        Ok(out)
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
            append_audit_in(&txn, &[entry]).await?;
        }
        txn.commit().await?;
        Ok(changed)
    }

    async fn screenshot_row(&self, m: screenshots::Model) -> ScreenshotRow {
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
        ScreenshotRow {
            id: m.id,
            room_id: m.room_id,
            contractor_id: m.contractor_id,
            file_id: m.file_id,
            captured_at: m.captured_at,
            activity: u8::try_from(m.activity).unwrap_or(0),
            memo,
            shared: m.shared,
            created_at: m.created_at,
        }
    }
}
