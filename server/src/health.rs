//! What the server knows about what it depends on (kept current by `tasks::health_checks`): whether the database answers, whether it
//! accepts commits, and whether the object store answers. Background checks keep it
//! current, so `/readyz` answers from memory at once whatever state the dependencies are in,
//! and the paths that need a dependency refuse at once while it is known to be down instead
//! of each waiting out its own timeout.
//!
//! Where each fact comes from:
//! - **database**: a ping on the probe's own connection every `health.check_interval_ms`,
//!   bounded by `health.check_timeout_ms` (`DatabaseProbe`, apart from the store's pool, so
//!   a busy pool does not look like a database that is down);
//! - **writes**: every committer batch the database could not take reports it at once (the
//!   first one turns `/readyz` to 503); writes count as accepted again after a batch that
//!   committed, or, without traffic, a probe write (a row inserted and removed in one commit)
//!   every interval, provided no batch was refused meanwhile;
//! - **object store**: its ping (S3 `HeadBucket`, a small local file) every interval.
//!
//! - **bus** (many nodes only): whether the link to NATS is connected (`crate::bus`).
//!
//! A node is ready when it is not draining, the database answers and accepts writes. A
//! missing object store degrades files only: `/readyz` names it but stays 200, because
//! messaging works and every node shares the same store. A bus that is down degrades
//! cross-node delivery to polling the database (`bus.poll_interval_ms`): `/readyz` names
//! it and stays 200, because nothing is refused.

use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The dependencies' states. Shared by the checks (writers) and the server (readers).
#[derive(Debug)]
pub struct Health {
    epoch: Instant,
    pub(crate) database: Dependency,
    pub(crate) writes: Dependency,
    pub(crate) object_store: Dependency,
    /// The link to the other nodes; only reported when a bus is configured.
    pub(crate) bus: Dependency,
    bus_configured: AtomicBool,
    /// Commits refused so far; the write probe declares recovery only when none was refused
    /// while it ran.
    write_failures: AtomicU64,
}

/// One dependency: up or down, and since when it is down (for the recovery log line).
#[derive(Debug)]
pub(crate) struct Dependency {
    /// The `dependency` label of `workroom_dependency_up` and the name in log lines.
    name: &'static str,
    up: AtomicBool,
    /// Milliseconds after `Health::epoch` when it went down.
    down_since: AtomicU64,
}

/// A dependency's state on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Up,
    Down,
}

/// The body of `/readyz`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    pub ready: bool,
    pub draining: bool,
    pub database: Status,
    pub writes: Status,
    pub object_store: Status,
    /// Only with a bus (many nodes): down means cross-node delivery polls the database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bus: Option<Status>,
}

impl Default for Health {
    fn default() -> Self {
        Health::new()
    }
}

impl Health {
    /// Everything up: the store was just opened and migrated, the object store configured.
    pub fn new() -> Health {
        let health = Health {
            epoch: Instant::now(),
            database: Dependency::new("database"),
            writes: Dependency::new("database_writes"),
            object_store: Dependency::new("object_store"),
            bus: Dependency::new("bus"),
            bus_configured: AtomicBool::new(false),
            write_failures: AtomicU64::new(0),
        };
        for dependency in [&health.database, &health.writes, &health.object_store] {
            dependency.publish();
        }
        health
    }

    /// The database answered its last check.
    pub fn database_up(&self) -> bool {
        self.database.is_up()
    }

    /// The object store answered its last check.
    pub fn object_store_up(&self) -> bool {
        self.object_store.is_up()
    }

    /// A bus is configured: it counts as down until its link connects.
    pub fn expect_bus(&self) {
        self.bus_configured.store(true, Ordering::SeqCst);
        self.bus.mark_down(self.now());
    }

    /// The link to the bus connected (`true`) or dropped.
    pub fn bus_changed(&self, up: bool) {
        if up {
            self.recovered(&self.bus);
        } else if self.bus.mark_down(self.now()) {
            tracing::warn!(
                dependency = "bus",
                "the bus is down: other nodes' events reach this node by polling the database"
            );
        }
    }

    /// The bus link is connected (always false without a bus).
    pub fn bus_up(&self) -> bool {
        self.bus_configured.load(Ordering::SeqCst) && self.bus.is_up()
    }

    /// How many commits were refused so far: pass it to [`Health::commit_succeeded`].
    pub fn write_failures(&self) -> u64 {
        self.write_failures.load(Ordering::SeqCst)
    }

    /// A commit went through. When no commit was refused since `failures_before` was read
    /// (just before this one began), the database takes writes again.
    pub fn commit_succeeded(&self, failures_before: u64) {
        if !self.writes.is_up() && self.write_failures() == failures_before {
            self.recovered(&self.writes);
        }
    }

    /// A commit was refused by the database (`cause` for the log, which says it once).
    pub fn commit_failed(&self, cause: &str) {
        self.write_failures.fetch_add(1, Ordering::SeqCst);
        metrics::counter!("workroom_storage_write_failures_total").increment(1);
        if self.writes.mark_down(self.now()) {
            tracing::error!(
                %cause,
                "storage refuses writes: sends are answered `unavailable` until it accepts them again"
            );
        }
    }

    /// What `/readyz` says.
    pub fn readiness(&self, draining: bool) -> Readiness {
        let database = self.database.status();
        let writes = self.writes.status();
        Readiness {
            ready: !draining && database == Status::Up && writes == Status::Up,
            draining,
            database,
            writes,
            object_store: self.object_store.status(),
            bus: self
                .bus_configured
                .load(Ordering::SeqCst)
                .then(|| self.bus.status()),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Record a check of `dependency`: down with its cause (logged once, with what that
    /// means for clients), or up.
    pub(crate) fn checked(
        &self,
        dependency: &Dependency,
        result: Result<(), String>,
        consequence: &str,
    ) {
        match result {
            Ok(()) => self.recovered(dependency),
            Err(cause) => {
                if dependency.mark_down(self.now()) {
                    tracing::error!(dependency = dependency.name, %cause, "{consequence}");
                }
            }
        }
    }

    pub(crate) fn recovered(&self, dependency: &Dependency) {
        if let Some(down_for) = dependency.mark_up(self.now()) {
            tracing::info!(
                dependency = dependency.name,
                down_secs = down_for.as_secs_f64(),
                "dependency is back"
            );
        }
    }
}

impl Dependency {
    fn new(name: &'static str) -> Dependency {
        Dependency {
            name,
            up: AtomicBool::new(true),
            down_since: AtomicU64::new(0),
        }
    }

    pub(crate) fn is_up(&self) -> bool {
        self.up.load(Ordering::SeqCst)
    }

    fn status(&self) -> Status {
        if self.is_up() {
            Status::Up
        } else {
            Status::Down
        }
    }

    /// Mark it down; `true` when it was up.
    fn mark_down(&self, now_ms: u64) -> bool {
        let was_up = self.up.swap(false, Ordering::SeqCst);
        if was_up {
            self.down_since.store(now_ms, Ordering::SeqCst);
            self.publish();
        }
        was_up
    }

    /// Mark it up; how long it was down when it was.
    fn mark_up(&self, now_ms: u64) -> Option<Duration> {
        if self.up.swap(true, Ordering::SeqCst) {
            return None;
        }
        self.publish();
        let since = self.down_since.load(Ordering::SeqCst);
        Some(Duration::from_millis(now_ms.saturating_sub(since)))
    }

    fn publish(&self) {
        metrics::gauge!("workroom_dependency_up", "dependency" => self.name).set(if self.is_up() {
            1.0
        } else {
            0.0
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_needs_the_database_and_its_writes_but_not_the_object_store() {
        let health = Health::new();
        assert!(health.readiness(false).ready);
        assert!(!health.readiness(true).ready);

        health.object_store.mark_down(1);
        let readiness = health.readiness(false);
        assert!(readiness.ready);
        assert_eq!(readiness.object_store, Status::Down);

        health.commit_failed("disk full");
        let readiness = health.readiness(false);
        assert!(!readiness.ready);
        assert_eq!(readiness.writes, Status::Down);
        assert_eq!(readiness.database, Status::Up);

        health.recovered(&health.writes);
        assert!(health.readiness(false).ready);
        health.database.mark_down(5);
        assert!(!health.readiness(false).ready);
        assert!(!health.database_up());
    }

    #[test]
    fn a_dependency_reports_each_change_once() {
        let dependency = Dependency::new("x");
        assert!(dependency.mark_up(10).is_none());
        assert!(dependency.mark_down(10));
        assert!(!dependency.mark_down(20));
        assert_eq!(dependency.mark_up(250), Some(Duration::from_millis(240)));
        assert!(dependency.mark_up(300).is_none());
    }

    #[test]
    fn the_bus_is_named_only_when_configured_and_never_makes_the_node_unready() {
        let health = Health::new();
        assert_eq!(
            health.readiness(false).bus,
            None,
            "one node: no bus to name"
        );
        assert!(!health.bus_up());
        health.expect_bus();
        let readiness = health.readiness(false);
        assert_eq!(
            readiness.bus,
            Some(Status::Down),
            "down until the link connects"
        );
        assert!(readiness.ready, "messaging works without it");
        health.bus_changed(true);
        assert!(health.bus_up());
        assert_eq!(health.readiness(false).bus, Some(Status::Up));
        health.bus_changed(false);
        assert!(!health.bus_up());
        assert!(health.readiness(false).ready);
    }
}
