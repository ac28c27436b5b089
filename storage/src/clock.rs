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

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};

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
    /// Whether a [`ClockControl`] can move it (the system clock cannot: its sleepers need
    /// not watch for moves).
    adjustable: bool,
    /// Bumped on every move, so that sleepers look at the time again.
    moved: watch::Sender<i64>,
}

impl Clock {
    /// The system's wall clock.
    pub fn system() -> Clock {
        let (clock, _) = Clock::with(false);
        clock
    }

    /// A clock that runs with the system's and can be moved forward through the control.
    pub fn adjustable() -> (Clock, ClockControl) {
        Clock::with(true)
    }

    fn with(adjustable: bool) -> (Clock, ClockControl) {
        let (moved, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            offset_ms: AtomicI64::new(0),
            adjustable,
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
    pub fn sleep_until(&self, at_ms: i64) -> SleepUntil {
        let moved = self.shared.adjustable.then(|| self.watch_moves());
        SleepUntil {
            clock: self.clone(),
            at_ms,
            timer: tokio::time::sleep_until(self.instant_of(at_ms)),
            moved,
        }
    }

    /// The tokio instant at which this clock will read `at_ms`, if nobody moves it.
    fn instant_of(&self, at_ms: i64) -> Instant {
        let left = u64::try_from(at_ms.saturating_sub(self.now_ms())).unwrap_or(0);
        Instant::now()
            .checked_add(Duration::from_millis(left))
            // Far enough for "never" (tokio's own cap for a far deadline).
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365 * 30))
    }

    /// Fires on the next move of the clock.
    fn watch_moves(&self) -> Moved {
        let mut moved = self.shared.moved.subscribe();
        Box::pin(async move {
            // The sender lives as long as any handle on this clock, so `changed` never
            // fails while someone waits on it.
            let _ = moved.changed().await;
        })
    }
}

type Moved = Pin<Box<dyn Future<Output = ()> + Send + Sync>>;

pin_project_lite::pin_project! {
    /// [`Clock::sleep_until`]. Written by hand rather than as an `async fn` because every
    /// session keeps one (its token's expiry) for its whole life: a system clock's sleeper
    /// is a timer and little else, and only an adjustable clock's also watches for moves.
    pub struct SleepUntil {
        clock: Clock,
        at_ms: i64,
        #[pin]
        timer: Sleep,
        // Adjustable clocks only.
        moved: Option<Moved>,
    }
}

impl Future for SleepUntil {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        loop {
            if this.clock.now_ms() >= *this.at_ms {
                return Poll::Ready(());
            }
            if let Some(moved) = this.moved.as_mut()
                && moved.as_mut().poll(cx).is_ready()
            {
                // Moved: watch for the next move and set the timer to the time now left.
                *this.moved = Some(this.clock.watch_moves());
                let at = this.clock.instant_of(*this.at_ms);
                this.timer.as_mut().reset(at);
                continue;
            }
            match this.timer.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                // The timer ran out but the clock does not read `at_ms` yet (timers and the
                // wall clock drift apart by a few ms): wait for what is left.
                Poll::Ready(()) => {
                    let at = this.clock.instant_of(*this.at_ms);
                    this.timer
                        .as_mut()
                        .reset(at.max(Instant::now() + Duration::from_millis(1)));
                }
            }
        }
    }
}

impl std::fmt::Debug for SleepUntil {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SleepUntil")
            .field("at_ms", &self.at_ms)
            .finish()
    }
}

impl ClockControl {
    /// Move the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        let offset = self.shared.offset_ms.fetch_add(ms, Ordering::SeqCst) + ms;
        self.shared.moved.send_replace(offset);
    }

    /// Move the clock back by `by` (tests that need days already over, before they act:
    /// a sleeper waits longer, it never wakes early).
    pub fn rewind(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        let offset = self.shared.offset_ms.fetch_sub(ms, Ordering::SeqCst) - ms;
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
    async fn a_move_short_of_the_time_keeps_the_sleeper_waiting() {
        let (clock, control) = Clock::adjustable();
        let start = clock.now_ms();
        let sleeper = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.sleep_until(start + 3_600_000).await })
        };
        control.advance(Duration::from_secs(1_800));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !sleeper.is_finished(),
            "half the time passed, not all of it"
        );
        control.advance(Duration::from_secs(1_800));
        tokio::time::timeout(Duration::from_secs(2), sleeper)
            .await
            .expect("woken by the second move")
            .unwrap();
    }

    /// Every session holds one for its token's expiry, all its life: a sleeper on the
    /// system clock must cost little more than the timer itself.
    #[test]
    fn a_sleeper_is_a_timer_and_little_else() {
        let timer = std::mem::size_of::<Sleep>();
        let sleeper = std::mem::size_of::<SleepUntil>();
        assert!(
            sleeper <= timer + 32,
            "SleepUntil {sleeper} bytes, Sleep {timer}"
        );
    }

    #[tokio::test]
    async fn a_system_clock_sleeps_in_real_time() {
        let clock = Clock::system();
        let started = std::time::Instant::now();
        clock.sleep_until(clock.now_ms() + 50).await;
        assert!(started.elapsed() >= Duration::from_millis(45));
    }
}
