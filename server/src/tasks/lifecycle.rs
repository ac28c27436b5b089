//! The lifecycle task (C10): every `retention.check_secs`, or at once when the service asks
//! (a purge requested, a hold lifted), on the injected clock's time:
//! - purges closed workrooms whose retention passed (a held one is deferred and counted),
//!   and finishes any purge a crash interrupted;
//! - runs the erasures a legal hold deferred, once no hold covers them;
//! - sweeps the bounded records (connection log, prior versions, moderation records,
//!   revocations, screenshots of closed workrooms), writing one `retention.swept` entry per
//!   kind that removed anything;
//! - expires legal bundles past `legal.bundle_retention_secs` (key destroyed, object
//!   deleted, `legal.export_expired`) and reports builds silent for
//!   `legal.stale_build_secs` as failed.
//!
//! Every node runs it; the purge's lease and idempotent steps make sure each piece of work
//! is done once (see `workroom_storage::repo::lifecycle::purge`).

use crate::config::{LegalConfig, RetentionConfig};
use crate::hub::Hub;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use workroom_protocol::Purpose;
use workroom_storage::audit::{Actor, AuditAction};
use workroom_storage::blob::BlobStore;
use workroom_storage::{PurgeOptions, PurgeOutcome, StorageError, Store};

/// Rooms looked at per round.
const ROOMS_PER_ROUND: u64 = 100;

/// Run until `shutdown` fires.
pub async fn run(
    store: Store,
    blobs: BlobStore,
    hub: Arc<Hub>,
    config: RetentionConfig,
    legal: LegalConfig,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let mut ticks = super::Ticks::new(Duration::from_secs(config.check_secs), shutdown.clone());
    loop {
        tokio::select! {
            more = ticks.next() => if !more { return },
            () = wake.notified() => {}
        }
        if let Err(e) = round(&store, &blobs, &hub, &config, &legal).await {
            tracing::warn!(error = %e, "lifecycle round failed; will retry");
        }
    }
}

/// One round of everything the task does.
pub async fn round(
    store: &Store,
    blobs: &BlobStore,
    hub: &Hub,
    config: &RetentionConfig,
    legal: &LegalConfig,
) -> Result<(), StorageError> {
    purge_due_rooms(store, blobs, hub, config).await?;
    let stale_before = store
        .clock()
        .now_ms()
        .saturating_sub(ms(legal.stale_build_secs));
    let expired = store.expire_legal_exports(blobs, stale_before).await?;
    if expired > 0 {
        tracing::info!(expired, "legal bundles expired");
    }
    for user in store.run_released_erasures().await? {
        tracing::info!(user = %user, "deferred erasure ran");
    }
    metrics::gauge!("workroom_deferred_erasures").set(store.pending_erasures().await?.len() as f64);
    sweep(store, blobs, config).await
}

async fn purge_due_rooms(
    store: &Store,
    blobs: &BlobStore,
    hub: &Hub,
    config: &RetentionConfig,
) -> Result<(), StorageError> {
    let default_secs = i64::try_from(config.closed_room_secs).unwrap_or(i64::MAX);
    let options = PurgeOptions {
        default_retention_secs: default_secs,
        batch: config.purge_batch,
        file_batch: 100,
        lease_ms: i64::try_from(config.purge_lease_secs.saturating_mul(1000)).unwrap_or(60_000),
        now_requested: false,
    };
    let now = store.clock().now_ms();
    for room in store
        .rooms_due_for_purge(now, default_secs, ROOMS_PER_ROUND)
        .await?
    {
        let started = std::time::Instant::now();
        // Who followed it, asked before its parties go with it.
        let users = store.users_of_room(&room).await?;
        match store.purge_room(blobs, &room, options).await {
            Ok(PurgeOutcome::Purged(counts)) => {
                hub.rooms_changed(&users);
                metrics::counter!("workroom_rooms_purged_total").increment(1);
                metrics::counter!("workroom_purged_messages_total")
                    .increment(u64::try_from(counts.messages).unwrap_or(0));
                metrics::counter!("workroom_purged_files_total")
                    .increment(u64::try_from(counts.files).unwrap_or(0));
                tracing::info!(
                    room = %room,
                    messages = counts.messages,
                    files = counts.files,
                    bytes = counts.bytes,
                    millis = started.elapsed().as_millis() as u64,
                    "workroom purged"
                );
            }
            Ok(PurgeOutcome::Held) => {
                tracing::debug!(room = %room, "purge deferred by a legal hold");
            }
            Ok(PurgeOutcome::AlreadyPurged | PurgeOutcome::NotDue | PurgeOutcome::Busy) => {}
            Err(e) => tracing::warn!(room = %room, error = %e, "purge interrupted; will resume"),
        }
    }
    Ok(())
}

fn ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

async fn sweep(
    store: &Store,
    blobs: &BlobStore,
    config: &RetentionConfig,
) -> Result<(), StorageError> {
    let now = store.clock().now_ms();
    let swept = [
        (
            "connection_log",
            store
                .sweep_connection_log(now.saturating_sub(ms(config.connection_log_secs)))
                .await?,
        ),
        (
            "prior_versions",
            store
                .sweep_prior_versions(now.saturating_sub(ms(config.prior_version_secs)))
                .await?,
        ),
        (
            "moderation_records",
            store
                .sweep_moderation_records(now.saturating_sub(ms(config.moderation_record_secs)))
                .await?,
        ),
        (
            "revocations",
            store
                .sweep_revocations(now, now.saturating_sub(ms(config.revoked_bot_secs)))
                .await?,
        ),
        (
            "closed_room_screenshots",
            store
                .sweep_closed_room_screenshots(
                    blobs,
                    now.saturating_sub(ms(config.closed_room_screenshot_secs)),
                )
                .await?,
        ),
    ];
    let system = Actor::new("system", "system");
    let entries: Vec<_> = swept
        .iter()
        .filter(|(_, count)| *count > 0)
        .map(|(what, count)| {
            system.entry(
                AuditAction::RetentionSwept,
                &format!("retention:{what}"),
                Purpose::Operations,
                json!({ "removed": count }),
            )
        })
        .collect();
    if !entries.is_empty() {
        store.append_audit(&entries).await?;
    }
    Ok(())
}
