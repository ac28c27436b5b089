//! Writing a bundle: ustar entries streamed into a sink, each hashed on the way, so the
//! manifest can list them without a second pass and memory stays bounded by the largest
//! entry a caller holds (file contents are streamed through `begin`/`write`/`end`).

use super::archive::{self, BLOCK};
use hashing::Sha256;
use workroom_protocol::legal::ManifestEntry;

/// Where a bundle's bytes go.
pub trait BundleSink: Send {
    fn put(&mut self, bytes: &[u8]) -> impl Future<Output = Result<(), BundleError>> + Send;
}

impl BundleSink for Vec<u8> {
    async fn put(&mut self, bytes: &[u8]) -> Result<(), BundleError> {
        self.extend_from_slice(bytes);
        Ok(())
    }
}

/// Why a bundle could not be written.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("bundle storage: {0}")]
    Sink(String),
    #[error("entry path {0:?} cannot be stored in the archive")]
    BadPath(String),
    #[error("entry {path}: {written} bytes written, {declared} declared")]
    SizeMismatch {
        path: String,
        declared: u64,
        written: u64,
    },
    #[error("entry {0}: another entry is still open")]
    Open(String),
    #[error("no entry is open")]
    NotOpen,
}

struct OpenEntry {
    path: String,
    size: u64,
    written: u64,
    hash: Sha256,
}

/// A ustar archive being written.
pub struct TarWriter<S> {
    sink: S,
    mtime: u64,
    listed: Vec<ManifestEntry>,
    open: Option<OpenEntry>,
    bytes: u64,
}

impl<S: BundleSink> TarWriter<S> {
    /// `mtime`: unix seconds stamped on every entry (the bundle's creation).
    pub fn new(sink: S, mtime: u64) -> TarWriter<S> {
        TarWriter {
            sink,
            mtime,
            listed: Vec::new(),
            open: None,
            bytes: 0,
        }
    }

    /// The entries written so far (what the manifest lists).
    pub fn listed(&self) -> &[ManifestEntry] {
        &self.listed
    }

    /// Bytes of archive written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    async fn put(&mut self, bytes: &[u8]) -> Result<(), BundleError> {
        self.bytes += bytes.len() as u64;
        self.sink.put(bytes).await
    }

    async fn header(&mut self, path: &str, size: u64) -> Result<(), BundleError> {
        let header = archive::header(path, size, self.mtime)
            .ok_or_else(|| BundleError::BadPath(path.to_string()))?;
        self.put(&header).await
    }

    /// Start an entry of `size` bytes; its bytes follow through [`TarWriter::write`].
    pub async fn begin(&mut self, path: &str, size: u64) -> Result<(), BundleError> {
        if let Some(open) = &self.open {
            return Err(BundleError::Open(open.path.clone()));
        }
        self.header(path, size).await?;
        self.open = Some(OpenEntry {
            path: path.to_string(),
            size,
            written: 0,
            hash: Sha256::new(),
        });
        Ok(())
    }

    /// Bytes of the open entry.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), BundleError> {
        let open = self.open.as_mut().ok_or(BundleError::NotOpen)?;
        open.written += bytes.len() as u64;
        if open.written > open.size {
            return Err(BundleError::SizeMismatch {
                path: open.path.clone(),
                declared: open.size,
                written: open.written,
            });
        }
        open.hash.update(bytes);
        self.put(bytes).await
    }

    /// Close the open entry (it must have exactly its declared size) and list it.
    pub async fn end(&mut self) -> Result<(), BundleError> {
        let open = self.open.take().ok_or(BundleError::NotOpen)?;
        if open.written != open.size {
            return Err(BundleError::SizeMismatch {
                path: open.path,
                declared: open.size,
                written: open.written,
            });
        }
        self.pad(open.size).await?;
        self.listed.push(ManifestEntry {
            path: open.path,
            size: open.size,
            sha256: open.hash.finish_hex(),
        });
        Ok(())
    }

    /// A whole entry, listed in the manifest.
    pub async fn add(&mut self, path: &str, bytes: &[u8]) -> Result<(), BundleError> {
        self.begin(path, bytes.len() as u64).await?;
        self.write(bytes).await?;
        self.end().await
    }

    /// A whole entry the manifest does not list (the manifest and its signature).
    pub async fn add_unlisted(&mut self, path: &str, bytes: &[u8]) -> Result<(), BundleError> {
        if let Some(open) = &self.open {
            return Err(BundleError::Open(open.path.clone()));
        }
        self.header(path, bytes.len() as u64).await?;
        self.put(bytes).await?;
        self.pad(bytes.len() as u64).await
    }

    async fn pad(&mut self, size: u64) -> Result<(), BundleError> {
        let rest = archive::padding(size);
        if rest > 0 {
            self.put(&[0u8; BLOCK][..rest]).await?;
        }
        Ok(())
    }

    /// The sink, abandoning the archive (to abort it after a failure).
    pub fn into_sink(self) -> S {
        self.sink
    }

    /// End the archive (two zero blocks) and hand the sink back.
    pub async fn close(mut self) -> Result<S, BundleError> {
        if let Some(open) = &self.open {
            return Err(BundleError::Open(open.path.clone()));
        }
        self.put(&[0u8; 2 * BLOCK]).await?;
        Ok(self.sink)
    }
}

/// SHA-256 over aws-lc-rs, with a hex result.
mod hashing {
    use aws_lc_rs::digest;

    pub(super) struct Sha256(digest::Context);

    impl Sha256 {
        pub(super) fn new() -> Sha256 {
            Sha256(digest::Context::new(&digest::SHA256))
        }

        pub(super) fn update(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }

        pub(super) fn finish_hex(self) -> String {
            crate::signing_key::hex(self.0.finish().as_ref())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_are_listed_with_their_hashes_and_the_archive_reads_back() {
        let mut writer = TarWriter::new(Vec::new(), 1_700_000_000);
        writer.add("a/one.json", b"{}").await.unwrap();
        writer.begin("a/two.bin", 5).await.unwrap();
        writer.write(b"he").await.unwrap();
        writer.write(b"llo").await.unwrap();
        writer.end().await.unwrap();
        writer.add_unlisted("manifest.json", b"[]").await.unwrap();
        let listed = writer.listed().to_vec();
        let bytes = writer.close().await.unwrap();
        assert_eq!(bytes.len() % 512, 0);
        assert_eq!(listed.len(), 2);
        assert_eq!(
            listed[1].sha256,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        let mut archive = tar::Archive::new(&bytes[..]);
        let paths: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(paths, ["a/one.json", "a/two.bin", "manifest.json"]);
    }

    #[tokio::test]
    async fn an_entry_must_have_its_declared_size_and_a_safe_path() {
        let mut writer = TarWriter::new(Vec::new(), 0);
        writer.begin("x", 3).await.unwrap();
        assert!(matches!(
            writer.write(b"four").await,
            Err(BundleError::SizeMismatch { .. })
        ));
        let mut writer = TarWriter::new(Vec::new(), 0);
        writer.begin("x", 3).await.unwrap();
        writer.write(b"ab").await.unwrap();
        assert!(matches!(
            writer.end().await,
            Err(BundleError::SizeMismatch { .. })
        ));
        let mut writer = TarWriter::new(Vec::new(), 0);
        assert!(matches!(
            writer.add("../etc/passwd", b"").await,
            Err(BundleError::BadPath(_))
        ));
        assert!(matches!(
            writer.add(&"a".repeat(300), b"").await,
            Err(BundleError::BadPath(_))
        ));
    }
}
