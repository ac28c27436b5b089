//! What can be wrong with a bundle, one variant per kind of damage, each naming its entry.
//! Shared by the strict archive reader (`archive`) and the checks above it (`verify`).

use workroom_protocol::legal::{MANIFEST_PATH, SIGNATURE_PATH};

/// One thing wrong with a bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("not a readable bundle archive: {0}")]
    Unreadable(String),
    #[error("no {MANIFEST_PATH} in the archive")]
    NoManifest,
    #[error("no {SIGNATURE_PATH} in the archive")]
    NoSignature,
    #[error("{MANIFEST_PATH} is not a bundle manifest: {0}")]
    BadManifest(String),
    #[error(
        "the manifest's signature does not verify with public key {key_id}: the manifest was \
         changed, or it was signed by another key (the manifest names key {signed_by})"
    )]
    Signature { key_id: String, signed_by: String },
    #[error("entry {0} is listed in the manifest but missing from the archive")]
    Missing(String),
    #[error("entry {0} is in the archive but not listed in the manifest")]
    Extra(String),
    #[error("entry {0} appears more than once in the archive")]
    Duplicate(String),
    #[error("entry {path} was changed: its SHA-256 is {found}, the manifest says {expected}")]
    Changed {
        path: String,
        expected: String,
        found: String,
    },
    #[error("entry {path} was changed: it has {found} bytes, the manifest says {expected}")]
    Resized {
        path: String,
        expected: u64,
        found: u64,
    },
    #[error("entry {0} comes after the signature")]
    AfterSignature(String),
    #[error("the tar header of entry {0} was changed")]
    HeaderChanged(String),
    #[error("the padding after entry {0} was changed")]
    PaddingChanged(String),
    #[error("bytes follow the end of the archive")]
    AfterEnd,
    #[error("the archive ends early: it was cut")]
    Truncated,
    #[error("entry {0} does not carry the bundle's creation time")]
    TimeChanged(String),
}
