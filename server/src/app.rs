//! The state every handler shares: one `Clone` handle over `Arc<Inner>`.

use crate::auth::TokenVerifier;
use crate::committer::Committers;
use crate::config::Config;
use crate::hub::Hub;
use crate::links::LinkSigner;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use workroom_storage::Store;
use workroom_storage::blob::BlobStore;

/// Shared server state.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

/// The fields behind [`AppState`]. Created once by [`crate::server::run`]; dropped when the
/// last handler and session finish.
#[derive(Debug)]
pub struct Inner {
    /// Validated configuration, read-only.
    pub config: Config,
    /// The database; every read and write goes through its repositories.
    pub store: Store,
    /// The one clock of every time-driven rule (the store's): tokens, grants, links,
    /// retention, rate limits.
    pub clock: workroom_storage::Clock,
    /// Bearer-token verification, read-only.
    pub verifier: TokenVerifier,
    /// Live fan-out registry; sessions register and deregister themselves.
    pub hub: Arc<Hub>,
    /// The dependencies' states, kept current by background checks (`/readyz`, fail-fast).
    pub health: Arc<crate::health::Health>,
    /// Where file contents go (ciphertext only).
    pub blobs: BlobStore,
    /// Signs and checks short-lived download links.
    pub links: LinkSigner,
    /// The only maker of the proofs content reads need (after the policy allowed them).
    pub proofs: crate::policy::Proofs,
    /// Pseudonymised connection records (C11).
    pub connlog: crate::connlog::ConnLog,
    /// Tracker screenshots per bot token and workroom (`tracker.per_minute`, `burst`).
    pub screenshot_limiter: crate::ratelimit::RateLimiter,
    /// Share and un-share changes per contractor (`tracker.share_per_minute`,
    /// `share_burst`): each one notifies the room and writes an audit entry.
    pub share_limiter: crate::ratelimit::RateLimiter,
    /// The write path for timeline events.
    pub committers: Committers,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Fires on SIGTERM/shutdown: sessions close with 1001, committers drain.
    pub shutdown: CancellationToken,
    /// Tracks WebSocket sessions, which the HTTP server's graceful shutdown does not see.
    pub sessions: TaskTracker,
    /// Set when draining: `/readyz` answers 503 so load balancers stop sending traffic.
    pub draining: AtomicBool,
    /// Open sessions, bounded by `limits.max_connections`.
    pub open_sessions: AtomicUsize,
    /// This server's own origin (`https://host:port`), always allowed for browsers.
    pub own_origins: Vec<String>,
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        AppState(Arc::new(inner))
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
