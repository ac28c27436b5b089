//! Gives memory the process freed back to the system (see [`crate::allocator`]): every
//! `CHECK_EVERY`, when the allocator holds `TRIM_ABOVE` more free bytes than at its low-water
//! mark, it is asked to release them. A steady server never frees that much at once, so it
//! trims after a storm (connections, an export, a burst of large history pages) and
//! otherwise only reads a counter.
//!
//! The mark, not the free total, decides: glibc still counts released pages as free (they
//! stay in its free lists, only their memory went back), so after one trim the total stays
//! high, and only bytes freed since, above the lowest total seen, are worth another walk.
//!
//! Each round first drops the room keys the keyring cached past their time to live: live
//! allocations left among a storm's freed pages keep those pages from going back.

use crate::allocator;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use workroom_storage::Store;

/// How often the allocator's free bytes are read.
const CHECK_EVERY: Duration = Duration::from_secs(10);

/// Bytes freed above the low-water mark after which they are given back: well above what a
/// busy steady state frees and reuses between two checks (a few MiB).
const TRIM_ABOVE: u64 = 32 * 1024 * 1024;

/// When the allocator's free bytes call for a trim, from the lowest total since the last one.
#[derive(Debug, Default)]
struct Mark {
    low: u64,
}

impl Mark {
    /// Take a reading; `true` when it is `TRIM_ABOVE` over the mark. The reading after a
    /// trim becomes the new mark ([`Mark::trimmed`]); between trims the mark follows the
    /// lowest reading (memory taken back into use).
    fn due(&mut self, free: u64) -> bool {
        self.low = self.low.min(free);
        free - self.low > TRIM_ABOVE
    }

    fn trimmed(&mut self, free_after: u64) {
        self.low = free_after;
    }
}

pub async fn run(store: Store, shutdown: CancellationToken) {
    let mut ticks = super::Ticks::new(CHECK_EVERY, shutdown);
    let mut mark = Mark::default();
    while ticks.next().await {
        // Cached room keys past their time to live first: after a storm they are the live
        // allocations scattered among its freed pages.
        store.keyring().drop_expired();
        let Ok(Some(free)) = tokio::task::spawn_blocking(allocator::free_bytes).await else {
            return; // not glibc: nothing to watch
        };
        metrics::gauge!("workroom_allocator_free_bytes").set(free as f64);
        if !mark.due(free) {
            continue;
        }
        let started = std::time::Instant::now();
        let released = tokio::task::spawn_blocking(allocator::trim)
            .await
            .unwrap_or(false);
        mark.trimmed(free);
        metrics::counter!("workroom_allocator_trims_total").increment(1);
        tracing::debug!(
            free,
            released,
            took_ms = started.elapsed().as_millis(),
            "returned the allocator's free memory to the system"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn a_storm_is_trimmed_once_and_the_next_one_again() {
        let mut mark = Mark::default();
        assert!(!mark.due(4 * MIB), "steady churn is left alone");
        assert!(mark.due(300 * MIB), "a storm's free memory is given back");
        mark.trimmed(300 * MIB);
        assert!(
            !mark.due(300 * MIB),
            "released pages still count as free: no second walk"
        );
        assert!(!mark.due(310 * MIB));
        assert!(
            !mark.due(100 * MIB),
            "memory taken back into use lowers the mark"
        );
        assert!(
            mark.due(200 * MIB),
            "a second storm above the lower mark is trimmed"
        );
    }
}
