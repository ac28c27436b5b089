//! Loading the keyring's master keys from configuration, and changing the key file for
//! `workroom keys rotate` / `retire`.
//!
//! Sources, first match wins: `keys.master_keys` (inline, e.g. from an environment variable
//! fed by a secret store), `keys.master_key_file`, or the dev key file
//! `<data_dir>/keys/master.keys`, generated with one fresh key (mode 0600) on first run.

use crate::config::Config;
use crate::key_files::write_secret;
use std::path::PathBuf;
use workroom_storage::keyring::MasterKeyError;
use workroom_storage::{Keyring, MasterKey, MasterKeySet};

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("master keys ({source_name}): {error}")]
    Parse {
        source_name: String,
        error: MasterKeyError,
    },
    #[error("master key file {path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error(
        "master keys are configured inline (keys.master_keys); add the new key there and run \
         `workroom keys rewrap`"
    )]
    Inline,
    #[error("{0}")]
    Refused(String),
}

/// Where the master keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Inline,
    File(PathBuf),
}

/// The configured key source.
pub fn key_source(config: &Config) -> KeySource {
    if config.keys.master_keys.is_some() {
        KeySource::Inline
    } else {
        KeySource::File(master_key_path(config))
    }
}

fn master_key_path(config: &Config) -> PathBuf {
    config
        .keys
        .master_key_file
        .clone()
        .unwrap_or_else(|| config.data_dir.join("keys").join("master.keys"))
}

/// Load the master keys. Generates the dev key file when neither source is configured and
/// the file does not exist yet; the flag says so (for the startup banner).
pub fn load_master_keys(config: &Config) -> Result<(MasterKeySet, bool), KeysError> {
    if let Some(inline) = &config.keys.master_keys {
        let set = MasterKeySet::parse(inline.expose()).map_err(|error| KeysError::Parse {
            source_name: "keys.master_keys".into(),
            error,
        })?;
        return Ok((set, false));
    }
    let path = master_key_path(config);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let set = MasterKeySet::parse(&text).map_err(|error| KeysError::Parse {
                source_name: path.display().to_string(),
                error,
            })?;
            Ok((set, false))
        }
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                && config.keys.master_key_file.is_none() =>
        {
            let set = MasterKeySet::new(vec![MasterKey::generate()]).map_err(|error| {
                KeysError::Parse {
                    source_name: "generated".into(),
                    error,
                }
            })?;
            write_key_file(&path, &set)?;
            Ok((set, true))
        }
        Err(error) => Err(KeysError::Io {
            path: path.display().to_string(),
            error,
        }),
    }
}

/// The keyring of this configuration.
pub fn load_keyring(config: &Config) -> Result<(Keyring, bool), KeysError> {
    let (set, created) = load_master_keys(config)?;
    Ok((Keyring::new(set), created))
}

/// Add a fresh master key to the key file; it becomes the newest. Returns its id.
pub fn add_master_key(config: &Config) -> Result<String, KeysError> {
    let KeySource::File(path) = key_source(config) else {
        return Err(KeysError::Inline);
    };
    let (mut set, _) = load_master_keys(config)?;
    let key = MasterKey::generate();
    let id = key.id().to_string();
    set.push(key).map_err(|error| KeysError::Parse {
        source_name: path.display().to_string(),
        error,
    })?;
    write_key_file(&path, &set)?;
    Ok(id)
}

/// Remove a master key from the key file. The caller checks that no data key still needs it.
pub fn remove_master_key(config: &Config, id: &str) -> Result<(), KeysError> {
    let KeySource::File(path) = key_source(config) else {
        return Err(KeysError::Inline);
    };
    let (mut set, _) = load_master_keys(config)?;
    if set.get(id).is_none() {
        return Err(KeysError::Refused(format!(
            "no master key `{id}` in {}",
            path.display()
        )));
    }
    if set.newest().id() == id {
        return Err(KeysError::Refused(format!(
            "`{id}` is the newest master key; rotate first"
        )));
    }
    set.remove(id).map_err(|error| KeysError::Parse {
        source_name: path.display().to_string(),
        error,
    })?;
    write_key_file(&path, &set)
}

fn write_key_file(path: &std::path::Path, set: &MasterKeySet) -> Result<(), KeysError> {
    write_secret(path, set.to_text().as_bytes()).map_err(|error| KeysError::Io {
        path: path.display().to_string(),
        error,
    })
}
