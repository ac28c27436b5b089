//! What the listener tells operators when it refuses or closes a connection: a counter per
//! reason, and a warning per reason at most once every [`LOG_EVERY`], with how many were
//! left unsaid since the last one. An attack opens thousands of connections a second; one
//! line each would flood the log and cost more than the refusal.
//!
//! No line names the address: it is personal data, kept only in the connection log.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// At most one warning per reason in this interval.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Why a connection was refused when it was accepted (closed before its TLS handshake).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The address holds `connections.max_per_address` connections already.
    AddressCap,
    /// The address opened connections faster than `connections.new_per_address_per_sec`.
    AddressRate,
    /// `connections.max_unauthenticated` connections are not yet sessions.
    UnauthenticatedCap,
    /// Every connection the file limit leaves room for is open.
    FileBudget,
}

/// Why an open connection was closed by a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// The TLS handshake did not finish within `connections.tls_handshake_timeout_secs`.
    Handshake,
    /// No request within `connections.idle_timeout_secs` (headers too slow included).
    Idle,
    /// A request body fell below `connections.body_min_bytes` per `body_progress_secs`.
    BodyStalled,
    /// The peer read nothing of a response for `connections.send_stall_secs`.
    SendStalled,
    /// A trusted proxy's connection did not begin with a valid PROXY protocol v2 header
    /// (`connections.proxy_protocol = "v2"`).
    ProxyHeader,
}

impl Refused {
    pub fn as_str(self) -> &'static str {
        match self {
            Refused::AddressCap => "address_cap",
            Refused::AddressRate => "address_rate",
            Refused::UnauthenticatedCap => "unauthenticated_cap",
            Refused::FileBudget => "file_budget",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl Closed {
    pub fn as_str(self) -> &'static str {
        match self {
            Closed::Handshake => "handshake_timeout",
            Closed::Idle => "idle_timeout",
            Closed::BodyStalled => "body_stalled",
            Closed::SendStalled => "send_stalled",
            Closed::ProxyHeader => "proxy_header",
        }
    }

    fn index(self) -> usize {
        4 + self as usize
    }
}

/// One throttle per reason: when the last line was written, and what went unsaid since.
struct Throttle {
    last_ms: AtomicU64,
    unsaid: AtomicU64,
}

static THROTTLES: [Throttle; 9] = [const {
    Throttle {
        last_ms: AtomicU64::new(0),
        unsaid: AtomicU64::new(0),
    }
}; 9];

fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// `Some(count)` when a line is due now, counting this event and those left unsaid.
fn due(index: usize) -> Option<u64> {
    let throttle = &THROTTLES[index];
    // Offset by one interval so that the first event is always due.
    let now = epoch().elapsed().as_millis() as u64 + LOG_EVERY.as_millis() as u64;
    let last = throttle.last_ms.load(Ordering::Relaxed);
    if now.saturating_sub(last) >= LOG_EVERY.as_millis() as u64
        && throttle
            .last_ms
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        return Some(throttle.unsaid.swap(0, Ordering::Relaxed) + 1);
    }
    throttle.unsaid.fetch_add(1, Ordering::Relaxed);
    None
}

/// Count a refused connection (and log it, throttled).
pub(super) fn refused(reason: Refused) {
    count(
        "workroom_connections_refused_total",
        reason.as_str(),
        reason.index(),
        "connections refused at accept by a limit",
    );
}

/// Count a connection closed by a limit (and log it, throttled).
pub(super) fn closed(reason: Closed) {
    count(
        "workroom_connections_closed_total",
        reason.as_str(),
        reason.index(),
        "connections closed by a limit",
    );
}

fn count(metric: &'static str, reason: &'static str, index: usize, line: &'static str) {
    metrics::counter!(metric, "reason" => reason).increment(1);
    if let Some(count) = due(index) {
        tracing::warn!(reason, count, "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_event_is_logged_and_the_rest_are_counted_until_the_next_line() {
        // The index of a reason no other test touches.
        let index = Closed::SendStalled.index();
        assert_eq!(due(index), Some(1));
        assert_eq!(due(index), None);
        assert_eq!(due(index), None);
        THROTTLES[index].last_ms.store(0, Ordering::Relaxed);
        assert_eq!(due(index), Some(3), "two unsaid and this one");
    }
}
