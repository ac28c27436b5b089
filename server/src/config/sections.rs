//! The sections of the configuration, each with its defaults: what a server runs with when
//! the file says nothing.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use workroom_storage::SqliteSync;

/// Tracker screenshots (C9).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrackerConfig {
    /// The largest screenshot accepted.
    pub max_screenshot_bytes: u64,
    /// Screenshots per minute per bot token and workroom, sustained…
    pub per_minute: u32,
    /// …with bursts of this many.
    pub burst: u32,
    /// How old a screenshot's capture time may be when it arrives (a Tracker that was
    /// offline uploads its backlog); older ones are refused as `invalid`.
    pub max_capture_age_secs: u64,
    /// Share / un-share changes per minute per contractor, sustained…
    pub share_per_minute: u32,
    /// …with bursts of this many.
    pub share_burst: u32,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            max_screenshot_bytes: 5 * 1024 * 1024,
            per_minute: 1,
            burst: 3,
            max_capture_age_secs: 7 * 24 * 3600,
            share_per_minute: 30,
            share_burst: 20,
        }
    }
}

/// How long data stays usable for its purpose (C10). Every period is in seconds and is
/// enforced by the lifecycle task (`tasks/lifecycle.rs`); a legal hold defers what it covers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// After a workroom closes, how long it is kept (its parties still read it and what
    /// was released between them); then it is purged. A workroom may have its own period
    /// (`PUT /v1/marketplace/rooms/{room}/retention`). Default 90 days.
    pub closed_room_secs: u64,
    /// Tracker screenshots of a closed workroom (payment guarantee served): default 30 days
    /// after closing, or the room's purge if that comes first.
    pub closed_room_screenshot_secs: u64,
    /// The connection log (C11): default 30 days.
    pub connection_log_secs: u64,
    /// Prior versions of edited and deleted messages (kept for moderation): default 180
    /// days after they were replaced.
    pub prior_version_secs: u64,
    /// Ended grants and closed reports (the moderation records): default 365 days.
    pub moderation_record_secs: u64,
    /// Bot token revocations: longer than any bot token the marketplace issues lives
    /// (logout revocations go when their token expires). Default 400 days.
    pub revoked_bot_secs: u64,
    /// How often the lifecycle task looks for work. Default 60 s.
    pub check_secs: u64,
    /// Messages deleted per purge transaction. Default 500.
    pub purge_batch: u64,
    /// How long a node's claim on a purge holds before another node (or this one after a
    /// restart) may take the work over. Default 60 s.
    pub purge_lease_secs: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        const DAY: u64 = 86_400;
        RetentionConfig {
            closed_room_secs: 90 * DAY,
            closed_room_screenshot_secs: 30 * DAY,
            connection_log_secs: 30 * DAY,
            prior_version_secs: 180 * DAY,
            moderation_record_secs: 365 * DAY,
            revoked_bot_secs: 400 * DAY,
            check_secs: 60,
            purge_batch: 500,
            purge_lease_secs: 60,
        }
    }
}

/// Moderator access grants, reports and notices (C6).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModerationConfig {
    /// Four-eyes: a grant reads nothing until a second moderator approves it.
    pub require_approval: bool,
    /// The longest a grant may last once active (default 24 h).
    pub max_grant_secs: u64,
    /// The duration of a grant that names none.
    pub default_grant_secs: u64,
    /// Members may list the grants opened on their workroom once those ended.
    pub transparency: bool,
    /// Moderators may post a system notice into a workroom under a grant with scope `notice`.
    pub allow_notices: bool,
    /// How often expired grants are looked for, to record `grant.expired`.
    pub expiry_check_secs: u64,
}

impl Default for ModerationConfig {
    fn default() -> Self {
        ModerationConfig {
            require_approval: false,
            max_grant_secs: 86_400,
            default_grant_secs: 3_600,
            transparency: true,
            allow_notices: false,
            expiry_check_secs: 5,
        }
    }
}

/// The audit trail's signed checkpoints.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Ed25519 PKCS#8 key that signs checkpoints. Unset: `<data_dir>/keys/audit-ed25519.pk8`,
    /// generated (mode 0600) on first run.
    pub signing_key_file: Option<PathBuf>,
    /// Hex public keys of earlier signing keys, so their checkpoints still verify.
    pub public_keys: Vec<String>,
    /// Checkpoint after this many new entries…
    pub checkpoint_every_entries: u64,
    /// …or after this many seconds when the chain grew.
    pub checkpoint_interval_secs: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            signing_key_file: None,
            public_keys: Vec::new(),
            checkpoint_every_entries: 1000,
            checkpoint_interval_secs: 60,
        }
    }
}

/// A secret value from configuration: never printed by `Debug`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Master keys of the keyring (envelope encryption at rest).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// File of master keys, one `<id> <base64 32 bytes>` per line, newest last. Unset: the
    /// dev key file `<data_dir>/keys/master.keys`, generated (mode 0600) on first run.
    pub master_key_file: Option<PathBuf>,
    /// The same list inline, lines separated by `,` (for `WORKROOM_KEYS__MASTER_KEYS` from a
    /// secret store). Wins over the file.
    pub master_keys: Option<Secret>,
}

/// Where file contents go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileBackend {
    Local,
    S3,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilesConfig {
    /// `local` (a directory) or `s3`.
    pub backend: FileBackend,
    /// Directory of the local backend. Unset: `<data_dir>/files`.
    pub dir: Option<PathBuf>,
    /// Largest file, in bytes (default 100 MiB).
    pub max_file_bytes: u64,
    /// Bytes of live files one room may hold (default 10 GiB).
    pub room_quota_bytes: u64,
    /// Lifetime of a signed download link, in seconds (default 300).
    pub link_ttl_secs: u64,
    /// Most attachments on one message.
    pub max_attachments: usize,
    /// Objects without a file row older than this are removed by the sweeper (seconds). Keep
    /// it well above the longest upload: an upload's object exists before its row does.
    pub orphan_grace_secs: u64,
    /// How often the sweeper runs, in seconds.
    pub sweep_interval_secs: u64,
    pub s3: S3Config,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Config {
    pub bucket: String,
    pub region: String,
    /// A custom endpoint such as `http://127.0.0.1:9000`; unset for AWS.
    pub endpoint: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), which most non-AWS stores need.
    pub path_style: bool,
    /// Static credentials. Unset: the standard AWS chain (env, profile, instance role).
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret>,
    /// Read the secret access key from this file instead.
    pub secret_access_key_file: Option<PathBuf>,
    /// Multipart part size in bytes (at least 5 MiB).
    pub part_size_bytes: usize,
    /// The longest one S3 call may take, its retry included, in seconds; also the longest a
    /// download from the store may stall. An upload whose store call runs out fails as
    /// `unavailable`.
    pub timeout_secs: u64,
    /// Send request checksums only when an operation requires them (for stores that do
    /// not support the newer checksum trailers).
    pub checksums_when_required: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// SQLite durability: `full` (fsync per commit, the default) or `normal`.
    pub sqlite_synchronous: SqliteSync,
    /// PostgreSQL pool size.
    pub max_connections: u32,
    /// Most events committed in one transaction.
    pub max_batch: usize,
    /// Parallel committers (each owns a disjoint set of rooms). SQLite has one writer, so 1
    /// is right there; PostgreSQL benefits from a few.
    pub committers: usize,
    /// Longest wait for a database connection, connecting included, in milliseconds. A call
    /// that waits longer fails as `unavailable`, so a database that is down costs a request
    /// this long at most (and nothing once the health check has seen it down).
    pub acquire_timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain. Unset: the dev certificate in `<data_dir>/tls/` (made on first run).
    pub cert_file: Option<PathBuf>,
    /// PEM private key (PKCS#8, SEC1 or PKCS#1).
    pub key_file: Option<PathBuf>,
    /// Seconds between re-reads of the certificate and key (also re-read on SIGHUP).
    pub reload_interval_secs: u64,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            cert_file: None,
            key_file: None,
            reload_interval_secs: 300,
        }
    }
}

impl AuthConfig {
    /// Whether tokens signed with the dev key are accepted.
    pub fn dev_key_on(&self) -> bool {
        self.dev_key
            .unwrap_or(self.keys.is_empty() && self.jwks_file.is_none())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Expected `iss` claim.
    pub issuer: String,
    /// Expected `aud` claim.
    pub audience: String,
    /// Clock leeway for `exp` and `nbf`, in seconds (at most 60; default 5).
    pub leeway_secs: u64,
    /// Accept tokens signed with the dev HS256 key of the data dir (`workroom token`).
    /// Unset: on only when no production key is configured (`keys`, `jwks_file`).
    pub dev_key: Option<bool>,
    /// Production verification keys, selected by the token's `kid`.
    pub keys: Vec<KeyConfig>,
    /// A JWKS document (RFC 7517) with more production keys, by `kid`.
    pub jwks_file: Option<PathBuf>,
    /// Longest lifetime a token may have (`exp - iat`, and `exp` from now), in seconds.
    pub max_token_lifetime_secs: u64,
    /// Seconds between re-reads of the key files and the JWKS (also re-read on SIGHUP).
    pub reload_interval_secs: u64,
    /// Browser origins allowed to open WebSockets (exact `scheme://host[:port]`). The
    /// server's own origin is always allowed; requests without `Origin` are not browsers.
    pub allowed_origins: Vec<String>,
    /// Seconds a connection may stay unauthenticated before it is closed.
    pub auth_timeout_secs: u64,
}

/// One public verification key, pinned to one algorithm.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    pub kid: String,
    /// `RS256`, `ES256` or `EdDSA`.
    pub algorithm: String,
    /// PEM file holding the public key.
    pub public_key_file: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest message body in bytes (UTF-8).
    pub max_body_bytes: usize,
    /// Largest WebSocket message; larger ones close the connection with 1009.
    pub max_frame_bytes: usize,
    /// Frames queued to one connection before it counts as too slow and is disconnected.
    pub outbound_queue: usize,
    /// Unacknowledged sends one connection may have in flight before reads pause.
    pub max_inflight_per_connection: usize,
    /// Most connections held at once; more are refused with 503.
    pub max_connections: usize,
    /// Seconds between server pings.
    pub ping_interval_secs: u64,
    /// Seconds a socket write may take before the peer is dropped.
    pub write_timeout_secs: u64,
    /// Largest HTTP request body for JSON service calls.
    pub max_http_body_bytes: usize,
    /// Events one `resume` replays per room at most; past it the client pages the rest
    /// with `history`.
    pub resume_max_events: usize,
}

/// A rate: `per_sec` sustained, with bursts of `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateConfig {
    pub per_sec: u32,
    pub burst: u32,
}

const fn rate(per_sec: u32, burst: u32) -> RateConfig {
    RateConfig { per_sec, burst }
}

/// Rate limits per connection and per user (see `ratelimit`). The defaults are far above
/// what a person or an honest client does; each refusal answers `rate_limited` with when
/// to retry (`429` with `Retry-After` over HTTP) and is counted in
/// `workroom_rate_limited_total{limit}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitsConfig {
    /// Every WebSocket frame of one connection (`ping` included).
    pub frames_per_connection: RateConfig,
    /// `send`, `edit` and `delete` of one connection, and of one user on all of theirs.
    pub writes_per_connection: RateConfig,
    pub writes_per_user: RateConfig,
    /// `typing` (each is forwarded to the room).
    pub typing_per_connection: RateConfig,
    pub typing_per_user: RateConfig,
    /// `history` and `members` of one user.
    pub reads_per_user: RateConfig,
    /// `resume` of one user, and how many may run at once.
    pub resume_per_user: RateConfig,
    pub concurrent_resumes_per_user: usize,
    /// WebSocket sessions one user may hold at once.
    pub sessions_per_user: usize,
    /// HTTP routes of members and moderators, per user: reads (`GET`), writes (`POST`,
    /// `PUT`, `DELETE`), uploads.
    pub http_reads_per_user: RateConfig,
    pub http_writes_per_user: RateConfig,
    pub http_uploads_per_user: RateConfig,
    /// Every HTTP route, per token subject, for the systems' tokens (service, admin,
    /// legal, auditor).
    pub http_systems_per_user: RateConfig,
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        RateLimitsConfig {
            frames_per_connection: rate(200, 400),
            writes_per_connection: rate(50, 100),
            writes_per_user: rate(100, 200),
            typing_per_connection: rate(5, 10),
            typing_per_user: rate(10, 20),
            reads_per_user: rate(20, 40),
            resume_per_user: rate(5, 10),
            concurrent_resumes_per_user: 2,
            sessions_per_user: 32,
            http_reads_per_user: rate(50, 100),
            http_writes_per_user: rate(10, 30),
            http_uploads_per_user: rate(5, 20),
            http_systems_per_user: rate(1000, 2000),
        }
    }
}

/// The stages of a connection before it is a session, and who may open one at all (see
/// `listener`). Every refusal and close is counted in
/// `workroom_connections_refused_total` / `workroom_connections_closed_total` by reason.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionsConfig {
    /// Seconds a TLS handshake may take.
    pub tls_handshake_timeout_secs: u64,
    /// Seconds a connection may go without a request in flight: before its first request,
    /// between keep-alive requests, while a request's headers arrive (bytes trickling in
    /// do not extend it), an HTTP/2 connection without streams.
    pub idle_timeout_secs: u64,
    /// A request body must bring at least `body_min_bytes` in every window of this many
    /// seconds, or the connection is closed.
    pub body_progress_secs: u64,
    pub body_min_bytes: u64,
    /// Seconds a response may wait on a peer that reads nothing.
    pub send_stall_secs: u64,
    /// Open connections from one address (an IPv6 /64) at once.
    pub max_per_address: usize,
    /// New connections from one address per second (a burst of twice as many passes).
    pub new_per_address_per_sec: u32,
    /// Connections that are not (yet) an authenticated WebSocket session, from all
    /// addresses together: handshakes, HTTP requests and keep-alives, upgrades awaiting `auth`.
    pub max_unauthenticated: usize,
    /// Concurrent requests on one HTTP/2 connection.
    pub http2_max_streams: u32,
    /// The load balancers and proxies in front of the server: CIDR blocks or single
    /// addresses (`["10.0.0.0/8", "127.0.0.1"]`). Only a peer in one of them may say who
    /// the client is (PROXY header, `X-Forwarded-For`); it is exempt from the per-address
    /// limits, which apply to the client it announces instead. Empty: nobody is trusted.
    pub trusted_proxies: Vec<super::Cidr>,
    /// `off` or `v2`: whether trusted proxies begin each connection with a PROXY protocol
    /// version 2 header (then they must).
    pub proxy_protocol: super::ProxyProtocol,
}

impl Default for ConnectionsConfig {
    fn default() -> Self {
        ConnectionsConfig {
            tls_handshake_timeout_secs: 10,
            idle_timeout_secs: 30,
            body_progress_secs: 10,
            body_min_bytes: 1024,
            send_stall_secs: 30,
            max_per_address: 256,
            new_per_address_per_sec: 50,
            max_unauthenticated: 1024,
            http2_max_streams: 64,
            trusted_proxies: Vec::new(),
            proxy_protocol: super::ProxyProtocol::Off,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `pretty` or `json`.
    pub format: String,
    /// A tracing filter, e.g. `info,workroom_server=debug`. `RUST_LOG` wins when set.
    pub filter: String,
}

/// The background checks of the database and the object store behind `/readyz` and the
/// fail-fast refusals.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// Milliseconds between checks.
    pub check_interval_ms: u64,
    /// Milliseconds one check may take before it counts as unanswered.
    pub check_timeout_ms: u64,
    /// Unanswered checks in a row before a dependency counts as down (an error answer, such
    /// as a refused connection, counts at once).
    pub unanswered_checks_before_down: u32,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            check_interval_ms: 500,
            check_timeout_ms: 1000,
            unanswered_checks_before_down: 3,
        }
    }
}

/// The message bus that carries live events between nodes (C15). Unset `url`: one node, no
/// bus. The bus is a lossy signal layer: the database stays the truth, and while the bus
/// is down each node polls the database for the rooms its sessions follow.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusConfig {
    /// NATS server(s), comma-separated: `nats://host:4222` (or `tls://…`).
    pub url: Option<String>,
    /// Prefix of every subject, so several clusters can share one NATS.
    pub subject_prefix: String,
    /// This node's name in the cluster; a fresh one per start when unset.
    pub node_id: Option<String>,
    /// Milliseconds between database polls for followed rooms while the bus is down.
    pub poll_interval_ms: u64,
    /// Milliseconds between this node's heartbeats; a node silent for three is gone.
    pub heartbeat_interval_ms: u64,
    /// Signals waiting to be published; beyond it the oldest are dropped (receivers fill
    /// the gap from the database).
    pub publish_queue: usize,
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            url: None,
            subject_prefix: "workroom".into(),
            node_id: None,
            poll_interval_ms: 500,
            heartbeat_interval_ms: 1000,
            publish_queue: 16_384,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShutdownConfig {
    /// Seconds SIGTERM waits for connections to close and commits to finish.
    pub drain_timeout_secs: u64,
}

impl Default for FilesConfig {
    fn default() -> Self {
        FilesConfig {
            backend: FileBackend::Local,
            dir: None,
            max_file_bytes: 100 * 1024 * 1024,
            room_quota_bytes: 10 * 1024 * 1024 * 1024,
            link_ttl_secs: 300,
            max_attachments: 10,
            orphan_grace_secs: 3600,
            sweep_interval_secs: 600,
            s3: S3Config::default(),
        }
    }
}

impl Default for S3Config {
    fn default() -> Self {
        S3Config {
            bucket: String::new(),
            region: "us-east-1".into(),
            endpoint: None,
            path_style: false,
            access_key_id: None,
            secret_access_key: None,
            secret_access_key_file: None,
            part_size_bytes: 8 * 1024 * 1024,
            timeout_secs: 30,
            checksums_when_required: true,
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            sqlite_synchronous: SqliteSync::Full,
            max_connections: 16,
            max_batch: 1000,
            committers: 1,
            acquire_timeout_ms: 2000,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            issuer: "workroom-dev".into(),
            audience: "workroom".into(),
            leeway_secs: 5,
            dev_key: None,
            keys: Vec::new(),
            jwks_file: None,
            max_token_lifetime_secs: 7 * 24 * 3600,
            reload_interval_secs: 300,
            allowed_origins: Vec::new(),
            auth_timeout_secs: 5,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_body_bytes: 16 * 1024,
            max_frame_bytes: 64 * 1024,
            outbound_queue: 1024,
            max_inflight_per_connection: 256,
            max_connections: 18_000,
            ping_interval_secs: 30,
            write_timeout_secs: 10,
            max_http_body_bytes: 64 * 1024,
            resume_max_events: 2000,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: "pretty".into(),
            filter: "info".into(),
        }
    }
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        ShutdownConfig {
            drain_timeout_secs: 20,
        }
    }
}

/// Legal disclosure bundles (C12).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LegalConfig {
    /// Ed25519 PKCS#8 key that signs bundle manifests. Unset:
    /// `<data_dir>/keys/legal-ed25519.pk8`, generated (mode 0600) on first run. Its public
    /// key is served at `GET /v1/legal/public-key` and printed by `workroom legal public-key`.
    pub signing_key_file: Option<PathBuf>,
    /// How long a ready bundle is kept for the legal officer to download; then its key is
    /// destroyed and its object deleted. Default 14 days.
    pub bundle_retention_secs: u64,
    /// Bundles built at once on this node (the rest wait their turn). Default 1.
    pub concurrent_builds: usize,
    /// A build silent this long is reported failed (its node stopped). Default 120 s.
    pub stale_build_secs: u64,
}

impl Default for LegalConfig {
    fn default() -> Self {
        LegalConfig {
            signing_key_file: None,
            bundle_retention_secs: 14 * 86_400,
            concurrent_builds: 1,
            stale_build_secs: 120,
        }
    }
}

/// Anonymous analytics (C13).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnalyticsConfig {
    /// A cell fed by fewer distinct workrooms than this is shown as `suppressed`.
    /// Default 10.
    pub min_count: u64,
    /// The most days one query may span. Default 366.
    pub max_days: u64,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        AnalyticsConfig {
            min_count: 10,
            max_days: 366,
        }
    }
}
