//! FNV-1a (64-bit): a fixed, tiny hash for values that must be the same in every process
//! and version (the web client's ETags, a room's committer lane). Not a security measure:
//! use it only where the hashed bytes are the server's own.

/// FNV-1a over the bytes; `const`, so it also runs at compile time.
pub(crate) const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}
