//! Export rows and bundles. An export is created `building` with its `legal.export_requested`
//! entry; its builder streams the bundle into a sealed chunked object (`exports/<id>`, under
//! the export's own data key) and marks it `ready` with its `legal.exported` entry in one
//! transaction. A build that stops answering (its node died) is reported `failed` once its
//! heartbeat is older than the stale limit. A ready bundle is kept until it expires: then
//! its key is destroyed and its object deleted (`expired`, `legal.export_expired`).

use crate::Store;
use crate::audit::{Actor, AuditAction, NewAuditEntry};
use crate::blob::{BlobError, BlobStore};
use crate::entity::legal_exports;
use crate::error::StorageError;
use crate::keyring::KeyScope;
use crate::proof::{LegalBundleRead, LegalExport, Receipt};
use crate::repo::chunked::{self, ChunkWriter};
use crate::repo::lifecycle::holds::LegalScope;
use bytes::Bytes;
use futures_util::Stream;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use workroom_protocol::Purpose;

/// Where bundles live in the object store.
pub const BUNDLE_PREFIX: &str = "exports/";

/// Why a build whose heartbeat stopped failed (shown to legal officers).
pub const STOPPED_BUILD: &str =
    "the build stopped (its server restarted); request the export again";

/// Where an export stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportState {
    Building,
    Ready,
    Failed,
    Expired,
}

impl ExportState {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportState::Building => "building",
            ExportState::Ready => "ready",
            ExportState::Failed => "failed",
            ExportState::Expired => "expired",
        }
    }

    fn parse(value: &str) -> ExportState {
        match value {
            "building" => ExportState::Building,
            "ready" => ExportState::Ready,
            "expired" => ExportState::Expired,
            _ => ExportState::Failed,
        }
    }
}

/// What a legal officer asks to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewExport {
    /// `lex_…`, chosen by the caller (its read proof names it before the row exists).
    pub id: String,
    pub request_id: String,
    pub scope: LegalScope,
    pub target: String,
    /// Unix ms, inclusive.
    pub from_ms: Option<i64>,
    /// Unix ms, exclusive.
    pub until_ms: Option<i64>,
}

/// An export as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRow {
    pub id: String,
    pub request_id: String,
    pub scope: LegalScope,
    pub target: String,
    pub from_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub state: ExportState,
    pub requested_by: String,
    pub created_at: i64,
    pub heartbeat_at: i64,
    pub finished_at: Option<i64>,
    pub size: Option<u64>,
    pub entries: Option<u64>,
    pub manifest_sha256: Option<String>,
    pub error: Option<String>,
    pub expires_at: Option<i64>,
}

impl ExportRow {
    /// The audit target the export's entries name (`room:<id>`, `user:<id>`, …).
    pub fn audit_target(&self) -> String {
        format!("{}:{}", self.scope.as_str(), self.target)
    }
}

fn to_row(m: legal_exports::Model) -> ExportRow {
    ExportRow {
        scope: LegalScope::parse(&m.scope).unwrap_or(LegalScope::Room),
        state: ExportState::parse(&m.state),
        id: m.id,
        request_id: m.request_id,
        target: m.target,
        from_ms: m.from_ms,
        until_ms: m.until_ms,
        requested_by: m.requested_by,
        created_at: m.created_at,
        heartbeat_at: m.heartbeat_at,
        finished_at: m.finished_at,
        size: m.size.and_then(|s| u64::try_from(s).ok()),
        entries: m.entries.and_then(|s| u64::try_from(s).ok()),
        manifest_sha256: m.manifest_sha256,
        error: m.error,
        expires_at: m.expires_at,
    }
}

/// An update of exports that are still building: a finished export never changes back.
fn update_building() -> sea_orm::UpdateMany<legal_exports::Entity> {
    legal_exports::Entity::update_many()
        .filter(legal_exports::Column::State.eq(ExportState::Building.as_str()))
}

/// `update`, marking the builds it selects failed at `now` for `error`.
fn set_failed(
    update: sea_orm::UpdateMany<legal_exports::Entity>,
    error: &str,
    now: i64,
) -> sea_orm::UpdateMany<legal_exports::Entity> {
    update
        .col_expr(
            legal_exports::Column::State,
            Expr::value(ExportState::Failed.as_str()),
        )
        .col_expr(legal_exports::Column::Error, Expr::value(error))
        .col_expr(legal_exports::Column::FinishedAt, Expr::value(now))
}

fn blob_error(e: BlobError) -> StorageError {
    StorageError::Blob(e.to_string())
}

/// A bundle being written: plaintext in, sealed chunks out to `exports/<id>`.
pub struct BundleUpload {
    store: Store,
    export: String,
    writer: Option<ChunkWriter>,
    size: u64,
}

impl std::fmt::Debug for BundleUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BundleUpload")
            .field("export", &self.export)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Record a new export (`building`) with its `legal.export_requested` entry, in one
    /// transaction. `NotFound` when the target does not exist. The receipt redeems the
    /// export's read proof.
    pub async fn create_legal_export(
        &self,
        new: &NewExport,
        actor: &Actor,
    ) -> Result<(ExportRow, Receipt), StorageError> {
        let txn = self.begin_write().await?;
        if !new.scope.target_exists(&txn, &new.target).await? {
            return Err(StorageError::NotFound);
        }
        let now = self.clock.now_ms();
        let model = legal_exports::ActiveModel {
            id: Set(new.id.clone()),
            request_id: Set(new.request_id.clone()),
            scope: Set(new.scope.as_str().to_string()),
            target: Set(new.target.clone()),
            from_ms: Set(new.from_ms),
            until_ms: Set(new.until_ms),
            state: Set(ExportState::Building.as_str().to_string()),
            requested_by: Set(actor.id.clone()),
            created_at: Set(now),
            heartbeat_at: Set(now),
            finished_at: Set(None),
            object_key: Set(None),
            size: Set(None),
            entries: Set(None),
            manifest_sha256: Set(None),
            error: Set(None),
            expires_at: Set(None),
        }
        .insert(&txn)
        .await?;
        let row = to_row(model);
        let entry = actor
            .entry(
                AuditAction::LegalExportRequested,
                &row.audit_target(),
                Purpose::LegalDisclosure,
                serde_json::json!({
                    "export": row.id,
                    "from_ms": row.from_ms,
                    "until_ms": row.until_ms,
                }),
            )
            .with_request(&row.request_id);
        self.append_audit_in(&txn, &[entry]).await?;
        txn.commit().await?;
        Ok((row, Receipt::one()))
    }

    /// One export, if it exists.
    pub async fn legal_export(&self, id: &str) -> Result<Option<ExportRow>, StorageError> {
        Ok(legal_exports::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?
            .map(to_row))
    }

    /// The newest `limit` exports, newest first.
    pub async fn legal_exports(&self, limit: u64) -> Result<Vec<ExportRow>, StorageError> {
        Ok(legal_exports::Entity::find()
            .order_by_desc(legal_exports::Column::CreatedAt)
            .order_by_desc(legal_exports::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_row)
            .collect())
    }

    /// The build is alive (it is called between pages of the bundle).
    pub async fn legal_export_heartbeat(&self, id: &str) -> Result<(), StorageError> {
        update_building()
            .col_expr(
                legal_exports::Column::HeartbeatAt,
                Expr::value(self.clock.now_ms()),
            )
            .filter(legal_exports::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Start writing the bundle of the export `read` stands for.
    ///
    /// The export's data key seals this one object with counter nonces, so an export is
    /// built once: a failed build is final and a new export is asked for instead.
    pub async fn begin_legal_bundle(
        &self,
        blobs: &BlobStore,
        read: &LegalExport,
    ) -> Result<BundleUpload, StorageError> {
        let id = read.export();
        let key = self.sealing_key(&self.db, KeyScope::Export(id)).await?;
        let blob = blobs
            .begin(&format!("{BUNDLE_PREFIX}{id}"))
            .await
            .map_err(blob_error)?;
        Ok(BundleUpload {
            store: self.clone(),
            export: id.to_string(),
            writer: Some(ChunkWriter::new(blob, key)),
            size: 0,
        })
    }

    /// Mark a build failed (only while it is building). The reason is shown to legal
    /// officers: it must name no content.
    pub async fn fail_legal_export(&self, id: &str, error: &str) -> Result<(), StorageError> {
        set_failed(update_building(), error, self.clock.now_ms())
            .filter(legal_exports::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// The bundle's bytes, streamed and opened. `NotFound` unless the export is ready.
    pub async fn legal_bundle_content(
        &self,
        read: &LegalBundleRead,
        blobs: &BlobStore,
    ) -> Result<
        (
            ExportRow,
            impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
        ),
        StorageError,
    > {
        let model = legal_exports::Entity::find_by_id(read.export().to_string())
            .one(&self.db)
            .await?
            .ok_or(StorageError::NotFound)?;
        let object_key = model.object_key.clone();
        let row = to_row(model);
        let (ExportState::Ready, Some(object_key), Some(size)) = (row.state, object_key, row.size)
        else {
            return Err(StorageError::NotFound);
        };
        let key = self
            .opening_key(&self.db, KeyScope::Export(&row.id))
            .await?
            .ok_or(StorageError::Erased)?;
        let stream = chunked::read_range(blobs, &object_key, key, size, 0, size)
            .await
            .map_err(blob_error)?;
        Ok((row, stream))
    }

    /// Expire ready bundles past their time (key destroyed, object deleted, audited) and
    /// report builds silent since before `stale_before` as failed. Returns how many expired.
    pub async fn expire_legal_exports(
        &self,
        blobs: &BlobStore,
        stale_before: i64,
    ) -> Result<u64, StorageError> {
        let now = self.clock.now_ms();
        set_failed(update_building(), STOPPED_BUILD, now)
            .filter(legal_exports::Column::HeartbeatAt.lt(stale_before))
            .exec(&self.db)
            .await?;
        let due = legal_exports::Entity::find()
            .filter(legal_exports::Column::State.eq(ExportState::Ready.as_str()))
            .filter(legal_exports::Column::ExpiresAt.lte(now))
            .limit(100)
            .all(&self.db)
            .await?;
        let mut expired = 0;
        for model in due {
            // Key first: from then on the object is unreadable even if its deletion fails.
            self.destroy_data_key(KeyScope::Export(&model.id)).await?;
            if let Some(object_key) = &model.object_key {
                blobs.delete(object_key).await.map_err(blob_error)?;
            }
            let txn = self.begin_write().await?;
            let changed = legal_exports::Entity::update_many()
                .col_expr(
                    legal_exports::Column::State,
                    Expr::value(ExportState::Expired.as_str()),
                )
                .filter(legal_exports::Column::Id.eq(model.id.as_str()))
                .filter(legal_exports::Column::State.eq(ExportState::Ready.as_str()))
                .exec(&txn)
                .await?;
            if changed.rows_affected > 0 {
                let entry = NewAuditEntry::new(
                    "system",
                    "system",
                    AuditAction::LegalExportExpired,
                    &format!("{}:{}", model.scope, model.target),
                    Purpose::LegalDisclosure,
                    serde_json::json!({"export": model.id}),
                )
                .with_request(&model.request_id);
                self.append_audit_in(&txn, &[entry]).await?;
                expired += 1;
            }
            txn.commit().await?;
        }
        Ok(expired)
    }
}

impl Store {
    /// Delete bundle objects older than `before` whose export is not `ready` (a build that
    /// crashed after completing its object, or whose export was failed meanwhile), and
    /// abandoned partial uploads of bundles (part of the orphan sweep).
    pub(crate) async fn sweep_orphan_bundles(
        &self,
        blobs: &BlobStore,
        before: std::time::SystemTime,
    ) -> Result<u64, BlobError> {
        let unavailable = |e: StorageError| BlobError::Unavailable(e.to_string());
        let mut removed = 0;
        for object in blobs.list(BUNDLE_PREFIX).await? {
            if object.modified >= before {
                continue;
            }
            let id = object.key.trim_start_matches(BUNDLE_PREFIX);
            let ready = self
                .legal_export(id)
                .await
                .map_err(unavailable)?
                .is_some_and(|row| row.state == ExportState::Ready);
            if !ready {
                blobs.delete(&object.key).await?;
                tracing::info!(object = %object.key, "removed an orphaned bundle");
                removed += 1;
            }
        }
        removed += blobs.sweep_partial(BUNDLE_PREFIX, before).await?;
        Ok(removed)
    }
}

impl BundleUpload {
    /// Take the next bytes of the bundle.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| StorageError::Blob("bundle already closed".into()))?;
        writer.push(bytes).await.map_err(blob_error)?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Complete the object, then mark the export ready with its `legal.exported` entry
    /// (`details`: request, scope, manifest hash) in one transaction. If the export is no
    /// longer building (reported failed meanwhile) the object is removed and `Conflict`
    /// returned.
    pub async fn finish(
        mut self,
        blobs: &BlobStore,
        entries: u64,
        manifest_sha256: &str,
        expires_at: i64,
        entry: NewAuditEntry,
    ) -> Result<ExportRow, StorageError> {
        let writer = self
            .writer
            .take()
            .ok_or_else(|| StorageError::Blob("bundle already closed".into()))?;
        writer.finish().await.map_err(blob_error)?;
        let object_key = format!("{BUNDLE_PREFIX}{}", self.export);
        let store = &self.store;
        let marked = async {
            let txn = store.begin_write().await?;
            let changed = update_building()
                .col_expr(
                    legal_exports::Column::State,
                    Expr::value(ExportState::Ready.as_str()),
                )
                .col_expr(
                    legal_exports::Column::ObjectKey,
                    Expr::value(object_key.as_str()),
                )
                .col_expr(
                    legal_exports::Column::Size,
                    Expr::value(i64::try_from(self.size).unwrap_or(i64::MAX)),
                )
                .col_expr(
                    legal_exports::Column::Entries,
                    Expr::value(i64::try_from(entries).unwrap_or(i64::MAX)),
                )
                .col_expr(
                    legal_exports::Column::ManifestSha256,
                    Expr::value(manifest_sha256),
                )
                .col_expr(
                    legal_exports::Column::FinishedAt,
                    Expr::value(store.clock.now_ms()),
                )
                .col_expr(legal_exports::Column::ExpiresAt, Expr::value(expires_at))
                .filter(legal_exports::Column::Id.eq(self.export.as_str()))
                .exec(&txn)
                .await?;
            if changed.rows_affected == 0 {
                return Err(StorageError::Conflict(
                    "the export is no longer building".into(),
                ));
            }
            store.append_audit_in(&txn, &[entry]).await?;
            txn.commit().await?;
            Ok(())
        }
        .await;
        if let Err(e) = marked {
            if let Err(cleanup) = blobs.delete(&object_key).await {
                tracing::warn!(export = %self.export, error = %cleanup, "could not remove the bundle of a failed export");
            }
            return Err(e);
        }
        store
            .legal_export(&self.export)
            .await?
            .ok_or(StorageError::NotFound)
    }

    /// Give up: nothing is kept.
    pub async fn abort(mut self) {
        if let Some(writer) = self.writer.take() {
            writer.abort().await;
        }
    }
}
