//! Conversions between database columns and protocol numbers. (Time itself: [`crate::clock`].)

/// A database counter (stored as BIGINT) as the unsigned seq the protocol speaks.
pub(crate) fn to_seq(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
