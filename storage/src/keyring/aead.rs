//! The one AEAD construction every sealed item uses: AES-256-GCM (aws-lc, hardware
//! accelerated, the same crypto stack as TLS) with a fresh random 96-bit nonce per item.
//! Random GCM nonces are safe for about 2^32 items per key; keys are per workroom, per
//! person and per file, far below that.
//!
//! Associated data binds a ciphertext to the key id and to the item's identity (its table,
//! row and field), so a ciphertext copied to another row, room or field fails to open.
//!
//! Layout: `[version = 1][nonce: 12][ciphertext][tag: 16]`.

use super::master::{KEY_LEN, fill_random};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

const FORMAT_VERSION: u8 = 1;
const TAG_LEN: usize = 16;

/// Bytes a sealed item adds to its plaintext.
pub const SEAL_OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;

/// A ciphertext failed to open: wrong key, wrong identity, or altered bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("ciphertext failed its integrity check")]
pub struct OpenError;

/// An AES-256-GCM key with the id that is bound into every item it seals.
pub struct SealingKey {
    id: String,
    key: LessSafeKey,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealingKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl SealingKey {
    pub(crate) fn new(id: impl Into<String>, bytes: &[u8; KEY_LEN]) -> SealingKey {
        // AES_256_GCM accepts exactly KEY_LEN bytes, which the type guarantees.
        #[allow(clippy::expect_used)]
        let unbound = UnboundKey::new(&AES_256_GCM, bytes).expect("a 32-byte AES-256 key");
        SealingKey {
            id: id.into(),
            key: LessSafeKey::new(unbound),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Encrypt `plaintext` as the item named `item`.
    pub fn seal(&self, item: &str, plaintext: &[u8]) -> Vec<u8> {
        let nonce = random_nonce();
        let mut out = Vec::with_capacity(plaintext.len() + SEAL_OVERHEAD);
        out.push(FORMAT_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        // Sealing fails only for inputs over GCM's 64 GiB limit; items here are bounded
        // by the frame and chunk sizes.
        #[allow(clippy::expect_used)]
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(self.aad(item)),
                &mut out[1 + NONCE_LEN..],
            )
            .expect("AES-GCM seal of a bounded item");
        out.extend_from_slice(tag.as_ref());
        out
    }

    /// Decrypt an item sealed by [`SealingKey::seal`] under the same key and item name.
    pub fn open(&self, item: &str, sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        if sealed.len() < SEAL_OVERHEAD || sealed[0] != FORMAT_VERSION {
            return Err(OpenError);
        }
        let nonce: [u8; NONCE_LEN] = sealed[1..1 + NONCE_LEN].try_into().map_err(|_| OpenError)?;
        let mut body = sealed[1 + NONCE_LEN..].to_vec();
        let plain_len = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(self.aad(item)),
                &mut body,
            )
            .map_err(|_| OpenError)?
            .len();
        body.truncate(plain_len);
        Ok(body)
    }

    /// Encrypt one chunk of a stream in place with a caller-chosen unique nonce (the chunk
    /// index under a key used for one stream only). Appends the tag.
    pub(crate) fn seal_chunk(&self, nonce: u64, item: &str, buf: &mut Vec<u8>) {
        #[allow(clippy::expect_used)]
        self.key
            .seal_in_place_append_tag(counter_nonce(nonce), Aad::from(self.aad(item)), buf)
            .expect("AES-GCM seal of a bounded chunk");
    }

    /// Decrypt one chunk sealed by [`SealingKey::seal_chunk`]; strips the tag.
    pub(crate) fn open_chunk(
        &self,
        nonce: u64,
        item: &str,
        buf: &mut Vec<u8>,
    ) -> Result<(), OpenError> {
        let plain_len = self
            .key
            .open_in_place(counter_nonce(nonce), Aad::from(self.aad(item)), buf)
            .map_err(|_| OpenError)?
            .len();
        buf.truncate(plain_len);
        Ok(())
    }

    fn aad(&self, item: &str) -> Vec<u8> {
        let mut aad = Vec::with_capacity(16 + self.id.len() + item.len());
        aad.extend_from_slice(b"workroom/v1\0");
        aad.extend_from_slice(self.id.as_bytes());
        aad.push(0);
        aad.extend_from_slice(item.as_bytes());
        aad
    }
}

/// Bytes a sealed chunk adds to its plaintext.
pub const CHUNK_OVERHEAD: usize = TAG_LEN;

/// Random bytes drawn from the OS generator in blocks and handed out a nonce at a time: one
/// generator call per ~340 nonces instead of one per message (measured: the per-call cost
/// was most of what sealing added to the commit path). Same generator, same quality.
fn random_nonce() -> [u8; NONCE_LEN] {
    use std::cell::RefCell;
    const POOL: usize = NONCE_LEN * 341;
    thread_local! {
        static POOL_BYTES: RefCell<([u8; POOL], usize)> = const { RefCell::new(([0; POOL], POOL)) };
    }
    POOL_BYTES.with(|pool| {
        let mut pool = pool.borrow_mut();
        let (bytes, used) = &mut *pool;
        if *used + NONCE_LEN > POOL {
            fill_random(bytes);
            *used = 0;
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&bytes[*used..*used + NONCE_LEN]);
        *used += NONCE_LEN;
        nonce
    })
}

fn counter_nonce(counter: u64) -> Nonce {
    let mut nonce = [0u8; NONCE_LEN];
    nonce[NONCE_LEN - 8..].copy_from_slice(&counter.to_be_bytes());
    Nonce::assume_unique_for_key(nonce)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, byte: u8) -> SealingKey {
        SealingKey::new(id, &[byte; KEY_LEN])
    }

    #[test]
    fn an_item_opens_only_under_its_own_key_and_identity() {
        let room_a = key("room:a", 1);
        let sealed = room_a.seal("msg:m1:v1", b"hello");
        assert_eq!(room_a.open("msg:m1:v1", &sealed).unwrap(), b"hello");
        // Moved to another row or field.
        assert_eq!(room_a.open("msg:m2:v1", &sealed), Err(OpenError));
        assert_eq!(room_a.open("msg:m1:v2", &sealed), Err(OpenError));
        // Moved to another room: another key id (even with the same key bytes) and key.
        assert_eq!(key("room:b", 1).open("msg:m1:v1", &sealed), Err(OpenError));
        assert_eq!(key("room:a", 2).open("msg:m1:v1", &sealed), Err(OpenError));
        // Altered.
        let mut altered = sealed.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert_eq!(room_a.open("msg:m1:v1", &altered), Err(OpenError));
        assert_eq!(room_a.open("msg:m1:v1", &sealed[..5]), Err(OpenError));
    }

    #[test]
    fn every_seal_uses_a_fresh_nonce() {
        let k = key("room:a", 1);
        assert_ne!(k.seal("x", b"same"), k.seal("x", b"same"));
        assert_eq!(k.seal("x", b"same").len(), 4 + SEAL_OVERHEAD);
    }

    #[test]
    fn chunks_are_bound_to_their_index_and_item() {
        let k = key("file:f1", 3);
        let mut chunk = b"chunk zero".to_vec();
        k.seal_chunk(0, "f1:0:0", &mut chunk);
        let mut wrong_index = chunk.clone();
        assert_eq!(k.open_chunk(1, "f1:0:0", &mut wrong_index), Err(OpenError));
        let mut wrong_item = chunk.clone();
        assert_eq!(k.open_chunk(0, "f1:0:1", &mut wrong_item), Err(OpenError));
        k.open_chunk(0, "f1:0:0", &mut chunk).unwrap();
        assert_eq!(chunk, b"chunk zero");
    }
}
