//! What the C allocator holds that the process no longer uses, and giving it back.
//!
//! glibc's `malloc` keeps freed memory in its arenas for reuse and returns to the system only
//! the free top of each heap. After a connection storm, 15,000 sessions' worth of small
//! allocations are free but scattered, and the process stays at its peak RSS (357 of 363 MiB
//! a minute after every connection closed). `malloc_trim(0)` walks every arena and releases
//! the free pages inside them too (`madvise`), which brought that RSS back to ~70 MiB.
//!
//! The workspace denies `unsafe`; this module is its one exception: two glibc calls that take
//! no pointers and have no preconditions. Elsewhere (musl, other systems) both are no-ops.

/// Bytes the allocator holds free in its arenas (glibc's `mallinfo2().fordblks`, summed
/// over every arena); `None` where that cannot be known.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub(crate) fn free_bytes() -> Option<u64> {
    // SAFETY: `mallinfo2` takes no arguments and returns a plain struct by value; glibc
    // locks each arena while it sums it.
    let info = unsafe { libc::mallinfo2() };
    u64::try_from(info.fordblks).ok()
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn free_bytes() -> Option<u64> {
    None
}

/// Return the allocator's free pages to the system; whether any were. Walks and locks every
/// arena in turn, so call it from a blocking thread, and rarely.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub(crate) fn trim() -> bool {
    // SAFETY: `malloc_trim` takes a padding size, no pointers; glibc serialises it with
    // every other allocator call.
    unsafe { libc::malloc_trim(0) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn trim() -> bool {
    false
}
