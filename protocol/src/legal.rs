//! Legal disclosure (C12): the export requests and their state, and the bundle's manifest.
//!
//! A bundle is a POSIX tar (ustar) archive. Its last two entries are `manifest.json` (a
//! [`Manifest`]) and `manifest.sig` (the 64-byte Ed25519 signature of the manifest's exact
//! bytes); every entry before them is listed in the manifest with its size and SHA-256, and
//! nothing else is in the archive. `docs/compliance.md` describes every entry's format.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The manifest's `format`: changes when the layout changes.
pub const BUNDLE_FORMAT: &str = "workroom-legal-bundle/1";
/// The manifest's path in the archive.
pub const MANIFEST_PATH: &str = "manifest.json";
/// The signature's path in the archive.
pub const SIGNATURE_PATH: &str = "manifest.sig";

/// `POST /v1/legal/exports`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// The legal request the export answers.
    pub request_id: String,
    /// `room`, `user` or `account`.
    pub scope: String,
    /// The room, user or account id.
    pub target: String,
    /// RFC 3339, inclusive: only what was created from then on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// RFC 3339, exclusive: only what was created before then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

/// An export and its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct ExportView {
    pub id: String,
    pub request_id: String,
    pub scope: String,
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// `building`, `ready`, `failed` or `expired`.
    pub state: String,
    pub requested_by: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Bytes of the bundle, once ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Entries listed in the manifest, once ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<u64>,
    /// Hex SHA-256 of `manifest.json`, once ready (also in the audit trail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_sha256: Option<String>,
    /// Why the build failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When a ready bundle is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// `GET /v1/legal/exports`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct ExportList {
    pub exports: Vec<ExportView>,
}

/// `GET /v1/legal/public-key`: the key bundles are signed with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
pub struct SigningKeyView {
    /// Always `ed25519`.
    pub algorithm: String,
    /// The 32-byte public key, hex.
    pub public_key: String,
    /// The first 16 hex characters of the SHA-256 of the public key.
    pub key_id: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`BUNDLE_FORMAT`].
    pub format: String,
    pub export_id: String,
    pub request_id: String,
    pub scope: String,
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// When the bundle was built, RFC 3339.
    pub created_at: String,
    /// The `workroom` version that built it.
    pub server_version: String,
    /// Who asked for it (the legal officer's id).
    pub requested_by: String,
    /// The audit chain's head when the build began; `None` for an empty trail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_head: Option<AuditHead>,
    /// Id of the signing key (see [`SigningKeyView::key_id`]).
    pub key_id: String,
    /// What the bundle cannot hold and why: purged or erased workrooms, erased people,
    /// files whose content is gone.
    pub notes: Vec<String>,
    /// Every other entry of the archive, in archive order.
    pub entries: Vec<ManifestEntry>,
}

/// The audit chain's head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditHead {
    pub seq: u64,
    pub hash: String,
}

/// One entry of the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    pub path: String,
    pub size: u64,
    /// Hex SHA-256 of the entry's bytes.
    pub sha256: String,
}
