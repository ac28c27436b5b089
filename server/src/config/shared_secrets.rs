//! The secrets every node of a cluster must share (SPEC C15). On SQLite a node is alone and
//! makes its own on first run in the data directory. On PostgreSQL several nodes serve one
//! database, so a node that made its own would seal data no other node can open (master
//! keys), sign audit checkpoints the others' `workroom audit verify` rejects, and sign legal
//! bundles with a key the others do not publish. Validation therefore refuses to start on
//! PostgreSQL until each is configured, and names the command that makes them all:
//! `workroom secrets init --dir DIR`.
//!
//! What is *not* listed, and why: the file-link signing key and the IP-hash key of the
//! connection log are derived from the master keys (`links.rs`, `connlog.rs`), so sharing
//! the master keys shares them. The dev JWT key (`<data_dir>/keys/dev-jwt.key`) exists only
//! while `auth.dev_key` is on, which production turns off (tokens are then checked against
//! the issuer's public keys, `auth.keys` / `auth.jwks_file`, which are not secret); a
//! development cluster with the dev key on copies that file to every node, as the test
//! harness does. The dev TLS certificate is not a secret shared between nodes: behind a load
//! balancer every node serves the certificate of the public name (`tls.cert_file`).

use super::Config;

/// The command that makes every shared secret.
pub const SECRETS_INIT_COMMAND: &str = "workroom secrets init --dir DIR";

/// One shared secret that is not configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingSecret {
    /// The configuration key (or keys) that would supply it.
    pub key: &'static str,
    /// What it is, for the message.
    pub what: &'static str,
}

impl Config {
    /// Whether the database is PostgreSQL (several nodes may share it).
    pub fn uses_postgres(&self) -> bool {
        self.database_url
            .as_deref()
            .is_some_and(|url| url.starts_with("postgres://") || url.starts_with("postgresql://"))
    }

    /// The shared secrets this configuration leaves a node to generate for itself: none on
    /// SQLite; on PostgreSQL each of the master keys, the audit signing key and the legal
    /// bundle signing key that is not configured.
    pub fn missing_shared_secrets(&self) -> Vec<MissingSecret> {
        if !self.uses_postgres() {
            return Vec::new();
        }
        let mut missing = Vec::new();
        if self.keys.master_key_file.is_none() && self.keys.master_keys.is_none() {
            missing.push(MissingSecret {
                key: "keys.master_key_file (or keys.master_keys, WORKROOM_KEYS__MASTER_KEYS)",
                what: "the master keys that seal data at rest",
            });
        }
        if self.audit.signing_key_file.is_none() {
            missing.push(MissingSecret {
                key: "audit.signing_key_file",
                what: "the key that signs audit checkpoints",
            });
        }
        if self.legal.signing_key_file.is_none() {
            missing.push(MissingSecret {
                key: "legal.signing_key_file",
                what: "the key that signs legal bundles",
            });
        }
        missing
    }

    /// One problem per missing shared secret, each naming its key and the command.
    pub(super) fn shared_secret_problems(&self, problems: &mut Vec<String>) {
        for MissingSecret { key, what } in self.missing_shared_secrets() {
            problems.push(format!(
                "{key}: required with PostgreSQL ({what}; every node must use the same, so \
                 none is generated per data directory); make all shared secrets with \
                 `{SECRETS_INIT_COMMAND}` and set the lines it prints"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use std::path::PathBuf;

    fn on(url: &str) -> Config {
        Config {
            database_url: Some(url.into()),
            ..Config::default()
        }
    }

    #[test]
    fn sqlite_needs_no_configured_secret() {
        assert!(Config::default().missing_shared_secrets().is_empty());
        Config::default().validate().unwrap();
        let file = on("sqlite:/tmp/x.db");
        assert!(!file.uses_postgres());
        file.validate().unwrap();
    }

    #[test]
    fn postgres_without_secrets_is_refused_naming_each_key_and_the_command() {
        for url in ["postgres://db/workroom", "postgresql://db/workroom"] {
            let config = on(url);
            assert!(config.uses_postgres());
            let err = config.validate().unwrap_err().to_string();
            for key in [
                "keys.master_key_file",
                "WORKROOM_KEYS__MASTER_KEYS",
                "audit.signing_key_file",
                "legal.signing_key_file",
            ] {
                assert!(err.contains(key), "{key} missing from: {err}");
            }
            assert_eq!(err.matches(SECRETS_INIT_COMMAND).count(), 3, "{err}");
        }
    }

    #[test]
    fn each_missing_secret_is_named_alone() {
        let mut config = on("postgres://db/workroom");
        config.keys.master_key_file = Some(PathBuf::from("/s/master.keys"));
        config.audit.signing_key_file = Some(PathBuf::from("/s/audit-ed25519.pk8"));
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("legal.signing_key_file: required"), "{err}");
        assert!(!err.contains("keys.master_key_file"), "{err}");
        assert!(!err.contains("audit.signing_key_file"), "{err}");
        // The other problems are still reported beside it.
        config.auth.leeway_secs = 600;
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("auth.leeway_secs:"), "{err}");
        assert!(err.contains("legal.signing_key_file:"), "{err}");
    }

    /// The example for many nodes and the compose stack's node configuration configure
    /// every shared secret, and are valid on PostgreSQL.
    #[test]
    fn the_committed_configurations_for_many_nodes_configure_every_secret() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for path in ["config/production.example.toml", "deploy/workroom.toml"] {
            let text = std::fs::read_to_string(root.join(path)).unwrap();
            let config = Config::from_toml(&format!(
                "database_url = \"postgres://db/workroom\"\n{text}"
            ))
            .unwrap_or_else(|e| panic!("{path}: {e}"));
            assert!(config.uses_postgres());
            assert_eq!(config.missing_shared_secrets(), Vec::new(), "{path}");
        }
    }

    #[test]
    fn postgres_with_every_secret_configured_is_valid() {
        let mut config = on("postgres://db/workroom");
        config.keys.master_keys = Some(Secret::new("k1 AAAA"));
        config.audit.signing_key_file = Some(PathBuf::from("/s/audit-ed25519.pk8"));
        config.legal.signing_key_file = Some(PathBuf::from("/s/legal-ed25519.pk8"));
        assert!(config.missing_shared_secrets().is_empty());
        config.validate().unwrap();
        config.keys.master_keys = None;
        config.keys.master_key_file = Some(PathBuf::from("/s/master.keys"));
        config.validate().unwrap();
    }
}
