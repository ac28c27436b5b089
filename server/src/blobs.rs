//! The configured object store for file contents.

use crate::config::{Config, FileBackend};
use std::time::Duration;
use workroom_storage::blob::{BlobError, BlobStore, LocalStore, S3Options, S3Store};

/// Open the object store named by `files.backend`. Does not contact S3.
pub async fn open_blob_store(config: &Config) -> Result<BlobStore, BlobError> {
    match config.files.backend {
        FileBackend::Local => Ok(BlobStore::Local(LocalStore::new(config.files_dir())?)),
        FileBackend::S3 => {
            let s3 = &config.files.s3;
            let secret = match (&s3.secret_access_key, &s3.secret_access_key_file) {
                (Some(secret), _) => Some(secret.expose().to_string()),
                (None, Some(path)) => Some(
                    std::fs::read_to_string(path)
                        .map_err(|e| {
                            BlobError::Unavailable(format!(
                                "files.s3.secret_access_key_file {}: {e}",
                                path.display()
                            ))
                        })?
                        .trim()
                        .to_string(),
                ),
                (None, None) => None,
            };
            Ok(BlobStore::S3(
                S3Store::connect(&S3Options {
                    bucket: s3.bucket.clone(),
                    region: s3.region.clone(),
                    endpoint: s3.endpoint.clone(),
                    path_style: s3.path_style,
                    access_key_id: s3.access_key_id.clone(),
                    secret_access_key: secret,
                    part_size: s3.part_size_bytes,
                    timeout: Duration::from_secs(s3.timeout_secs),
                    checksums_when_required: s3.checksums_when_required,
                })
                .await,
            ))
        }
    }
}
