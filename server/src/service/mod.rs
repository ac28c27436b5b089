//! The service layer: everything Workroom does, with no transport in it.
//!
//! `http/` and `ws/` only parse a request, call a method here and put the result on the
//! wire; they never reach the store, the blob store or the committers themselves, because
//! [`Service`] keeps those in private fields. Each method asks the policy before it touches
//! anything, and every read of content or personal data goes through a proof from
//! [`crate::policy::Proofs`] (a read without one does not compile; an audited read needs
//! the receipt of its audit record, which `Service::record_read` gets, the one path for
//! "audit before read"). Failures are [`Failure`]s: a wire code and a message safe to show.
//!
//! One file per area: `rooms` (access, rooms, members, read markers, typing), `history`
//! (the one paging of timelines, for members, grants and replay), `messages` (sends,
//! edits, deletes), `files`, `grants` (a moderator's grants), `moderation` (what a grant
//! opens: history, files, connections, live views, notices), `reports`, `contacts`,
//! `tracker` (Work View, bots, posting screenshots), `screenshots` (who sees them),
//! `audit`, `marketplace` (provisioning), `identity` (tokens to identities and their
//! revocation checks), `retention` (a workroom's retention and purge), `membership`
//! (logout, token revocation, termination, bans), `holds` (legal holds and deferred
//! erasures), `legal` (disclosure exports) and `disclosure` (building their bundles),
//! `analytics` (anonymous daily counts), `page` (serving the web client), `api_description` (the machine-readable API), `validate` (field checks), `failure` (the error).

mod analytics;
mod api_description;
mod audit;
mod contacts;
mod disclosure;
mod failure;
mod files;
mod grants;
mod history;
mod holds;
mod identity;
mod legal;
mod marketplace;
mod membership;
mod messages;
mod moderation;
mod page;
mod reports;
mod retention;
mod rooms;
mod screenshots;
mod tracker;
pub mod validate;

pub use analytics::{AnalyticsQuery, day_range, day_views};
pub use audit::{AuditPage, AuditQuery, AuditVerification};
pub use failure::Failure;
pub use files::{Download, Upload, percent_encode};
pub use history::{REPLAY_PAGE, RelayedEvent, Replay, Timeline, Window};
pub use legal::BundleDownload;
pub use messages::{Post, Submitted};
pub use moderation::{WatchRequest, Watching};
pub use screenshots::ScreenshotPage;
pub use tracker::{ScreenshotPost, WorkView};

use crate::auth::{Identity, TokenVerifier};
use crate::bundle::LegalSigner;
use crate::committer::Committers;
use crate::config::Config;
use crate::connlog::ConnLog;
use crate::health::Health;
use crate::hub::Hub;
use crate::links::LinkSigner;
use crate::policy::Proofs;
use crate::policy::{self, Act, Caller, Resource};
use crate::ratelimit::{Family, KeyedLimit, RateLimits};
use std::sync::Arc;
use workroom_protocol::Purpose;
use workroom_storage::audit::NewAuditEntry;
use workroom_storage::blob::BlobStore;
use workroom_storage::proof::Unrecorded;
use workroom_storage::{Clock, Store};

/// What the service is built from: the server assembles it once at start.
pub struct Parts {
    pub config: Arc<Config>,
    pub store: Store,
    pub blobs: BlobStore,
    pub proofs: Proofs,
    pub committers: Committers,
    pub verifier: Arc<TokenVerifier>,
    pub links: LinkSigner,
    pub hub: Arc<Hub>,
    pub health: Arc<Health>,
    pub connlog: Arc<ConnLog>,
    pub clock: Clock,
    /// Wakes the lifecycle task (a purge asked for, a hold lifted).
    pub lifecycle: Arc<tokio::sync::Notify>,
    /// Signs legal bundles.
    pub legal_signer: Arc<LegalSigner>,
    /// The public keys audit checkpoints may be signed with, by key id.
    pub audit_keys: Arc<std::collections::HashMap<String, Vec<u8>>>,
}

/// Workroom's operations, for both transports. See the module doc.
#[derive(Debug)]
pub struct Service {
    config: Arc<Config>,
    store: Store,
    blobs: BlobStore,
    proofs: Proofs,
    committers: Committers,
    verifier: Arc<TokenVerifier>,
    links: LinkSigner,
    hub: Arc<Hub>,
    health: Arc<Health>,
    connlog: Arc<ConnLog>,
    clock: Clock,
    lifecycle: Arc<tokio::sync::Notify>,
    /// Tracker screenshots per bot token and workroom (`tracker.per_minute`, `burst`).
    screenshot_limiter: KeyedLimit,
    /// Share and un-share changes per contractor (`tracker.share_per_minute`,
    /// `share_burst`): each one notifies the room and writes an audit entry.
    share_limiter: KeyedLimit,
    /// The per-user limits of `[rate_limits]` and the per-user concurrency counts.
    rate_limits: Arc<RateLimits>,
    legal_signer: Arc<LegalSigner>,
    /// Bundle builds at once on this node (`legal.concurrent_builds`).
    legal_builds: Arc<tokio::sync::Semaphore>,
    audit_keys: Arc<std::collections::HashMap<String, Vec<u8>>>,
    /// One audit verification at a time on this node: each reads the whole trail (another
    /// is refused meanwhile).
    audit_verifications: Arc<tokio::sync::Semaphore>,
}

impl Service {
    pub fn new(parts: Parts) -> Service {
        let legal_builds = Arc::new(tokio::sync::Semaphore::new(
            parts.config.legal.concurrent_builds,
        ));
        let tracker = &parts.config.tracker;
        let rate_limits = Arc::new(RateLimits::new(
            &parts.config.rate_limits,
            parts.clock.clone(),
        ));
        let cluster = rate_limits.cluster().clone();
        let screenshot_limiter = KeyedLimit::per_minute(
            tracker.per_minute,
            tracker.burst,
            parts.clock.clone(),
            cluster.clone(),
        );
        let share_limiter = KeyedLimit::per_minute(
            tracker.share_per_minute,
            tracker.share_burst,
            parts.clock.clone(),
            cluster,
        );
        Service {
            config: parts.config,
            store: parts.store,
            blobs: parts.blobs,
            proofs: parts.proofs,
            committers: parts.committers,
            verifier: parts.verifier,
            links: parts.links,
            hub: parts.hub,
            health: parts.health,
            connlog: parts.connlog,
            clock: parts.clock,
            lifecycle: parts.lifecycle,
            screenshot_limiter,
            share_limiter,
            rate_limits,
            legal_builds,
            legal_signer: parts.legal_signer,
            audit_keys: parts.audit_keys,
            audit_verifications: Arc::new(tokio::sync::Semaphore::new(1)),
        }
    }

    /// Unix ms on the service's clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Spend one of `identity`'s `family` budget, or refuse with when to retry.
    pub fn rate_limit(&self, family: Family, identity: &Identity) -> Result<(), Failure> {
        self.rate_limits
            .check(family, identity.user())
            .map_err(|ms| {
                Failure::rate_limited(
                    ms,
                    format!("too many requests ({}); retry in {ms} ms", family.as_str()),
                )
            })
    }

    /// Another node destroyed a data key (erasure): nothing here may open or seal with it
    /// any more, from now on rather than when the cache entry would have expired.
    pub fn forget_destroyed_key(&self, key_id: &str) {
        self.store.keyring().forget_destroyed(key_id);
    }

    /// Tell `tell` of every data key this node destroys (the bus tells the other nodes).
    pub fn on_key_destroyed(&self, tell: impl Fn(&str) + Send + Sync + 'static) {
        self.store.keyring().on_destroyed(tell);
    }

    /// The keyring, for sealing what travels between nodes (`crate::bus::wire`).
    pub fn keyring(&self) -> &workroom_storage::Keyring {
        self.store.keyring()
    }

    /// The per-user limits, for the sessions' own per-connection budgets and slots.
    pub fn rate_limits(&self) -> &Arc<RateLimits> {
        &self.rate_limits
    }

    /// Ask the policy for an act on no particular resource (lifecycle, marketplace and
    /// operator acts decide on the caller's role and purpose alone).
    fn allow(&self, identity: &Identity, act: Act, purpose: Purpose) -> Result<(), Failure> {
        policy::decide(Caller::Token(identity), act, purpose, Resource::Nothing)?;
        Ok(())
    }

    /// Record `entry` and only then hand out the proof of the audited read it stands for:
    /// the one path from an audited decision to a read. If the record cannot be written the
    /// caller gets `unavailable` and reads nothing.
    async fn record_read<T>(
        &self,
        read: Unrecorded<T>,
        entry: NewAuditEntry,
    ) -> Result<T, Failure> {
        Ok(self.committers.record_read(read, entry).await?)
    }
}
