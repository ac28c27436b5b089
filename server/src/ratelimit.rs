//! Token buckets keyed by string, in this process's memory: `rate` tokens per minute, at most
//! `burst` saved. Used for Tracker screenshots (per bot token and workroom) and for sharing
//! changes (per contractor). Idle buckets are dropped once full again, so the map holds only
//! recently active keys.

use std::collections::HashMap;
use std::sync::Mutex;
use workroom_storage::Clock;

#[derive(Debug)]
pub struct RateLimiter {
    per_minute: f64,
    burst: f64,
    /// Tokens left, and when (Unix ms) they were counted.
    buckets: Mutex<HashMap<String, (f64, i64)>>,
    clock: Clock,
}

impl RateLimiter {
    pub fn new(per_minute: u32, burst: u32, clock: Clock) -> RateLimiter {
        RateLimiter {
            per_minute: f64::from(per_minute),
            burst: f64::from(burst),
            buckets: Mutex::new(HashMap::new()),
            clock,
        }
    }

    /// Take one token for `key`; `Err(seconds)` until one is available.
    pub fn take(&self, key: &str) -> Result<(), u64> {
        self.take_at(key, self.clock.now_ms())
    }

    fn take_at(&self, key: &str, now: i64) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let per_sec = self.per_minute / 60.0;
        let elapsed = |at: i64| (now.saturating_sub(at).max(0) as f64) / 1000.0;
        if buckets.len() > 10_000 {
            let burst = self.burst;
            buckets.retain(|_, (tokens, at)| *tokens + elapsed(*at) * per_sec < burst);
        }
        let (tokens, at) = buckets.entry(key.to_string()).or_insert((self.burst, now));
        *tokens = (*tokens + elapsed(*at) * per_sec).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / per_sec).ceil() as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bursts_then_the_sustained_rate() {
        let (clock, control) = Clock::adjustable();
        let limiter = RateLimiter::new(1, 3, clock);
        for _ in 0..3 {
            assert!(limiter.take("a").is_ok());
        }
        assert_eq!(limiter.take("a"), Err(60));
        assert!(limiter.take("b").is_ok(), "keys are independent");
        control.advance(Duration::from_secs(60));
        assert!(limiter.take("a").is_ok());
        control.advance(Duration::from_secs(1));
        assert!(limiter.take("a").is_err());
    }
}
