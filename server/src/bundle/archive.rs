//! The bundle's archive layout, one definition for writing and for checking: ustar headers
//! in one canonical form (a regular file, mode 0644, the bundle's time, no owner), data
//! padded with zeros to whole 512-byte blocks, two zero blocks at the end and nothing after.
//!
//! The checker holds an archive to exactly that form, so that no byte of a bundle can
//! change unnoticed: entry data is covered by the manifest's hashes, and every other byte
//! (headers, padding, the end) by this form. A general tar reader would skip padding and
//! accept equivalent headers; this one does not.

use super::problem::Problem;
use std::io::Read;

/// Bytes per tar block.
pub(crate) const BLOCK: usize = 512;

/// The canonical header of an entry; `None` when the path cannot be stored in one.
pub(crate) fn header(path: &str, size: u64, mtime: u64) -> Option<[u8; BLOCK]> {
    if path.is_empty() || path.starts_with('/') || path.split('/').any(|p| p == "..") {
        return None;
    }
    let mut header = tar::Header::new_ustar();
    header.set_path(path).ok()?;
    header.set_size(size);
    header.set_mode(0o644);
    header.set_mtime(mtime);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    Some(*header.as_bytes())
}

/// The zeros that pad `size` bytes of data to a whole block.
pub(crate) fn padding(size: u64) -> usize {
    (BLOCK - (size % BLOCK as u64) as usize) % BLOCK
}

/// One entry's header, as read and found canonical.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryHeader {
    pub(crate) path: String,
    pub(crate) size: u64,
    pub(crate) mtime: u64,
}

/// Reads an archive entry by entry, holding it to the canonical layout.
pub(crate) struct StrictReader<R> {
    inner: R,
    entries: usize,
}

fn unreadable(e: std::io::Error) -> Problem {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => Problem::Truncated,
        _ => Problem::Unreadable(e.to_string()),
    }
}

impl<R: Read> StrictReader<R> {
    pub(crate) fn new(inner: R) -> StrictReader<R> {
        StrictReader { inner, entries: 0 }
    }

    /// The next entry's header, or `None` at the end of the archive (two zero blocks and
    /// nothing after them). A header not in canonical form is a problem naming its entry;
    /// reading cannot go on after it (its size is not to be trusted).
    pub(crate) fn next_header(&mut self) -> Result<Option<EntryHeader>, Problem> {
        let mut block = [0u8; BLOCK];
        self.inner.read_exact(&mut block).map_err(unreadable)?;
        if block.iter().all(|b| *b == 0) {
            self.inner.read_exact(&mut block).map_err(unreadable)?;
            let mut rest = [0u8; 1];
            let after = self.inner.read(&mut rest).map_err(unreadable)?;
            if block.iter().any(|b| *b != 0) || after != 0 {
                return Err(Problem::AfterEnd);
            }
            return Ok(None);
        }
        self.entries += 1;
        let number = self.entries;
        let parsed = tar::Header::from_byte_slice(&block);
        let fields = (|| {
            let path = parsed.path().ok()?.to_str()?.to_string();
            Some((path, parsed.size().ok()?, parsed.mtime().ok()?))
        })();
        let Some((path, size, mtime)) = fields else {
            return Err(Problem::HeaderChanged(format!("number {number}")));
        };
        if header(&path, size, mtime).as_ref() != Some(&block) {
            return Err(Problem::HeaderChanged(path));
        }
        Ok(Some(EntryHeader { path, size, mtime }))
    }

    /// The data of the entry just read (`size` bytes, handed to `each` in pieces), then its
    /// padding, which must be zeros.
    pub(crate) fn read_data(
        &mut self,
        entry: &EntryHeader,
        mut each: impl FnMut(&[u8]),
    ) -> Result<(), Problem> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut left = entry.size;
        while left > 0 {
            let want = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
            self.inner
                .read_exact(&mut buf[..want])
                .map_err(unreadable)?;
            each(&buf[..want]);
            left -= want as u64;
        }
        let pad = padding(entry.size);
        let mut zeros = [0u8; BLOCK];
        self.inner
            .read_exact(&mut zeros[..pad])
            .map_err(unreadable)?;
        if zeros[..pad].iter().any(|b| *b != 0) {
            return Err(Problem::PaddingChanged(entry.path.clone()));
        }
        Ok(())
    }
}
