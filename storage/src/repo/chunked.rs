//! Sealed chunked objects: the at-rest layout of every large object (uploaded files, legal
//! bundles), so that both are written with bounded memory and read back by byte range.
//!
//! The plaintext is cut into 64 KiB chunks, each sealed with AES-256-GCM under a key used
//! for this one object (never for a second one: the nonces are counters), nonce = chunk index, associated data = index + "last chunk" flag: a
//! reordered, truncated or extended object fails to open.

use crate::blob::{BlobError, BlobStore, BlobUpload};
use crate::keyring::{CHUNK_OVERHEAD, SealingKey};
use bytes::Bytes;
use futures_util::Stream;
use std::sync::Arc;
use tokio::io::AsyncReadExt;

/// Plaintext bytes per sealed chunk.
pub const CHUNK: usize = 64 * 1024;

/// Writes plaintext as sealed chunks into an object being uploaded.
pub(crate) struct ChunkWriter {
    blob: Option<BlobUpload>,
    key: Arc<SealingKey>,
    /// The chunk being filled, with room for its tag (sealed in place: one copy per byte).
    pending: Vec<u8>,
    next_chunk: u64,
}

impl ChunkWriter {
    pub(crate) fn new(blob: BlobUpload, key: Arc<SealingKey>) -> ChunkWriter {
        ChunkWriter {
            blob: Some(blob),
            key,
            pending: Vec::with_capacity(CHUNK + CHUNK_OVERHEAD),
            next_chunk: 0,
        }
    }

    /// Take the next plaintext bytes.
    pub(crate) async fn push(&mut self, data: &[u8]) -> Result<(), BlobError> {
        let mut rest = data;
        while !rest.is_empty() {
            // A full chunk is sealed only once more bytes arrive: only `finish` knows which
            // chunk is the last.
            if self.pending.len() == CHUNK {
                let full = std::mem::replace(
                    &mut self.pending,
                    Vec::with_capacity(CHUNK + CHUNK_OVERHEAD),
                );
                self.write_chunk(full, false).await?;
            }
            let take = (CHUNK - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
        }
        Ok(())
    }

    async fn write_chunk(&mut self, mut buf: Vec<u8>, last: bool) -> Result<(), BlobError> {
        self.key.seal_chunk(
            self.next_chunk,
            &chunk_item(self.next_chunk, last),
            &mut buf,
        );
        self.next_chunk += 1;
        let blob = self
            .blob
            .as_mut()
            .ok_or_else(|| BlobError::Unavailable("upload already closed".into()))?;
        blob.write(Bytes::from(buf)).await
    }

    /// Seal the last chunk and make the object visible under its key, durably. On failure
    /// the upload is aborted.
    pub(crate) async fn finish(mut self) -> Result<(), BlobError> {
        let rest = std::mem::take(&mut self.pending);
        if let Err(e) = self.write_chunk(rest, true).await {
            self.abort().await;
            return Err(e);
        }
        match self.blob.take() {
            Some(blob) => blob.finish().await,
            None => Err(BlobError::Unavailable("upload already closed".into())),
        }
    }

    /// Give up: nothing is kept (best effort; the sweeper catches the rest).
    pub(crate) async fn abort(mut self) {
        if let Some(blob) = self.blob.take() {
            blob.abort().await;
        }
    }
}

/// Plaintext bytes `[start, end)` of a sealed object of `size` plaintext bytes, streamed and
/// opened chunk by chunk. Fails before the first byte when the object is missing; a chunk
/// that fails its integrity check ends the stream with `InvalidData`.
pub(crate) async fn read_range(
    blobs: &BlobStore,
    object_key: &str,
    key: Arc<SealingKey>,
    size: u64,
    start: u64,
    end: u64,
) -> Result<impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static + use<>, BlobError> {
    let end = end.min(size);
    let chunk = CHUNK as u64;
    let total_chunks = chunk_count(size);
    let (first, last) = if start < end {
        (start / chunk, (end - 1) / chunk)
    } else {
        (0, 0)
    };
    let offset = first * (chunk + CHUNK_OVERHEAD as u64);
    let len: u64 = (first..=last)
        .map(|i| plain_len(size, i) + CHUNK_OVERHEAD as u64)
        .sum();
    let reader = if start < end {
        Some(blobs.read_range(object_key, offset, len).await?)
    } else {
        None
    };
    let state = (reader, key, first);
    Ok(futures_util::stream::try_unfold(
        state,
        move |(reader, key, index)| async move {
            let Some(mut reader) = reader else {
                return Ok(None);
            };
            if index > last {
                return Ok(None);
            }
            let plain = plain_len(size, index);
            let mut buf = vec![0u8; usize::try_from(plain).unwrap_or(CHUNK) + CHUNK_OVERHEAD];
            reader.read_exact(&mut buf).await?;
            key.open_chunk(
                index,
                &chunk_item(index, index + 1 == total_chunks),
                &mut buf,
            )
            .map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "a sealed chunk failed its integrity check",
                )
            })?;
            let chunk_start = index * chunk;
            let from = usize::try_from(start.saturating_sub(chunk_start)).unwrap_or(0);
            let to = usize::try_from(end.min(chunk_start + plain) - chunk_start).unwrap_or(0);
            let piece = Bytes::from(buf).slice(from..to);
            Ok(Some((piece, (Some(reader), key, index + 1))))
        },
    ))
}

fn chunk_item(index: u64, last: bool) -> String {
    format!("chunk:{index}:{}", u8::from(last))
}

fn chunk_count(size: u64) -> u64 {
    size.div_ceil(CHUNK as u64).max(1)
}

fn plain_len(size: u64, index: u64) -> u64 {
    size.saturating_sub(index * CHUNK as u64).min(CHUNK as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_layout_covers_the_object_exactly() {
        assert_eq!(chunk_count(0), 1);
        assert_eq!(chunk_count(1), 1);
        assert_eq!(chunk_count(CHUNK as u64), 1);
        assert_eq!(chunk_count(CHUNK as u64 + 1), 2);
        assert_eq!(plain_len(CHUNK as u64 + 1, 1), 1);
        assert_eq!(plain_len(0, 0), 0);
    }
}
