//! The S3 object store (any S3-compatible endpoint) through aws-sdk-s3 over rustls.
//!
//! Small objects go up in one `PutObject`; anything larger than one part streams as a
//! multipart upload, holding at most one part in memory. Every call has one timeout for the
//! whole call, its single retry included, and a download's body fails when it stalls for as
//! long: a store that is down or slow makes the upload fail with `Unavailable` within that
//! time instead of holding the client (and server memory) for minutes.

use super::{BlobError, BlobInfo, BlobReader};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};
use std::time::{Duration, SystemTime};

/// How to reach the bucket.
#[derive(Debug, Clone)]
pub struct S3Options {
    pub bucket: String,
    pub region: String,
    /// A custom endpoint (`http://127.0.0.1:9000`); `None` for AWS itself.
    pub endpoint: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), needed by most non-AWS stores.
    pub path_style: bool,
    /// Static credentials; when absent the standard AWS chain is used (env, profile, IMDS…).
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Multipart part size (≥ 5 MiB, S3's minimum for all parts but the last).
    pub part_size: usize,
    /// The longest one S3 call may take, retries included; also the longest a download's
    /// body may stall.
    pub timeout: Duration,
    /// Send checksums only when an operation requires them (non-AWS stores often reject
    /// the newer default trailers).
    pub checksums_when_required: bool,
}

/// A bucket, with a configured client.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    part_size: usize,
    timeout: Duration,
}

impl S3Store {
    /// Build the client. Does not contact the store.
    pub async fn connect(options: &S3Options) -> S3Store {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(options.region.clone()))
            // `timeout` bounds a whole call, its retry included: a store that hangs fails
            // the call after `timeout`, not after `timeout` per attempt. A second attempt
            // is made only when the first failed sooner (a refused connection, a 503).
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(options.timeout.min(Duration::from_secs(5)))
                    .operation_timeout(options.timeout)
                    .operation_attempt_timeout(options.timeout)
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(2));
        if let (Some(id), Some(secret)) = (&options.access_key_id, &options.secret_access_key) {
            loader = loader.credentials_provider(Credentials::new(
                id.clone(),
                secret.clone(),
                None,
                None,
                "workroom-config",
            ));
        }
        let shared = loader.load().await;
        let mut config =
            aws_sdk_s3::config::Builder::from(&shared).force_path_style(options.path_style);
        if let Some(endpoint) = &options.endpoint {
            config = config.endpoint_url(endpoint.clone());
        }
        if options.checksums_when_required {
            config = config
                .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        }
        S3Store {
            client: Client::from_conf(config.build()),
            bucket: options.bucket.clone(),
            part_size: options.part_size.max(5 * 1024 * 1024),
            timeout: options.timeout,
        }
    }

    /// Create the bucket if it does not exist (development and tests; production buckets
    /// are provisioned by their owners).
    pub async fn ensure_bucket(&self) -> Result<(), BlobError> {
        if self
            .client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .is_ok()
        {
            return Ok(());
        }
        self.client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }

    pub(super) fn begin(&self, key: &str) -> S3Upload {
        S3Upload {
            store: self.clone(),
            key: key.to_string(),
            buffer: BytesMut::new(),
            multipart: None,
        }
    }

    pub(super) async fn read_range(
        &self,
        key: &str,
        offset: u64,
        len: u64,
    ) -> Result<BlobReader, BlobError> {
        if len == 0 {
            return Ok(Box::pin(tokio::io::empty()));
        }
        let output = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .range(format!("bytes={}-{}", offset, offset + len - 1))
            .send()
            .await
            .map_err(classify)?;
        Ok(super::stall::guard(
            Box::pin(output.body.into_async_read()),
            self.timeout,
        ))
    }

    pub(super) async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(classify)
        {
            Ok(_) | Err(BlobError::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn list(&self, prefix: &str) -> Result<Vec<BlobInfo>, BlobError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(classify)?;
            for object in page.contents() {
                let (Some(key), Some(modified)) = (object.key(), object.last_modified()) else {
                    continue;
                };
                out.push(BlobInfo {
                    key: key.to_string(),
                    modified: SystemTime::try_from(*modified).unwrap_or(SystemTime::UNIX_EPOCH),
                });
            }
            token = page.next_continuation_token().map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    pub(super) async fn sweep_partial(
        &self,
        prefix: &str,
        before: SystemTime,
    ) -> Result<u64, BlobError> {
        let uploads = self
            .client
            .list_multipart_uploads()
            .bucket(&self.bucket)
            .prefix(prefix)
            .send()
            .await;
        let uploads = match uploads {
            Ok(uploads) => uploads,
            // Some S3-compatible stores cannot list multipart uploads (s3s-fs answers 501):
            // there is nothing this sweep can see, which is not a failure of the sweep.
            Err(e) if e.raw_response().map(HasStatus::status) == Some(501) => {
                tracing::debug!("the object store cannot list multipart uploads; skipped");
                return Ok(0);
            }
            Err(e) => return Err(classify(e)),
        };
        let mut aborted = 0;
        for upload in uploads.uploads() {
            let (Some(key), Some(id), Some(started)) =
                (upload.key(), upload.upload_id(), upload.initiated())
            else {
                continue;
            };
            if SystemTime::try_from(*started).is_ok_and(|t| t < before)
                && self
                    .client
                    .abort_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(id)
                    .send()
                    .await
                    .is_ok()
            {
                aborted += 1;
            }
        }
        Ok(aborted)
    }

    pub(super) async fn ping(&self) -> Result<(), BlobError> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }
}

/// 404 is `NotFound`; anything else (no connection, timeout, 403, 5xx) is `Unavailable`.
fn classify<E, R>(err: SdkError<E, R>) -> BlobError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + HasStatus,
{
    if err.raw_response().map(HasStatus::status) == Some(404) {
        return BlobError::NotFound;
    }
    BlobError::Unavailable(DisplayErrorContext(err).to_string())
}

/// The HTTP status of a raw response.
trait HasStatus {
    fn status(&self) -> u16;
}

impl HasStatus for aws_sdk_s3::config::http::HttpResponse {
    fn status(&self) -> u16 {
        self.status().as_u16()
    }
}

struct Multipart {
    upload_id: String,
    parts: Vec<CompletedPart>,
}

/// An S3 object being written.
pub struct S3Upload {
    store: S3Store,
    key: String,
    buffer: BytesMut,
    multipart: Option<Multipart>,
}

impl std::fmt::Debug for S3Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Upload")
            .field("key", &self.key)
            .field("buffered", &self.buffer.len())
            .finish_non_exhaustive()
    }
}

impl S3Upload {
    pub(super) async fn write(&mut self, bytes: Bytes) -> Result<(), BlobError> {
        self.buffer.extend_from_slice(&bytes);
        while self.buffer.len() >= self.store.part_size {
            let part = self.buffer.split_to(self.store.part_size).freeze();
            self.upload_part(part).await?;
        }
        Ok(())
    }

    async fn upload_part(&mut self, part: Bytes) -> Result<(), BlobError> {
        let client = &self.store.client;
        if self.multipart.is_none() {
            let created = client
                .create_multipart_upload()
                .bucket(&self.store.bucket)
                .key(&self.key)
                .send()
                .await
                .map_err(classify)?;
            let upload_id = created
                .upload_id()
                .ok_or_else(|| BlobError::Unavailable("no upload id in the reply".into()))?
                .to_string();
            self.multipart = Some(Multipart {
                upload_id,
                parts: Vec::new(),
            });
        }
        let Some(multipart) = self.multipart.as_mut() else {
            return Err(BlobError::Unavailable(
                "multipart upload not started".into(),
            ));
        };
        let number = i32::try_from(multipart.parts.len() + 1)
            .map_err(|_| BlobError::Unavailable("too many parts".into()))?;
        let uploaded = client
            .upload_part()
            .bucket(&self.store.bucket)
            .key(&self.key)
            .upload_id(&multipart.upload_id)
            .part_number(number)
            .body(ByteStream::from(part))
            .send()
            .await
            .map_err(classify)?;
        multipart.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(uploaded.e_tag().map(str::to_string))
                .build(),
        );
        Ok(())
    }

    pub(super) async fn finish(mut self) -> Result<(), BlobError> {
        let result = self.finish_inner().await;
        if result.is_err() {
            self.abort_in_background();
        }
        result
    }

    async fn finish_inner(&mut self) -> Result<(), BlobError> {
        let rest = std::mem::take(&mut self.buffer).freeze();
        if self.multipart.is_none() {
            self.store
                .client
                .put_object()
                .bucket(&self.store.bucket)
                .key(&self.key)
                .body(ByteStream::from(rest))
                .send()
                .await
                .map_err(classify)?;
            return Ok(());
        }
        if !rest.is_empty() {
            self.upload_part(rest).await?;
        }
        let Some(multipart) = self.multipart.as_ref() else {
            return Err(BlobError::Unavailable(
                "multipart upload not started".into(),
            ));
        };
        self.store
            .client
            .complete_multipart_upload()
            .bucket(&self.store.bucket)
            .key(&self.key)
            .upload_id(&multipart.upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(multipart.parts.clone()))
                    .build(),
            )
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    pub(super) async fn abort(mut self) {
        self.abort_in_background();
    }

    /// Abort the multipart upload, if one was started, without waiting for the store: a
    /// store that is down or hung would otherwise hold the refused client for another
    /// timeout. Best effort; the orphan sweeper removes what an abort leaves behind.
    fn abort_in_background(&mut self) {
        if let Some(multipart) = self.multipart.take() {
            let request = self
                .store
                .client
                .abort_multipart_upload()
                .bucket(&self.store.bucket)
                .key(&self.key)
                .upload_id(multipart.upload_id);
            tokio::spawn(async move {
                let _ = request.send().await;
            });
        }
    }
}
