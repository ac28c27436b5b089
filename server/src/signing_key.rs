//! Ed25519 signing keys kept in PKCS#8 files: the audit trail's checkpoint key and the
//! legal bundles' manifest key. One loader, so both follow the same rules: a configured
//! file must exist; with none configured, a dev key is generated once (mode 0600) in the
//! data dir. Public keys travel as 64 hex characters and are named by a key id.

use crate::key_files::write_secret;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use std::path::Path;

/// Load the key at `path`, or generate it there when it is missing and `generate` (no
/// file was configured). The flag says whether it was generated. The error names no
/// secret.
pub(crate) fn load_or_create(
    path: &Path,
    generate: bool,
) -> Result<(Ed25519KeyPair, bool), String> {
    let (pkcs8, created) = match std::fs::read(path) {
        Ok(bytes) => (bytes, false),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && generate => {
            let document = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
                .map_err(|_| "could not generate a key".to_string())?;
            write_secret(path, document.as_ref()).map_err(|e| e.to_string())?;
            (document.as_ref().to_vec(), true)
        }
        Err(e) => return Err(e.to_string()),
    };
    let pair =
        Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| "not an Ed25519 PKCS#8 key".to_string())?;
    Ok((pair, created))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes of a hex string; `None` when it is not hex.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A key's id: the first 16 hex characters of the SHA-256 of its public key.
pub fn key_id(public: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, public);
    hex(&digest.as_ref()[..8])
}

/// A 32-byte Ed25519 public key given as hex (surrounding whitespace ignored).
pub fn parse_public_key(text: &str) -> Option<Vec<u8>> {
    unhex(text.trim()).filter(|b| b.len() == 32)
}

/// The public half of a pair, hex.
pub(crate) fn public_hex(pair: &Ed25519KeyPair) -> String {
    hex(pair.public_key().as_ref())
}
