//! What the transports share: the [`Service`] (everything Workroom does) and the state of
//! the connections themselves (sessions, draining, origins, metrics). One `Clone` handle
//! over `Arc<Inner>`. The store, the blob store and the committers are not here: they
//! are the service's, so a handler cannot reach them around it.

use crate::config::Config;
use crate::connlog::ConnLog;
use crate::health::Health;
use crate::hub::Hub;
use crate::service::Service;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Shared server state.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

/// The fields behind [`AppState`]. Created once by [`crate::server::run`]; dropped when the
/// last handler and session finish.
#[derive(Debug)]
pub struct Inner {
    /// Validated configuration, read-only.
    pub config: Arc<Config>,
    /// Everything Workroom does, for both transports.
    pub service: Service,
    /// The one clock of every time-driven rule: sessions time tokens and live views by it.
    pub clock: workroom_storage::Clock,
    /// Live fan-out registry; sessions register and deregister themselves.
    pub hub: Arc<Hub>,
    /// The dependencies' states, kept current by background checks (`/readyz`, fail-fast).
    pub health: Arc<Health>,
    /// Pseudonymised connection records (C11): connections, and who was on them.
    pub connlog: Arc<ConnLog>,
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
