//! The background tasks. `server::run` starts each on the background tracker; each stops
//! when the shutdown token fires (the connection-log writer after writing what is queued),
//! and shutdown waits for them after the sessions.
//!
//! - [`checkpoints`]: signs audit checkpoints as the chain grows;
//! - [`connection_log`]: writes the connection log's queued records in batches;
//! - [`grant_expiry`]: records `grant.expired` once per grant and ends live views;
//! - [`health_checks`]: keeps [`crate::health::Health`] current;
//! - [`lifecycle`]: retention purges, deferred erasures and retention sweeps;
//! - [`memory_trim`]: gives the allocator's free memory back to the system after a storm;
//! - [`reload`]: re-reads the TLS certificate and the token keys (SIGHUP, timer);
//! - [`revocations`]: closes this node's sessions whose token another node revoked;
//! - [`orphan_sweep`]: removes objects no file row points at.

pub mod checkpoints;
pub mod connection_log;
pub mod grant_expiry;
pub mod health_checks;
pub mod lifecycle;
pub mod memory_trim;
pub mod orphan_sweep;
pub mod reload;
pub mod revocations;

use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A periodic task's clock: a tick every `every` (a slow round delays the next one rather
/// than bunching them up), the first at once, until shutdown.
pub(crate) struct Ticks {
    ticker: tokio::time::Interval,
    shutdown: CancellationToken,
}

impl Ticks {
    pub(crate) fn new(every: Duration, shutdown: CancellationToken) -> Ticks {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Ticks { ticker, shutdown }
    }

    /// Wait for the next tick; `false` once shutting down.
    pub(crate) async fn next(&mut self) -> bool {
        tokio::select! {
            () = self.shutdown.cancelled() => false,
            _ = self.ticker.tick() => true,
        }
    }
}
