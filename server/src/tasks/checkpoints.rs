//! The audit checkpointer: signs a checkpoint of the chain's head every
//! `audit.checkpoint_every_entries` new entries, or `audit.checkpoint_interval_secs` after
//! the chain grew (the last one at shutdown is made by `server::run` once sessions and
//! committers have written their last entries).

use crate::audit::{AuditSigner, checkpoint_now};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use workroom_storage::Store;

/// Checkpoint every N entries or T seconds while the chain grows. The last checkpoint at
/// shutdown is made by `server::run` once sessions and committers have written their last
/// entries.
pub async fn run(
    store: Store,
    signer: Arc<AuditSigner>,
    every_entries: u64,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut last_seq = 0u64;
    let mut last_at = Instant::now();
    let mut ticks = super::Ticks::new(interval.min(Duration::from_secs(1)), shutdown);
    while ticks.next().await {
        let head = match store.audit_head().await {
            Ok(head) => head.map_or(0, |h| h.seq),
            Err(error) => {
                tracing::warn!(%error, "audit checkpointer could not read the head");
                continue;
            }
        };
        let due =
            head > last_seq && (head - last_seq >= every_entries || last_at.elapsed() >= interval);
        if !due {
            continue;
        }
        match checkpoint_now(&store, &signer).await {
            Ok(Some(seq)) => {
                last_seq = seq;
                last_at = Instant::now();
            }
            Ok(None) => last_seq = head,
            Err(error) => tracing::warn!(%error, "audit checkpoint failed; will retry"),
        }
    }
}
