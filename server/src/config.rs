//! Typed, validated configuration: defaults < TOML file < `WORKROOM_*` environment < CLI.
//!
//! Top-level keys map to `WORKROOM_<KEY>` (`WORKROOM_LISTEN`, `WORKROOM_DATA_DIR`,
//! `WORKROOM_DATABASE_URL`); section keys to `WORKROOM_<SECTION>__<KEY>`
//! (`WORKROOM_LIMITS__MAX_BODY_BYTES`). Unknown keys in the file are errors; every problem
//! found by validation is reported at once, each naming its key.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use workroom_storage::SqliteSync;

/// The whole configuration. Every field has a default, so an empty file is valid.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address of the one HTTPS + WSS listener.
    pub listen: String,
    /// Where the SQLite database, dev keys and dev certificate live.
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite:…`; unset means SQLite at `<data_dir>/workroom.db`.
    pub database_url: Option<String>,
    pub database: DatabaseConfig,
    pub tls: TlsConfig,
    pub auth: AuthConfig,
    pub limits: LimitsConfig,
    pub log: LogConfig,
    pub shutdown: ShutdownConfig,
    pub health: HealthConfig,
    pub keys: KeysConfig,
    pub files: FilesConfig,
    pub audit: AuditConfig,
    pub moderation: ModerationConfig,
    pub retention: RetentionConfig,
    pub tracker: TrackerConfig,
}

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

/// How long data stays usable for its purpose (C10).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// After a workroom closes, how long its parties can still read what was released
    /// between them (contact details). Default 90 days.
    pub closed_room_secs: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            closed_room_secs: 90 * 86_400,
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

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain. Unset: the dev certificate in `<data_dir>/tls/` (made on first run).
    pub cert_file: Option<PathBuf>,
    /// PEM private key (PKCS#8, SEC1 or PKCS#1).
    pub key_file: Option<PathBuf>,
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
    pub dev_key: bool,
    /// Production verification keys, selected by the token's `kid`.
    pub keys: Vec<KeyConfig>,
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
    /// Milliseconds one check may take before its dependency counts as down.
    pub check_timeout_ms: u64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            check_interval_ms: 500,
            check_timeout_ms: 1000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShutdownConfig {
    /// Seconds SIGTERM waits for connections to close and commits to finish.
    pub drain_timeout_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8443".into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            database: DatabaseConfig::default(),
            tls: TlsConfig::default(),
            auth: AuthConfig::default(),
            limits: LimitsConfig::default(),
            log: LogConfig::default(),
            shutdown: ShutdownConfig::default(),
            health: HealthConfig::default(),
            keys: KeysConfig::default(),
            files: FilesConfig::default(),
            audit: AuditConfig::default(),
            moderation: ModerationConfig::default(),
            retention: RetentionConfig::default(),
            tracker: TrackerConfig::default(),
        }
    }
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
            dev_key: true,
            keys: Vec::new(),
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

/// Values given on the command line; they win over everything else.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CliOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
}

/// Why the configuration was refused. The message lists every problem, one per line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration error: {0}")]
    Load(String),
    #[error("invalid configuration:\n{}", .0.join("\n"))]
    Invalid(Vec<String>),
}

const TOP_LEVEL_KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "database",
    "tls",
    "auth",
    "limits",
    "log",
    "shutdown",
    "health",
    "keys",
    "files",
    "audit",
    "moderation",
    "retention",
    "tracker",
];

impl Config {
    /// Load from the layers and validate. `file` is optional; a named file must exist.
    pub fn load(file: Option<&Path>, cli: &CliOverrides) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Load(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        let env = Env::prefixed("WORKROOM_").split("__").filter(|key| {
            // Filters may see the key before or after the `__` split, in either case.
            let key = key.as_str().to_ascii_lowercase();
            let top = key.split(['.', '_']).next().unwrap_or_default();
            TOP_LEVEL_KEYS
                .iter()
                .any(|k| k.split('_').next() == Some(top) && key.starts_with(k))
        });
        figment = figment.merge(env).merge(Serialized::defaults(cli.clone()));
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Load(describe_figment_error(e)))?;
        config.validate()?;
        Ok(config)
    }

    /// Every problem at once, each naming its key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if self.listen.parse::<SocketAddr>().is_err() {
            problems.push(format!(
                "listen: `{}` is not an address like 127.0.0.1:8443",
                self.listen
            ));
        }
        if let Some(url) = &self.database_url
            && !(url.starts_with("postgres://")
                || url.starts_with("postgresql://")
                || url.starts_with("sqlite:"))
        {
            problems
                .push("database_url: must start with postgres://, postgresql:// or sqlite:".into());
        }
        if self.database.max_batch == 0 || self.database.max_batch > 5000 {
            problems.push("database.max_batch: must be between 1 and 5000".into());
        }
        if self.database.committers == 0 || self.database.committers > 64 {
            problems.push("database.committers: must be between 1 and 64".into());
        }
        if self.database.max_connections == 0 {
            problems.push("database.max_connections: must be at least 1".into());
        }
        if self.tls.cert_file.is_some() != self.tls.key_file.is_some() {
            problems.push("tls: cert_file and key_file must be set together".into());
        }
        if self.auth.leeway_secs > 60 {
            problems.push("auth.leeway_secs: must be at most 60".into());
        }
        if self.auth.issuer.is_empty() {
            problems.push("auth.issuer: must not be empty".into());
        }
        if self.auth.audience.is_empty() {
            problems.push("auth.audience: must not be empty".into());
        }
        if !self.auth.dev_key && self.auth.keys.is_empty() {
            problems
                .push("auth.keys: at least one key is needed when auth.dev_key is false".into());
        }
        for (i, key) in self.auth.keys.iter().enumerate() {
            if !matches!(key.algorithm.as_str(), "RS256" | "ES256" | "EdDSA") {
                problems.push(format!(
                    "auth.keys[{i}].algorithm: `{}` is not one of RS256, ES256, EdDSA",
                    key.algorithm
                ));
            }
            if key.kid.is_empty() || key.kid == "dev" {
                problems.push(format!("auth.keys[{i}].kid: must be set and not `dev`"));
            }
        }
        for origin in &self.auth.allowed_origins {
            if !(origin.starts_with("https://") || origin.starts_with("http://"))
                || origin.ends_with('/')
            {
                problems.push(format!(
                    "auth.allowed_origins: `{origin}` must look like https://host[:port]"
                ));
            }
        }
        if self.auth.auth_timeout_secs == 0 || self.auth.auth_timeout_secs > 60 {
            problems.push("auth.auth_timeout_secs: must be between 1 and 60".into());
        }
        let l = &self.limits;
        if l.max_body_bytes == 0 || l.max_body_bytes >= l.max_frame_bytes {
            problems.push(
                "limits.max_body_bytes: must be at least 1 and below limits.max_frame_bytes".into(),
            );
        }
        if l.max_frame_bytes < 1024 || l.max_frame_bytes > 16 * 1024 * 1024 {
            problems.push("limits.max_frame_bytes: must be between 1 KiB and 16 MiB".into());
        }
        if l.outbound_queue < 16 {
            problems.push("limits.outbound_queue: must be at least 16".into());
        }
        if l.max_inflight_per_connection == 0 {
            problems.push("limits.max_inflight_per_connection: must be at least 1".into());
        }
        if l.max_connections == 0 {
            problems.push("limits.max_connections: must be at least 1".into());
        }
        if l.ping_interval_secs == 0 {
            problems.push("limits.ping_interval_secs: must be at least 1".into());
        }
        if l.write_timeout_secs == 0 {
            problems.push("limits.write_timeout_secs: must be at least 1".into());
        }
        if !matches!(self.log.format.as_str(), "pretty" | "json") {
            problems.push(format!(
                "log.format: `{}` is not `pretty` or `json`",
                self.log.format
            ));
        }
        if self.shutdown.drain_timeout_secs == 0 {
            problems.push("shutdown.drain_timeout_secs: must be at least 1".into());
        }
        if !(100..=60_000).contains(&self.database.acquire_timeout_ms) {
            problems.push("database.acquire_timeout_ms: must be between 100 and 60000".into());
        }
        let h = &self.health;
        if !(100..=60_000).contains(&h.check_interval_ms) {
            problems.push("health.check_interval_ms: must be between 100 and 60000".into());
        }
        if !(50..=60_000).contains(&h.check_timeout_ms) {
            problems.push("health.check_timeout_ms: must be between 50 and 60000".into());
        }
        self.validate_files(&mut problems);
        if self.audit.checkpoint_every_entries == 0 {
            problems.push("audit.checkpoint_every_entries: must be at least 1".into());
        }
        if self.audit.checkpoint_interval_secs == 0 {
            problems.push("audit.checkpoint_interval_secs: must be at least 1".into());
        }
        let m = &self.moderation;
        if m.max_grant_secs == 0 {
            problems.push("moderation.max_grant_secs: must be at least 1".into());
        }
        if m.default_grant_secs == 0 || m.default_grant_secs > m.max_grant_secs {
            problems.push(
                "moderation.default_grant_secs: must be between 1 and moderation.max_grant_secs"
                    .into(),
            );
        }
        if self.tracker.per_minute == 0 || self.tracker.burst == 0 {
            problems.push("tracker.per_minute and tracker.burst: must be at least 1".into());
        }
        if self.tracker.share_per_minute == 0 || self.tracker.share_burst == 0 {
            problems.push(
                "tracker.share_per_minute and tracker.share_burst: must be at least 1".into(),
            );
        }
        if self.tracker.max_capture_age_secs == 0 {
            problems.push("tracker.max_capture_age_secs: must be at least 1".into());
        }
        if self.tracker.max_screenshot_bytes == 0 {
            problems.push("tracker.max_screenshot_bytes: must be at least 1".into());
        }
        if m.expiry_check_secs == 0 {
            problems.push("moderation.expiry_check_secs: must be at least 1".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    fn validate_files(&self, problems: &mut Vec<String>) {
        let f = &self.files;
        if f.max_file_bytes == 0 {
            problems.push("files.max_file_bytes: must be at least 1".into());
        }
        if f.room_quota_bytes < f.max_file_bytes {
            problems.push("files.room_quota_bytes: must be at least files.max_file_bytes".into());
        }
        if f.link_ttl_secs == 0 || f.link_ttl_secs > 3600 {
            problems.push("files.link_ttl_secs: must be between 1 and 3600".into());
        }
        if f.max_attachments == 0 || f.max_attachments > 100 {
            problems.push("files.max_attachments: must be between 1 and 100".into());
        }
        if f.orphan_grace_secs == 0 {
            problems.push("files.orphan_grace_secs: must be at least 1".into());
        }
        if f.sweep_interval_secs == 0 {
            problems.push("files.sweep_interval_secs: must be at least 1".into());
        }
        if f.backend == FileBackend::S3 {
            if f.s3.bucket.is_empty() {
                problems.push("files.s3.bucket: must be set when files.backend is s3".into());
            }
            if f.s3.access_key_id.is_some()
                != (f.s3.secret_access_key.is_some() || f.s3.secret_access_key_file.is_some())
            {
                problems.push(
                    "files.s3.access_key_id: set together with files.s3.secret_access_key(_file)"
                        .into(),
                );
            }
        }
        if f.s3.part_size_bytes < 5 * 1024 * 1024 || f.s3.part_size_bytes > 512 * 1024 * 1024 {
            problems.push("files.s3.part_size_bytes: must be between 5 MiB and 512 MiB".into());
        }
        if f.s3.timeout_secs == 0 {
            problems.push("files.s3.timeout_secs: must be at least 1".into());
        }
        if let Some(endpoint) = &f.s3.endpoint
            && !(endpoint.starts_with("https://") || endpoint.starts_with("http://"))
        {
            problems.push("files.s3.endpoint: must start with https:// or http://".into());
        }
    }

    /// Directory of the local file backend.
    pub fn files_dir(&self) -> PathBuf {
        self.files
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("files"))
    }

    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
            .parse()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8443)))
    }

    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("workroom.db")
    }
}

fn describe_figment_error(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let key = if e.path.is_empty() {
                String::new()
            } else {
                format!("{}: ", e.path.join("."))
            };
            let source = e
                .metadata
                .as_ref()
                .map(|m| format!(" (from {})", m.name))
                .unwrap_or_default();
            format!("{key}{}{source}", e.kind)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn every_problem_is_named() {
        let mut config = Config {
            listen: "nope".into(),
            ..Config::default()
        };
        config.auth.leeway_secs = 600;
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("listen:"), "{err}");
        assert!(err.contains("auth.leeway_secs:"), "{err}");
    }

    #[test]
    fn waits_on_dependencies_must_be_bounded_and_short_enough_to_mean_something() {
        let mut config = Config::default();
        config.database.acquire_timeout_ms = 0;
        config.health.check_interval_ms = 0;
        config.health.check_timeout_ms = 120_000;
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("database.acquire_timeout_ms:"), "{err}");
        assert!(err.contains("health.check_interval_ms:"), "{err}");
        assert!(err.contains("health.check_timeout_ms:"), "{err}");
    }

    #[test]
    fn committed_config_files_parse() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
        for name in ["workroom.toml", "production.example.toml"] {
            let text = std::fs::read_to_string(root.join(name)).unwrap();
            let parsed: Config = toml_from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            if name == "workroom.toml" {
                parsed.validate().unwrap();
            }
        }
    }

    fn toml_from_str(text: &str) -> Result<Config, Box<figment::Error>> {
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(text))
            .extract()
            .map_err(Box::new)
    }
}
