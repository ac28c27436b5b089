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

mod network;
mod sections;
mod shared_secrets;
mod validate;

pub use network::{Cidr, ProxyProtocol};
pub use sections::*;
pub use shared_secrets::{MissingSecret, SECRETS_INIT_COMMAND};

/// The whole configuration. Every field has a default, so an empty file is valid.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address of the one HTTPS + WSS listener.
    pub listen: String,
    /// Address of a private, plain-HTTP listener serving only `/metrics`
    /// (`127.0.0.1:9464`). When set, the public listener answers `/metrics` with 404.
    pub metrics_listen: Option<String>,
    /// Where the SQLite database, dev keys and dev certificate live.
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite:…`; unset means SQLite at `<data_dir>/workroom.db`.
    pub database_url: Option<String>,
    pub database: DatabaseConfig,
    pub tls: TlsConfig,
    pub auth: AuthConfig,
    pub limits: LimitsConfig,
    pub connections: ConnectionsConfig,
    pub rate_limits: RateLimitsConfig,
    pub log: LogConfig,
    pub shutdown: ShutdownConfig,
    pub health: HealthConfig,
    pub keys: KeysConfig,
    pub files: FilesConfig,
    pub audit: AuditConfig,
    pub moderation: ModerationConfig,
    pub retention: RetentionConfig,
    pub tracker: TrackerConfig,
    pub legal: LegalConfig,
    pub analytics: AnalyticsConfig,
    pub bus: BusConfig,
}
impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8443".into(),
            metrics_listen: None,
            data_dir: PathBuf::from("./data"),
            database_url: None,
            database: DatabaseConfig::default(),
            tls: TlsConfig::default(),
            auth: AuthConfig::default(),
            limits: LimitsConfig::default(),
            connections: ConnectionsConfig::default(),
            rate_limits: RateLimitsConfig::default(),
            log: LogConfig::default(),
            shutdown: ShutdownConfig::default(),
            health: HealthConfig::default(),
            keys: KeysConfig::default(),
            files: FilesConfig::default(),
            audit: AuditConfig::default(),
            moderation: ModerationConfig::default(),
            retention: RetentionConfig::default(),
            tracker: TrackerConfig::default(),
            legal: LegalConfig::default(),
            analytics: AnalyticsConfig::default(),
            bus: BusConfig::default(),
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
    "metrics_listen",
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
    "legal",
    "analytics",
    "connections",
    "rate_limits",
    "bus",
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
        Self::extract_valid(figment)
    }

    /// A configuration from TOML text over the defaults, as `load` reads a file but without
    /// the environment or the command line: for checking a file's text (and the fuzzer).
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let figment =
            Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(text));
        Self::extract_valid(figment)
    }

    fn extract_valid(figment: Figment) -> Result<Config, ConfigError> {
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Load(describe_figment_error(e)))?;
        config.validate()?;
        Ok(config)
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

    /// Every section can be set from the environment: the filter knows every top-level key.
    #[test]
    fn every_top_level_key_is_known_to_the_environment_filter() {
        let defaults = serde_json::to_value(Config::default()).unwrap();
        let mut keys: Vec<&str> = defaults
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut known = TOP_LEVEL_KEYS.to_vec();
        keys.sort_unstable();
        known.sort_unstable();
        assert_eq!(keys, known);
    }

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn toml_text_is_read_over_the_defaults_and_checked() {
        let config = Config::from_toml("[health]\nunanswered_checks_before_down = 5\n").unwrap();
        assert_eq!(config.health.unanswered_checks_before_down, 5);
        assert_eq!(config.health.check_timeout_ms, 1000);
        let err = Config::from_toml("[health]\nunanswered_checks_before_down = 0\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("health.unanswered_checks_before_down:"),
            "{err}"
        );
        let err = Config::from_toml("[health]\nsurprise = 1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("surprise"), "{err}");
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
