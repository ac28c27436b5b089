//! One-time sign-in links for the development server (`workroom token --sign-in-link`), so
//! a person can open the web client without pasting a token.
//!
//! Why it stays safe:
//! - The link carries a random one-time code (256 bits), never the token, and in the URL's
//!   fragment (`#sign-in=…`), which browsers never send to a server, proxy or log. The page
//!   removes it from the address bar before anything else and trades it for the token with
//!   a `POST` body (`/v1/dev/sign-in`).
//! - The code is good once and for five minutes: redeeming claims its file by renaming it
//!   (atomic: two redemptions cannot both win), and an expired one is refused and deleted.
//! - Only the code's SHA-256 names the file, and the file lives in the private data
//!   directory (0700, the file 0600) beside the development key that signed the token:
//!   whoever can read it could mint tokens anyway.
//! - The route answers only while the development key is on (`auth.dev_key`); a production
//!   server, whose tokens come from the marketplace, says `not_found`.

use crate::key_files::write_secret;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How long a link can be used.
pub const LIFETIME_MS: i64 = 5 * 60 * 1000;
const DIR: &str = "sign-in";
/// 32 random bytes, base64url without padding.
const CODE_LEN: usize = 43;

#[derive(Serialize, Deserialize)]
struct Pending {
    token: String,
    expires_at_ms: i64,
}

/// Why a link could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SignInLinkError {
    #[error("writing the sign-in code: {0}")]
    Io(#[from] std::io::Error),
    #[error("no randomness for the sign-in code")]
    Random,
}

fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join(DIR)
}

fn file_of(data_dir: &Path, code: &str) -> PathBuf {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, code.as_bytes());
    let name: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    dir(data_dir).join(name)
}

/// Store `token` behind a new one-time code and return the code. Expired codes left by
/// earlier runs are removed on the way.
pub fn create(data_dir: &Path, token: &str, now_ms: i64) -> Result<String, SignInLinkError> {
    remove_expired(data_dir, now_ms);
    let mut secret = [0u8; 32];
    aws_lc_rs::rand::fill(&mut secret).map_err(|_| SignInLinkError::Random)?;
    let code = URL_SAFE_NO_PAD.encode(secret);
    let pending = Pending {
        token: token.to_string(),
        expires_at_ms: now_ms.saturating_add(LIFETIME_MS),
    };
    let json = serde_json::to_vec(&pending).map_err(std::io::Error::other)?;
    write_secret(&file_of(data_dir, &code), &json)?;
    Ok(code)
}

/// The token behind `code`, once: `None` for a malformed, unknown, used or expired code.
pub fn redeem(data_dir: &Path, code: &str, now_ms: i64) -> Option<String> {
    let well_formed = code.len() == CODE_LEN
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return None;
    }
    let file = file_of(data_dir, code);
    let claimed = file.with_extension("claimed");
    // The rename is the claim: of two redemptions at once, one finds the file gone.
    std::fs::rename(&file, &claimed).ok()?;
    let bytes = std::fs::read(&claimed);
    let _ = std::fs::remove_file(&claimed);
    let pending: Pending = serde_json::from_slice(&bytes.ok()?).ok()?;
    (now_ms < pending.expires_at_ms).then_some(pending.token)
}

fn remove_expired(data_dir: &Path, now_ms: i64) {
    let Ok(entries) = std::fs::read_dir(dir(data_dir)) else {
        return;
    };
    for entry in entries.flatten() {
        // Only finished links: a `.tmp` being written or a `.claimed` being redeemed now
        // belongs to another process.
        if entry.path().extension().is_some() {
            continue;
        }
        let expired = std::fs::read(entry.path())
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Pending>(&bytes).ok())
            .is_none_or(|p| p.expires_at_ms <= now_ms);
        if expired {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::temp_dir::TempDir;

    fn tempdir() -> TempDir {
        crate::temp_dir::tempdir("sign-in")
    }

    #[test]
    fn a_code_gives_its_token_once() {
        let dir = tempdir();
        let code = create(dir.path(), "tok-1", 1_000).unwrap();
        assert_eq!(code.len(), CODE_LEN);
        assert_eq!(redeem(dir.path(), &code, 2_000).as_deref(), Some("tok-1"));
        assert_eq!(redeem(dir.path(), &code, 2_000), None, "used");
    }

    #[test]
    fn an_expired_malformed_or_unknown_code_gives_nothing() {
        let dir = tempdir();
        let code = create(dir.path(), "tok-1", 0).unwrap();
        assert_eq!(redeem(dir.path(), &code, LIFETIME_MS), None, "expired");
        assert_eq!(
            std::fs::read_dir(dir.path().join(DIR)).unwrap().count(),
            0,
            "an expired code is deleted when tried"
        );
        assert_eq!(redeem(dir.path(), "../../keys/dev-jwt", 0), None);
        assert_eq!(redeem(dir.path(), &"A".repeat(CODE_LEN), 0), None);
    }

    #[test]
    fn the_code_is_not_stored_only_its_hash_and_the_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempdir();
        let code = create(dir.path(), "tok-1", 0).unwrap();
        let entry = std::fs::read_dir(dir.path().join(DIR))
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        let name = entry.file_name().into_string().unwrap();
        assert!(!name.contains(&code) && name.len() == 64, "{name}");
        assert_eq!(
            entry.metadata().unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn the_sweep_leaves_links_being_written_or_redeemed_alone() {
        let dir = tempdir();
        std::fs::create_dir_all(dir.path().join(DIR)).unwrap();
        let writing = dir.path().join(DIR).join("abc.tmp");
        let claimed = dir.path().join(DIR).join("def.claimed");
        std::fs::write(&writing, b"half").unwrap();
        std::fs::write(&claimed, b"half").unwrap();
        create(dir.path(), "tok", 0).unwrap();
        assert!(writing.exists() && claimed.exists());
    }

    #[test]
    fn creating_a_code_removes_expired_ones() {
        let dir = tempdir();
        let old = create(dir.path(), "old", 0).unwrap();
        let new = create(dir.path(), "new", LIFETIME_MS + 1).unwrap();
        assert_eq!(
            redeem(dir.path(), &old, 0),
            None,
            "removed, though tried in time"
        );
        assert_eq!(
            redeem(dir.path(), &new, LIFETIME_MS + 2).as_deref(),
            Some("new")
        );
    }
}
