//! The health checks behind [`crate::health::Health`]: every `health.check_interval_ms`
//! the database is pinged on the probe's own connection (and, while commits are refused, a
//! probe write tells when they are accepted again) and the object store is pinged; each check
//! is bounded by `health.check_timeout_ms`.

use crate::health::Health;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use workroom_storage::blob::BlobStore;
use workroom_storage::{DatabaseProbe, Store};

/// How often and how patiently the checks run.
#[derive(Debug, Clone, Copy)]
pub struct CheckTiming {
    pub interval: Duration,
    pub timeout: Duration,
}

/// Check the database every interval until `shutdown`: ping it, and while writes are
/// failing, probe whether it accepts a commit again. Also exports how many pooled
/// connections the store had to close (`workroom_db_connections_discarded_total`).
pub async fn database(
    health: Arc<Health>,
    probe: DatabaseProbe,
    store: Store,
    timing: CheckTiming,
    shutdown: CancellationToken,
) {
    let mut ticks = super::Ticks::new(timing.interval, shutdown);
    while ticks.next().await {
        let pinged = probe.ping().await.map_err(|e| e.to_string());
        health.checked(
            &health.database,
            pinged,
            "the database does not answer: sends and new connections are refused as \
             `unavailable` until it does",
        );
        if !health.writes.is_up() && health.database.is_up() {
            let failures = health.write_failures();
            let written = probe.write().await;
            if written.is_ok() && health.write_failures() == failures {
                health.recovered(&health.writes);
            }
        }
        metrics::counter!("workroom_db_connections_discarded_total")
            .absolute(store.discarded_connections());
    }
    probe.close().await;
}

/// Check the object store every interval until `shutdown`.
pub async fn object_store(
    health: Arc<Health>,
    blobs: BlobStore,
    timing: CheckTiming,
    shutdown: CancellationToken,
) {
    let mut ticks = super::Ticks::new(timing.interval, shutdown);
    while ticks.next().await {
        let pinged = bounded(timing.timeout, blobs.ping()).await;
        health.checked(
            &health.object_store,
            pinged,
            "the object store is unavailable: uploads and downloads are refused as \
             `unavailable`; messaging is unaffected",
        );
    }
}

/// `check`, or a timeout, as a printable cause.
async fn bounded<T, E: std::fmt::Display>(
    timeout: Duration,
    check: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(timeout, check).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    }
}
