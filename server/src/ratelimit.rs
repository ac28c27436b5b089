//! Rate limits (C14), all on governor's GCRA (one compare-and-swap per check, no lock
//! across keys) and all on the injected clock, so a test moves time instead of sleeping.
//!
//! - [`KeyedLimit`]: one budget per key (a user, a bot token and room, a contractor), in a
//!   sharded map that forgets keys whose budget is full again.
//! - [`ConnectionLimit`]: one budget for one WebSocket connection, owned by its session.
//! - [`RateLimits`]: the server's per-user limits by family, and the counts that bound
//!   concurrency (sessions and resumes per user).
//!
//! Every refusal says when to retry; nothing is dropped silently.
//!
//! On many nodes (C15) the limits hold for the cluster: each node knows how many nodes there
//! are ([`ClusterSize`], kept by the bus from heartbeats) and gives each key its share of
//! the budget, by spending that many cells per request, so however a user's requests are
//! spread over the nodes, the cluster lets through at most the configured rate (a budget
//! whose burst is smaller than the cluster spends its whole burst). Concurrency caps are
//! divided the same way (`max(1, cap / nodes)` per node). No counter is shared: a shared
//! one (NATS key-value, a PostgreSQL row) would put a network round trip into every send
//! and make every send depend on that service being up. The price is that a user whose
//! connections all land on one node gets that node's share only; the defaults leave real
//! users far from it (see `docs/protocol.md` § 7.5).

use crate::config::{RateConfig, RateLimitsConfig};
use governor::clock::{Clock as GovernorClock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed, keyed::DashMapStateStore};
use governor::{Quota, RateLimiter as Gcra};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use workroom_storage::Clock;

/// The injected clock, as governor reads time.
#[derive(Debug, Clone)]
pub struct LimitClock(Clock);

impl GovernorClock for LimitClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(
            u64::try_from(self.0.now_ms())
                .unwrap_or(0)
                .saturating_mul(1_000_000),
        )
    }
}

fn quota(rate: RateConfig) -> Quota {
    let per_sec = NonZeroU32::new(rate.per_sec).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(rate.burst).unwrap_or(per_sec);
    Quota::per_second(per_sec).allow_burst(burst)
}

/// Milliseconds until `earliest`, at least 1 (a hint of 0 would invite a busy retry).
fn wait_ms(earliest: Nanos, now: Nanos) -> u64 {
    let wait: Duration = earliest.duration_since(now).into();
    u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// How many nodes share each budget (1 without a bus). Cloned into every limit.
#[derive(Debug, Clone)]
pub struct ClusterSize(Arc<AtomicUsize>);

impl Default for ClusterSize {
    fn default() -> Self {
        ClusterSize(Arc::new(AtomicUsize::new(1)))
    }
}

impl ClusterSize {
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed).max(1)
    }

    /// The bus counted `nodes` nodes (this one included).
    pub fn set(&self, nodes: usize) {
        let before = self.0.swap(nodes.max(1), Ordering::Relaxed);
        if before != nodes.max(1) {
            tracing::info!(nodes, "rate limits now shared by this many nodes");
        }
    }

    /// This node's share of a concurrency cap.
    fn share(&self, cap: usize) -> usize {
        (cap / self.get()).max(1)
    }
}

type KeyedGcra = Gcra<String, DashMapStateStore<String>, LimitClock, NoOpMiddleware<Nanos>>;

/// A budget per key.
pub struct KeyedLimit {
    gcra: KeyedGcra,
    clock: LimitClock,
    /// The budget's burst: a request never spends more cells than that.
    burst: NonZeroU32,
    cluster: ClusterSize,
    /// Checks since the map was last looked at for keys to forget.
    checks: AtomicU32,
}

/// How often (in checks) the map's size is looked at: counting it visits every shard.
const SWEEP_EVERY: u32 = 1024;

impl std::fmt::Debug for KeyedLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedLimit")
            .field("keys", &self.gcra.len())
            .finish()
    }
}

impl KeyedLimit {
    pub fn new(rate: RateConfig, clock: Clock, cluster: ClusterSize) -> KeyedLimit {
        KeyedLimit::with_quota(quota(rate), clock, cluster)
    }

    /// `per_minute` with bursts of `burst` (the Tracker's limits are set per minute).
    pub fn per_minute(
        per_minute: u32,
        burst: u32,
        clock: Clock,
        cluster: ClusterSize,
    ) -> KeyedLimit {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        KeyedLimit::with_quota(
            Quota::per_minute(per_minute).allow_burst(burst),
            clock,
            cluster,
        )
    }

    fn with_quota(quota: Quota, clock: Clock, cluster: ClusterSize) -> KeyedLimit {
        let clock = LimitClock(clock);
        KeyedLimit {
            gcra: Gcra::dashmap_with_clock(quota, clock.clone()),
            clock,
            burst: quota.burst_size(),
            cluster,
            checks: AtomicU32::new(0),
        }
    }

    /// Spend one from `key`'s budget; `Err(ms)` until one is available.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        // Forget keys whose budget is full again: the map holds the recently active only.
        if self
            .checks
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(SWEEP_EVERY)
            && self.gcra.len() > 10_000
        {
            self.gcra.retain_recent();
        }
        // This node's share of the budget: each request spends one cell per node.
        let cells = u32::try_from(self.cluster.get())
            .ok()
            .and_then(NonZeroU32::new)
            .unwrap_or(NonZeroU32::MIN)
            .min(self.burst);
        match self.gcra.check_key_n(&key.to_string(), cells) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(wait_ms(not_until.earliest_possible(), self.clock.now())),
            // Cannot happen (cells never exceed the burst); refuse for a second if it did.
            Err(_) => Err(1000),
        }
    }

    /// [`check`](Self::check), the wait in whole seconds (for `Retry-After`).
    pub fn take(&self, key: &str) -> Result<(), u64> {
        self.check(key).map_err(|ms| ms.div_ceil(1000))
    }
}

type DirectGcra = Gcra<NotKeyed, InMemoryState, LimitClock, NoOpMiddleware<Nanos>>;

/// One connection's budget.
pub struct ConnectionLimit {
    gcra: DirectGcra,
    clock: LimitClock,
}

impl ConnectionLimit {
    pub fn new(rate: RateConfig, clock: Clock) -> ConnectionLimit {
        let clock = LimitClock(clock);
        ConnectionLimit {
            gcra: Gcra::direct_with_clock(quota(rate), clock.clone()),
            clock,
        }
    }

    /// Spend one; `Err(ms)` until one is available.
    pub fn check(&self) -> Result<(), u64> {
        self.gcra
            .check()
            .map_err(|not_until| wait_ms(not_until.earliest_possible(), self.clock.now()))
    }
}

/// What a request counts against, per user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `send`, `edit`, `delete`.
    Writes,
    Typing,
    /// `history`, `members`.
    Reads,
    Resume,
    /// HTTP `GET` of a member or moderator.
    HttpReads,
    /// HTTP `POST`, `PUT`, `DELETE` of a member or moderator (reports, revocations, Work
    /// View toggles, contact releases, links, logout…).
    HttpWrites,
    /// File and screenshot uploads.
    HttpUploads,
    /// Every route, for the systems' tokens (service, admin, legal, auditor).
    HttpSystems,
}

impl Family {
    /// Every family, in declaration order (the index of [`RateLimits`]' budgets).
    const ALL: [Family; 8] = [
        Family::Writes,
        Family::Typing,
        Family::Reads,
        Family::Resume,
        Family::HttpReads,
        Family::HttpWrites,
        Family::HttpUploads,
        Family::HttpSystems,
    ];

    /// The per-user rate of this family in `[rate_limits]`.
    fn per_user(self, c: &RateLimitsConfig) -> RateConfig {
        match self {
            Family::Writes => c.writes_per_user,
            Family::Typing => c.typing_per_user,
            Family::Reads => c.reads_per_user,
            Family::Resume => c.resume_per_user,
            Family::HttpReads => c.http_reads_per_user,
            Family::HttpWrites => c.http_writes_per_user,
            Family::HttpUploads => c.http_uploads_per_user,
            Family::HttpSystems => c.http_systems_per_user,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Family::Writes => "writes",
            Family::Typing => "typing",
            Family::Reads => "reads",
            Family::Resume => "resume",
            Family::HttpReads => "http_reads",
            Family::HttpWrites => "http_writes",
            Family::HttpUploads => "http_uploads",
            Family::HttpSystems => "http_systems",
        }
    }
}

/// Count a refusal (by family or connection limit; never by user).
pub fn refused(limit: &'static str) {
    metrics::counter!("workroom_rate_limited_total", "limit" => limit).increment(1);
}

/// The server's per-user limits and concurrency counts.
#[derive(Debug)]
pub struct RateLimits {
    config: RateLimitsConfig,
    clock: Clock,
    /// One budget per family, indexed by `Family as usize`.
    families: [KeyedLimit; Family::ALL.len()],
    sessions: Counts,
    resumes: Counts,
    cluster: ClusterSize,
}

/// Places held per user.
type Counts = Arc<Mutex<HashMap<String, usize>>>;

impl RateLimits {
    pub fn new(config: &RateLimitsConfig, clock: Clock) -> RateLimits {
        let cluster = ClusterSize::default();
        let families = Family::ALL
            .map(|family| KeyedLimit::new(family.per_user(config), clock.clone(), cluster.clone()));
        RateLimits {
            config: config.clone(),
            clock,
            families,
            sessions: Counts::default(),
            resumes: Counts::default(),
            cluster,
        }
    }

    /// How many nodes share the budgets (set by the bus).
    pub fn cluster(&self) -> &ClusterSize {
        &self.cluster
    }

    pub fn config(&self) -> &RateLimitsConfig {
        &self.config
    }

    /// A new per-connection budget at `rate`.
    pub fn connection(&self, rate: RateConfig) -> ConnectionLimit {
        ConnectionLimit::new(rate, self.clock.clone())
    }

    /// Spend one of `user`'s `family` budget; `Err(ms)` until one is available.
    pub fn check(&self, family: Family, user: &str) -> Result<(), u64> {
        self.families[family as usize].check(user).inspect_err(|_| {
            refused(family.as_str());
        })
    }

    /// A session slot for `user`, or `None` at `sessions_per_user`.
    pub fn open_session(&self, user: &str) -> Option<Slot> {
        Slot::take(
            &self.sessions,
            user,
            self.cluster.share(self.config.sessions_per_user),
            "sessions",
        )
    }

    /// A resume slot for `user`, or `None` at `concurrent_resumes_per_user` running.
    pub fn start_resume(&self, user: &str) -> Option<Slot> {
        Slot::take(
            &self.resumes,
            user,
            self.cluster.share(self.config.concurrent_resumes_per_user),
            "concurrent_resumes",
        )
    }
}

/// One of a user's concurrent places (a session, a resume); given back on drop.
#[derive(Debug)]
pub struct Slot {
    counts: Counts,
    user: String,
}

impl Slot {
    fn take(counts: &Counts, user: &str, max: usize, limit: &'static str) -> Option<Slot> {
        let mut held = counts.lock().unwrap_or_else(|p| p.into_inner());
        let mine = held.entry(user.to_string()).or_insert(0);
        if *mine >= max {
            drop(held);
            refused(limit);
            return None;
        }
        *mine += 1;
        Some(Slot {
            counts: counts.clone(),
            user: user.to_string(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(mine) = held.get_mut(&self.user) {
            *mine -= 1;
            if *mine == 0 {
                held.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_the_sustained_rate_and_a_wait_to_retry() {
        let (clock, control) = Clock::adjustable();
        let limit = KeyedLimit::per_minute(1, 3, clock, ClusterSize::default());
        for _ in 0..3 {
            assert!(limit.take("a").is_ok());
        }
        assert_eq!(limit.take("a"), Err(60));
        assert!(limit.take("b").is_ok(), "keys are independent");
        control.advance(Duration::from_secs(60));
        assert!(limit.take("a").is_ok());
        control.advance(Duration::from_secs(1));
        assert!(limit.take("a").is_err());
    }

    #[test]
    fn a_connection_budget_refills_with_the_clock() {
        let (clock, control) = Clock::adjustable();
        let limit = ConnectionLimit::new(
            RateConfig {
                per_sec: 10,
                burst: 2,
            },
            clock,
        );
        assert!(limit.check().is_ok());
        assert!(limit.check().is_ok());
        let wait = limit.check().unwrap_err();
        assert!((1..=100).contains(&wait), "{wait} ms");
        control.advance(Duration::from_millis(100));
        assert!(limit.check().is_ok());
    }

    #[test]
    fn every_family_has_its_own_budget_in_declaration_order() {
        for (index, family) in Family::ALL.iter().enumerate() {
            assert_eq!(*family as usize, index, "{}", family.as_str());
        }
    }

    #[test]
    fn concurrent_places_are_given_back() {
        let limits = RateLimits::new(
            &RateLimitsConfig {
                sessions_per_user: 2,
                ..RateLimitsConfig::default()
            },
            Clock::system(),
        );
        let one = limits.open_session("u").unwrap();
        let _two = limits.open_session("u").unwrap();
        assert!(limits.open_session("u").is_none());
        assert!(limits.open_session("v").is_some());
        drop(one);
        assert!(limits.open_session("u").is_some());
    }

    #[test]
    fn on_many_nodes_each_node_gives_its_share_of_the_budget() {
        let (clock, control) = Clock::adjustable();
        let cluster = ClusterSize::default();
        let limit = KeyedLimit::new(
            RateConfig {
                per_sec: 30,
                burst: 30,
            },
            clock,
            cluster.clone(),
        );
        cluster.set(3);
        let allowed = (0..100).filter(|_| limit.check("a").is_ok()).count();
        assert_eq!(allowed, 10, "a third of the burst on each of three nodes");
        control.advance(Duration::from_secs(1));
        cluster.set(1);
        let allowed = (0..100).filter(|_| limit.check("a").is_ok()).count();
        assert_eq!(allowed, 30, "alone again: the whole budget");

        let limits = RateLimits::new(
            &RateLimitsConfig {
                sessions_per_user: 32,
                concurrent_resumes_per_user: 2,
                ..RateLimitsConfig::default()
            },
            Clock::system(),
        );
        limits.cluster().set(3);
        let sessions: Vec<_> = (0..40).filter_map(|_| limits.open_session("u")).collect();
        assert_eq!(sessions.len(), 10, "32 / 3 per node");
        let resumes: Vec<_> = (0..4).filter_map(|_| limits.start_resume("u")).collect();
        assert_eq!(resumes.len(), 1, "never below one");
    }
}
