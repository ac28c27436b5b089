//! The orphan sweeper: every `files.sweep_interval_secs`, objects that have no file row and
//! are older than `files.orphan_grace_secs` (an upload that crashed between completing its
//! object and inserting its row) are deleted, as are abandoned partial uploads. The grace
//! period keeps it away from uploads still in flight.

use std::time::{Duration, SystemTime};
use tokio_util::sync::CancellationToken;
use workroom_storage::Store;
use workroom_storage::blob::BlobStore;

/// Run until `shutdown` fires.
pub async fn run(
    store: Store,
    blobs: BlobStore,
    interval: Duration,
    grace: Duration,
    shutdown: CancellationToken,
) {
    let mut ticks = super::Ticks::new(interval, shutdown);
    while ticks.next().await {
        let before = SystemTime::now() - grace;
        match store.sweep_orphan_objects(&blobs, before).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "orphan sweep removed objects"),
            Err(error) => tracing::warn!(%error, "orphan sweep failed; will retry"),
        }
    }
}
