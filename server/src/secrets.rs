//! `workroom secrets init --dir DIR`: make the secrets every node of a cluster shares (see
//! `config::shared_secrets` for which and why), once, as files readable by their owner only,
//! and say which configuration lines point every node at them.
//!
//! The files have the names the single-node defaults use under `<data_dir>/keys/`, so
//! `--dir <data_dir>/keys` yields exactly the layout a SQLite node would have generated.
//! Nothing is ever overwritten: an existing master key file may be all that still opens the
//! data, so the command refuses before writing anything when any of the files exists.

use crate::config::Config;
use crate::signing_key::{hex, key_id};
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use workroom_storage::{MasterKey, MasterKeySet};

/// The master key file (`keys.master_key_file`).
pub const MASTER_KEYS_FILE: &str = "master.keys";
/// The audit checkpoint signing key (`audit.signing_key_file`).
pub const AUDIT_KEY_FILE: &str = "audit-ed25519.pk8";
/// The legal bundle signing key (`legal.signing_key_file`).
pub const LEGAL_KEY_FILE: &str = "legal-ed25519.pk8";

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error(
        "{0} already exists: `secrets init` never overwrites a secret (data sealed or signed \
         under it may depend on it); use another --dir"
    )]
    Exists(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("could not generate a key")]
    Generate,
}

/// The secrets made, where they are, and their public halves.
#[derive(Debug, Clone)]
pub struct SharedSecrets {
    pub master_key_file: PathBuf,
    pub audit_key_file: PathBuf,
    pub legal_key_file: PathBuf,
    /// The id of the one master key made.
    pub master_key_id: String,
    /// Hex public key of the audit signing key (for auditors' `audit.public_keys`).
    pub audit_public_key: String,
    pub legal_key_id: String,
    /// Hex public key of the legal signing key (`GET /v1/legal/public-key` serves it).
    pub legal_public_key: String,
}

impl SharedSecrets {
    /// Point `config` at these files.
    pub fn configure(&self, config: &mut Config) {
        config.keys.master_key_file = Some(self.master_key_file.clone());
        config.keys.master_keys = None;
        config.audit.signing_key_file = Some(self.audit_key_file.clone());
        config.legal.signing_key_file = Some(self.legal_key_file.clone());
    }

    /// The same settings as `WORKROOM_*` environment variables.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let path = |p: &Path| p.display().to_string();
        vec![
            (
                "WORKROOM_KEYS__MASTER_KEY_FILE",
                path(&self.master_key_file),
            ),
            (
                "WORKROOM_AUDIT__SIGNING_KEY_FILE",
                path(&self.audit_key_file),
            ),
            (
                "WORKROOM_LEGAL__SIGNING_KEY_FILE",
                path(&self.legal_key_file),
            ),
        ]
    }

    /// What `workroom secrets init` prints: TOML to add to every node's configuration, the
    /// environment form, and the public keys, as comments.
    pub fn report(&self) -> String {
        let toml_path = |p: &Path| toml_string(&p.display().to_string());
        let mut out = String::new();
        out.push_str(
            "# Shared secrets written (mode 0600). Give every node the same files, keep them out\n\
             # of version control and back them up: without the master keys nothing sealed can\n\
             # be read. Add to every node's configuration:\n\n",
        );
        out.push_str(&format!(
            "[keys]\nmaster_key_file = {}\n\n[audit]\nsigning_key_file = {}\n\n[legal]\nsigning_key_file = {}\n\n",
            toml_path(&self.master_key_file),
            toml_path(&self.audit_key_file),
            toml_path(&self.legal_key_file),
        ));
        out.push_str("# or as environment variables:\n");
        for (key, value) in self.env() {
            out.push_str(&format!("#   {key}={value}\n"));
        }
        out.push_str(&format!(
            "# master key id: {}\n\
             # audit checkpoint public key (auditors' audit.public_keys): {}\n\
             # legal bundle public key (key id {}): {}\n",
            self.master_key_id, self.audit_public_key, self.legal_key_id, self.legal_public_key
        ));
        out
    }
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Make every shared secret in `dir` (created 0700 when missing). Refuses, writing nothing,
/// when any of the files exists.
pub fn init(dir: &Path) -> Result<SharedSecrets, SecretsError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| SecretsError::Io { path, source }
    };
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
    }
    let dir = std::fs::canonicalize(dir).map_err(io(dir))?;
    let master_key_file = dir.join(MASTER_KEYS_FILE);
    let audit_key_file = dir.join(AUDIT_KEY_FILE);
    let legal_key_file = dir.join(LEGAL_KEY_FILE);
    for path in [&master_key_file, &audit_key_file, &legal_key_file] {
        if std::fs::symlink_metadata(path).is_ok() {
            return Err(SecretsError::Exists(path.display().to_string()));
        }
    }

    let masters =
        MasterKeySet::new(vec![MasterKey::generate()]).map_err(|_| SecretsError::Generate)?;
    let master_key_id = masters.newest().id().to_string();
    let (audit_pkcs8, audit_public) = ed25519()?;
    let (legal_pkcs8, legal_public) = ed25519()?;

    let mut written: Vec<&Path> = Vec::new();
    let result = (|| {
        for (path, contents) in [
            (&master_key_file, masters.to_text().as_bytes().to_vec()),
            (&audit_key_file, audit_pkcs8),
            (&legal_key_file, legal_pkcs8),
        ] {
            write_new_secret(path, &contents)?;
            written.push(path);
        }
        std::fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&dir))
    })();
    if let Err(e) = result {
        for path in written {
            let _ = std::fs::remove_file(path);
        }
        return Err(e);
    }
    Ok(SharedSecrets {
        master_key_id,
        audit_public_key: hex(&audit_public),
        legal_key_id: key_id(&legal_public),
        legal_public_key: hex(&legal_public),
        master_key_file,
        audit_key_file,
        legal_key_file,
    })
}

/// A development TLS certificate for `localhost`, `127.0.0.1` and `::1` in `dir/tls/`
/// (`cert.pem`: the leaf and its throwaway CA, which clients trust; `key.pem`, 0600), the
/// one every node of a development cluster serves; refuses when either file exists. Returns
/// the configuration lines (`[tls]`). Not for production: use the certificate of the
/// public name.
pub fn init_dev_certificate(dir: &Path) -> Result<String, SecretsError> {
    std::fs::create_dir_all(dir).map_err(|source| SecretsError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let dir = &std::fs::canonicalize(dir).map_err(|source| SecretsError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let (cert, key) = crate::tls::dev_cert_paths(dir);
    for path in [&cert, &key] {
        if std::fs::symlink_metadata(path).is_ok() {
            return Err(SecretsError::Exists(path.display().to_string()));
        }
    }
    let made = crate::tls::ensure_dev_certificate(dir).map_err(|e| SecretsError::Io {
        path: cert.display().to_string(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(format!(
        "# A development certificate for localhost and 127.0.0.1, the same on every node \
         (clients trust {}); not for production:\n[tls]\ncert_file = {}\nkey_file = {}\n",
        made.cert_path.display(),
        toml_string(&made.cert_path.display().to_string()),
        toml_string(&made.key_path.display().to_string()),
    ))
}

/// A fresh Ed25519 key: its PKCS#8 document and its public key.
fn ed25519() -> Result<(Vec<u8>, Vec<u8>), SecretsError> {
    let document = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
        .map_err(|_| SecretsError::Generate)?;
    let pair = Ed25519KeyPair::from_pkcs8(document.as_ref()).map_err(|_| SecretsError::Generate)?;
    Ok((
        document.as_ref().to_vec(),
        pair.public_key().as_ref().to_vec(),
    ))
}

/// Write `contents` to `path`, mode 0600, never replacing anything there: the bytes go to a
/// new temporary file, synced, which is then hard-linked to `path` (which fails if `path`
/// exists, even if it appeared meanwhile) and unlinked. A crash leaves at worst the
/// temporary file, never a partial key under the real name.
fn write_new_secret(path: &Path, contents: &[u8]) -> Result<(), SecretsError> {
    let io = |p: &Path| {
        let p = p.display().to_string();
        move |source| SecretsError::Io { path: p, source }
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io(&tmp))?;
    let wrote = file
        .write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(io(&tmp));
    drop(file);
    let linked = wrote.and_then(|()| match std::fs::hard_link(&tmp, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(SecretsError::Exists(path.display().to_string()))
        }
        Err(e) => Err(io(path)(e)),
    });
    let _ = std::fs::remove_file(&tmp);
    linked
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::temp_dir::TempDir;
    use std::os::unix::fs::PermissionsExt;

    fn tempdir() -> TempDir {
        crate::temp_dir::tempdir("secrets")
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn init_writes_three_private_files_that_the_loaders_accept() {
        let root = tempdir();
        let dir = root.path().join("secrets");
        let made = init(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        for path in [
            &made.master_key_file,
            &made.audit_key_file,
            &made.legal_key_file,
        ] {
            assert_eq!(mode(path), 0o600, "{}", path.display());
            assert!(path.is_absolute());
        }
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");

        let mut config = Config {
            data_dir: root.path().join("data"),
            database_url: Some("postgres://db/workroom".into()),
            ..Config::default()
        };
        assert!(config.validate().is_err());
        made.configure(&mut config);
        config.validate().unwrap();
        let (masters, created) = crate::keys::load_master_keys(&config).unwrap();
        assert!(!created);
        assert_eq!(masters.newest().id(), made.master_key_id);
        let (audit, created) = crate::audit::AuditSigner::load_or_create(&config).unwrap();
        assert!(!created);
        assert_eq!(audit.public_key_hex(), made.audit_public_key);
        let (legal, created) = crate::bundle::LegalSigner::load_or_create(&config).unwrap();
        assert!(!created);
        assert_eq!(legal.view().public_key, made.legal_public_key);
        assert_eq!(legal.key_id(), made.legal_key_id);
        assert!(
            !config.data_dir.join("keys").exists(),
            "nothing generated in the data dir"
        );
    }

    #[test]
    fn into_the_data_dir_keys_they_are_the_files_the_defaults_read() {
        let root = tempdir();
        let made = init(&root.path().join("keys")).unwrap();
        let config = Config {
            data_dir: root.path().to_path_buf(),
            ..Config::default()
        };
        let (masters, created) = crate::keys::load_master_keys(&config).unwrap();
        assert!(!created);
        assert_eq!(masters.newest().id(), made.master_key_id);
        let (audit, created) = crate::audit::AuditSigner::load_or_create(&config).unwrap();
        assert!(!created);
        assert_eq!(audit.public_key_hex(), made.audit_public_key);
        let (_, created) = crate::bundle::LegalSigner::load_or_create(&config).unwrap();
        assert!(!created);
    }

    #[test]
    fn an_existing_secret_is_never_overwritten_and_nothing_is_written_beside_it() {
        let dir = tempdir();
        let audit = dir.path().join(AUDIT_KEY_FILE);
        std::fs::write(&audit, b"precious").unwrap();
        let err = init(dir.path()).unwrap_err();
        assert!(matches!(err, SecretsError::Exists(ref p) if p.ends_with(AUDIT_KEY_FILE)));
        assert_eq!(std::fs::read(&audit).unwrap(), b"precious");
        assert!(!dir.path().join(MASTER_KEYS_FILE).exists());
        assert!(!dir.path().join(LEGAL_KEY_FILE).exists());

        let again = tempdir();
        init(again.path()).unwrap();
        let before = std::fs::read(again.path().join(MASTER_KEYS_FILE)).unwrap();
        assert!(matches!(init(again.path()), Err(SecretsError::Exists(_))));
        assert_eq!(
            std::fs::read(again.path().join(MASTER_KEYS_FILE)).unwrap(),
            before
        );
    }

    #[test]
    fn a_development_certificate_is_made_once_and_configured() {
        let dir = tempdir();
        let made = init(dir.path()).unwrap();
        let tls = init_dev_certificate(dir.path()).unwrap();
        let key = dir.path().join("tls/key.pem");
        assert_eq!(mode(&key), 0o600);
        assert!(matches!(
            init_dev_certificate(dir.path()),
            Err(SecretsError::Exists(_))
        ));
        let config = Config::from_toml(&format!("{}{tls}", made.report())).unwrap();
        assert_eq!(config.tls.key_file, Some(key));
        let pem = std::fs::read(config.tls.cert_file.unwrap()).unwrap();
        assert!(
            String::from_utf8(pem)
                .unwrap()
                .contains("BEGIN CERTIFICATE")
        );
    }

    #[test]
    fn the_report_is_toml_that_configures_every_secret() {
        let dir = tempdir();
        let made = init(dir.path()).unwrap();
        let report = made.report();
        let config = Config::from_toml(&format!(
            "database_url = \"postgres://db/workroom\"\n{report}"
        ))
        .unwrap();
        assert_eq!(
            config.keys.master_key_file,
            Some(made.master_key_file.clone())
        );
        assert_eq!(
            config.audit.signing_key_file,
            Some(made.audit_key_file.clone())
        );
        assert_eq!(
            config.legal.signing_key_file,
            Some(made.legal_key_file.clone())
        );
        assert!(report.contains(&made.audit_public_key));
        assert!(report.contains("WORKROOM_KEYS__MASTER_KEY_FILE="));
        assert!(!report.contains("mk-") || report.contains(&made.master_key_id));
        let secret_line = std::fs::read_to_string(&made.master_key_file).unwrap();
        let key_b64 = secret_line
            .lines()
            .find(|l| !l.starts_with('#'))
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string();
        assert!(
            !report.contains(&key_b64),
            "the report prints no key material"
        );
        assert_eq!(toml_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }
}
