//! Token buckets keyed by string, in this process's memory: `rate` tokens per minute, at most
//! `burst` saved. Used for Tracker screenshots (per bot token and workroom) and for sharing
//! changes (per contractor). Idle buckets are dropped once full again, so the map holds only
//! recently active keys.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug)]
pub struct RateLimiter {
    per_minute: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            per_minute: f64::from(per_minute),
            burst: f64::from(burst),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Take one token for `key`; `Err(seconds)` until one is available.
    pub fn take(&self, key: &str) -> Result<(), u64> {
        self.take_at(key, Instant::now())
    }

    fn take_at(&self, key: &str, now: Instant) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let per_sec = self.per_minute / 60.0;
        if buckets.len() > 10_000 {
            let burst = self.burst;
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * per_sec < burst
            });
        }
        let (tokens, at) = buckets.entry(key.to_string()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * per_sec).min(self.burst);
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
        let limiter = RateLimiter::new(1, 3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take_at("a", t0).is_ok());
        }
        assert_eq!(limiter.take_at("a", t0), Err(60));
        assert!(limiter.take_at("b", t0).is_ok(), "keys are independent");
        assert!(limiter.take_at("a", t0 + Duration::from_secs(60)).is_ok());
        assert!(limiter.take_at("a", t0 + Duration::from_secs(61)).is_err());
    }
}
