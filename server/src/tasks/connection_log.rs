//! The connection log's writer: the one consumer of its bounded queue, committing up to 512
//! records per transaction. On shutdown it writes what is queued, then stops. A batch the
//! database refuses is logged and dropped, not retried.

use crate::connlog::Queued;
use tokio_util::sync::CancellationToken;
use workroom_storage::Store;

/// Run until `shutdown` fires and the queue is empty.
pub async fn run(store: Store, mut queued: Queued, shutdown: CancellationToken) {
    while let Some((connections, users)) = queued.next_batch(&shutdown).await {
        let records = connections.len() + users.len();
        if let Err(e) = store.record_connections(&connections, &users).await {
            tracing::warn!(error = %e, records, "connection log write failed");
        }
        metrics::counter!("workroom_connection_records_total").increment(records as u64);
    }
}
