//! The one clock every time-driven rule reads: token lifetimes, grant expiry, link expiry,
//! retention, rate limits, and the times stored with rows and audit entries.
//!
//! In production it is the system's wall clock. A test makes an adjustable one and moves it
//! forward with its [`ClockControl`] instead of sleeping: whatever expires at a time has
//! expired the moment the clock passes it, and every waiter built on [`Clock::sleep_until`]
//! wakes to look again. The clock only ever moves forward.
//!
//! Only rules about wall-clock time go through it. Plumbing that measures real elapsed time
//! (I/O and write timeouts, health-check intervals, the key cache's freshness, how old an
//! object in the store is by the store's own timestamps) stays on tokio's timers and the
//! operating system's clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// A handle on the clock. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Clock {
    shared: Arc<Shared>,
}

/// Moves an adjustable clock forward (tests only hold one).
#[derive(Debug)]
pub struct ClockControl {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// Added to the system time, in milliseconds.
    offset_ms: AtomicI64,
    /// Bumped on every move, so that sleepers look at the time again.
    moved: watch::Sender<i64>,
}

impl Clock {
    /// The system's wall clock.
    pub fn system() -> Clock {
        Clock::adjustable().0
    }

    /// A clock that runs with the system's and can be moved forward through the control.
    pub fn adjustable() -> (Clock, ClockControl) {
        let (moved, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            offset_ms: AtomicI64::new(0),
            moved,
        });
        (
            Clock {
                shared: shared.clone(),
            },
            ClockControl { shared },
        )
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        system_now_ms().saturating_add(self.shared.offset_ms.load(Ordering::SeqCst))
    }

    /// Whole seconds since the Unix epoch (token claims, link expiry).
    pub fn now_secs(&self) -> u64 {
        u64::try_from(self.now_ms() / 1000).unwrap_or(0)
    }

    /// Return once the clock reads `at_ms` or later: sleeps for the real time left, and
    /// looks again whenever the clock is moved.
    pub async fn sleep_until(&self, at_ms: i64) {
        let mut moved = self.shared.moved.subscribe();
        loop {
            let left = at_ms.saturating_sub(self.now_ms());
            if left <= 0 {
                return;
            }
            let left = Duration::from_millis(u64::try_from(left).unwrap_or(u64::MAX));
            // The sender lives as long as any handle on this clock, so `changed` never fails
            // while we wait; for a clock nobody moves it simply never fires.
            tokio::select! {
                () = tokio::time::sleep(left) => {}
                _ = moved.changed() => {}
            }
        }
    }
}

impl ClockControl {
    /// Move the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        let offset = self.shared.offset_ms.fetch_add(ms, Ordering::SeqCst) + ms;
        self.shared.moved.send_replace(offset);
    }

    /// The clock this control moves.
    pub fn clock(&self) -> Clock {
        Clock {
            shared: self.shared.clone(),
        }
    }
}

/// The operating system's wall clock, in Unix milliseconds.
pub(crate) fn system_now_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn moving_the_clock_wakes_a_sleeper_at_once() {
        let (clock, control) = Clock::adjustable();
        let start = clock.now_ms();
        let sleeper = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.sleep_until(start + 3_600_000).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!sleeper.is_finished());
        control.advance(Duration::from_secs(3_600));
        tokio::time::timeout(Duration::from_secs(2), sleeper)
            .await
            .expect("woken by the move")
            .unwrap();
        assert!(clock.now_ms() >= start + 3_600_000);
    }

    #[tokio::test]
    async fn a_system_clock_sleeps_in_real_time() {
        let clock = Clock::system();
        let started = std::time::Instant::now();
        clock.sleep_until(clock.now_ms() + 50).await;
        assert!(started.elapsed() >= Duration::from_millis(45));
    }
}
