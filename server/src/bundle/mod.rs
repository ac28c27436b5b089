//! Legal disclosure bundles (C12): the archive format, written and checked.
//!
//! A bundle is a ustar archive whose every entry is listed, with its size and SHA-256, in
//! `manifest.json`, followed by `manifest.sig`, the Ed25519 signature of the manifest's
//! bytes (the manifest type is `workroom_protocol::legal::Manifest`). [`TarWriter`] writes
//! one while hashing, to any [`BundleSink`] (the sealed object of an export, or memory);
//! [`verify`] checks one offline with nothing but the file and a public key, and names every
//! problem it finds. [`LegalSigner`] holds the signing key. What goes into a bundle is the
//! service's concern (`service::disclosure`).

mod archive;
mod problem;
mod signer;
mod tar;
mod verify;

pub use problem::Problem;
pub use signer::{LegalSigner, SignerError, key_path};
pub use tar::{BundleError, BundleSink, TarWriter};
pub use verify::{Verified, verify};
