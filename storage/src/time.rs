//! The one clock the storage layer reads: Unix milliseconds.

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}

/// A database counter (stored as BIGINT) as the unsigned seq the protocol speaks.
pub(crate) fn to_seq(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
