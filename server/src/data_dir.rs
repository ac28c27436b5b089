//! The data directory is the server user's alone: the database, its WAL, file objects,
//! keys and the dev certificate. Everything the process creates gets no permissions for
//! group or others (umask 077: files 0600, directories 0700), and at start the data
//! directory and the local object directory are made 0700 and the SQLite files 0600, which
//! also closes up an installation made before this rule. A directory of 0700 bars others
//! from everything below it, however old files inside were created.

use crate::config::Config;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Nothing this process creates from now on is readable by group or others.
pub fn private_umask() {
    rustix::process::umask(rustix::fs::Mode::from_bits_truncate(0o077));
}

/// Apply the rule to the configured directories (creating them when missing).
pub fn make_private(config: &Config) -> std::io::Result<()> {
    private_umask();
    let mut dirs = vec![config.data_dir.clone()];
    if config.files.backend == crate::config::FileBackend::Local {
        dirs.push(config.files_dir());
    }
    for dir in dirs {
        std::fs::create_dir_all(&dir)?;
        set_mode(&dir, 0o700)?;
    }
    let db = config.sqlite_path();
    for suffix in ["", "-wal", "-shm"] {
        let path = db.with_file_name(format!(
            "{}{suffix}",
            db.file_name().unwrap_or_default().to_string_lossy()
        ));
        if path.exists() {
            set_mode(&path, 0o600)?;
        }
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}
