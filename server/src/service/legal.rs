//! Legal disclosure (C12) for legal officers: ask for an export naming a request id, read
//! its state, download its bundle; and the public key anyone may check a bundle with.
//!
//! Only legal tokens may export or download (the policy's table); each request is
//! recorded (`legal.export_requested`) before anything is read, the finished bundle with
//! its manifest hash (`legal.exported`), and each download (`legal.export_downloaded`).
//! The bundle is built in the background by [`super::disclosure`].

use super::audit::parse_time;
use super::disclosure::BundleBuild;
use super::validate::{check_id, check_text};
use super::{Failure, Service};
use crate::auth::Identity;
use crate::events::rfc3339;
use crate::policy::Act;
use bytes::Bytes;
use futures_util::Stream;
use std::time::Duration;
use workroom_protocol::legal::{ExportList, ExportRequest, ExportView, SigningKeyView};
use workroom_protocol::{ErrorCode, Purpose};
use workroom_storage::audit::AuditAction;
use workroom_storage::{
    ExportRow, ExportState, LegalScope, NewExport, STOPPED_BUILD, StorageError,
};

/// Exports listed at most.
const LIST_LIMIT: u64 = 200;

/// A bundle being downloaded.
pub struct BundleDownload {
    pub export: ExportView,
    /// Bytes of the archive.
    pub size: u64,
    pub stream: std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>,
}

impl std::fmt::Debug for BundleDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BundleDownload")
            .field("export", &self.export.id)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

fn view(row: ExportRow, stale_before: i64) -> ExportView {
    // A build whose node went silent is failed, whether or not the sweep has said so yet.
    let (state, error) = if row.state == ExportState::Building && row.heartbeat_at < stale_before {
        (ExportState::Failed.as_str(), Some(STOPPED_BUILD.into()))
    } else {
        (row.state.as_str(), row.error)
    };
    ExportView {
        state: state.into(),
        error,
        id: row.id,
        request_id: row.request_id,
        scope: row.scope.as_str().into(),
        target: row.target,
        from: row.from_ms.map(rfc3339),
        until: row.until_ms.map(rfc3339),
        requested_by: row.requested_by,
        created_at: rfc3339(row.created_at),
        finished_at: row.finished_at.map(rfc3339),
        size: row.size,
        entries: row.entries,
        manifest_sha256: row.manifest_sha256,
        expires_at: row.expires_at.map(rfc3339),
    }
}

impl Service {
    /// An export's row; `not_found` for an unknown or malformed id.
    async fn export_row(&self, export: &str) -> Result<ExportRow, Failure> {
        check_id("export", export)?;
        self.store
            .legal_export(export)
            .await?
            .ok_or_else(|| Failure::not_found("no such export"))
    }

    fn stale_before(&self) -> i64 {
        let stale = i64::try_from(self.config.legal.stale_build_secs).unwrap_or(i64::MAX);
        self.clock
            .now_ms()
            .saturating_sub(stale.saturating_mul(1000))
    }

    /// Ask for an export: recorded, then built in the background. `not_found` when the
    /// target does not exist; `forbidden` for anyone but a legal officer.
    pub async fn create_legal_export(
        &self,
        identity: &Identity,
        body: &ExportRequest,
    ) -> Result<ExportView, Failure> {
        let id = format!("lex_{}", uuid::Uuid::now_v7().simple());
        // The policy first: a refused caller learns nothing about the target.
        let unrecorded = self.proofs.legal_export(identity, &id)?;
        check_text("request_id", &body.request_id, 200)?;
        let scope = LegalScope::parse(&body.scope)
            .ok_or_else(|| Failure::invalid("scope: must be `room`, `user` or `account`"))?;
        check_id("target", &body.target)?;
        let from_ms = parse_time("from", body.from.as_deref())?;
        let until_ms = parse_time("until", body.until.as_deref())?;
        if let (Some(from), Some(until)) = (from_ms, until_ms)
            && from >= until
        {
            return Err(Failure::invalid("from: must be before until"));
        }
        let new = NewExport {
            id,
            request_id: body.request_id.clone(),
            scope,
            target: body.target.clone(),
            from_ms,
            until_ms,
        };
        let (row, receipt) = self
            .store
            .create_legal_export(&new, &identity.actor())
            .await
            .map_err(|e| match e {
                StorageError::NotFound => Failure::not_found("no such room, user or account"),
                other => other.into(),
            })?;
        let read = unrecorded.redeem(receipt);
        tracing::info!(export = %row.id, scope = scope.as_str(), "legal export requested");
        let legal = &self.config.legal;
        let build = BundleBuild {
            store: self.store.clone(),
            blobs: self.blobs.clone(),
            signer: self.legal_signer.clone(),
            builds: self.legal_builds.clone(),
            read,
            actor: identity.actor(),
            retention_ms: i64::try_from(legal.bundle_retention_secs)
                .unwrap_or(i64::MAX)
                .saturating_mul(1000),
            heartbeat: Duration::from_secs((legal.stale_build_secs / 4).max(1)),
        };
        tokio::spawn(build.run());
        Ok(view(row, self.stale_before()))
    }

    /// One export's state.
    pub async fn legal_export(
        &self,
        identity: &Identity,
        export: &str,
    ) -> Result<ExportView, Failure> {
        self.allow(identity, Act::ListLegalExports, Purpose::LegalDisclosure)?;
        let row = self.export_row(export).await?;
        Ok(view(row, self.stale_before()))
    }

    /// The newest exports, newest first.
    pub async fn legal_exports(&self, identity: &Identity) -> Result<ExportList, Failure> {
        self.allow(identity, Act::ListLegalExports, Purpose::LegalDisclosure)?;
        let stale_before = self.stale_before();
        Ok(ExportList {
            exports: self
                .store
                .legal_exports(LIST_LIMIT)
                .await?
                .into_iter()
                .map(|row| view(row, stale_before))
                .collect(),
        })
    }

    /// A ready bundle's bytes, recorded as downloaded first. `conflict` while it is not
    /// ready (building, failed or expired).
    pub async fn legal_bundle(
        &self,
        identity: &Identity,
        export: &str,
    ) -> Result<BundleDownload, Failure> {
        let unrecorded = self.proofs.legal_bundle(identity, export)?;
        let row = self.export_row(export).await?;
        if row.state != ExportState::Ready {
            return Err(Failure::new(
                ErrorCode::Conflict,
                format!("the export is {}, not ready", row.state.as_str()),
            ));
        }
        let entry = identity
            .actor()
            .entry(
                AuditAction::LegalExportDownloaded,
                &row.audit_target(),
                Purpose::LegalDisclosure,
                serde_json::json!({"export": row.id, "manifest_sha256": row.manifest_sha256}),
            )
            .with_request(&row.request_id);
        let read = self.record_read(unrecorded, entry).await?;
        let (row, stream) = self
            .store
            .legal_bundle_content(&read, &self.blobs)
            .await
            .map_err(|e| match e {
                StorageError::NotFound | StorageError::Erased => {
                    Failure::new(ErrorCode::Conflict, "the export is no longer available")
                }
                other => other.into(),
            })?;
        let size = row.size.unwrap_or(0);
        Ok(BundleDownload {
            export: view(row, self.stale_before()),
            size,
            stream: Box::pin(stream),
        })
    }

    /// The key bundles are signed with (anyone may read it).
    pub fn legal_public_key(&self) -> Result<SigningKeyView, Failure> {
        crate::policy::decide(
            crate::policy::Caller::Anonymous,
            Act::ReadLegalPublicKey,
            Purpose::LegalDisclosure,
            crate::policy::Resource::Nothing,
        )?;
        Ok(self.legal_signer.view())
    }
}
