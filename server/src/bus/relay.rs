//! Other nodes' commits, handed to this node's sessions (C15).
//!
//! A timeline signal names a room and the seqs a batch committed there, never a body. The
//! relay reads those events once per node (not once per session) and publishes them to the
//! hub exactly as a local commit would, so sessions keep one path: in seq order, duplicates
//! dropped, a gap filled from the database. Signals for rooms nobody here follows are
//! dropped before any read. While one room's read is in flight, further signals for it are
//! merged, so a busy room costs one read per burst rather than one per batch.
//!
//! Signals are lossy (a dropped NATS message, a bus outage), so the relay also sweeps:
//! it reads the heads (`last_seq`) of every followed room in one query and relays what was
//! committed but not published here. The sweep runs every `bus.poll_interval_ms` while the
//! bus is down (and for a while after it returns, while other nodes reconnect), and every
//! [`SAFETY_SWEEP`] otherwise. Its cost grows with followed rooms, not with connections.

use crate::app::AppState;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use workroom_protocol::RoomId;

/// At most this many events are relayed per room at once: the newest. A session further
/// behind fills the rest itself from the database, as after any gap.
pub const RELAY_LIMIT: u64 = 200;
/// How often followed rooms are checked for missed commits while the bus is up.
pub const SAFETY_SWEEP: Duration = Duration::from_secs(2);
/// How long after the bus returns the sweep keeps the outage's pace.
const AFTER_OUTAGE: Duration = Duration::from_secs(5);
/// Rooms relayed at once.
const WORKERS: usize = 4;

/// The rooms waiting to be relayed, each with the seqs signalled for it.
#[derive(Debug, Default)]
struct Pending {
    ranges: HashMap<RoomId, (u64, u64)>,
    order: VecDeque<RoomId>,
}

#[derive(Debug)]
pub struct Relay {
    state: AppState,
    pending: Mutex<Pending>,
    wake: Notify,
}

impl Relay {
    pub fn new(state: AppState) -> Arc<Relay> {
        Arc::new(Relay {
            state,
            pending: Mutex::new(Pending::default()),
            wake: Notify::new(),
        })
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Another node committed `first..=last` in `room`.
    pub fn signalled(&self, room: RoomId, first: u64, last: u64) {
        match self.state.hub.published_seq(&room) {
            None => return,
            Some(published) if published >= last => return,
            Some(_) => {}
        }
        let mut pending = self.pending();
        match pending.ranges.get_mut(&room) {
            Some(range) => {
                range.0 = range.0.min(first);
                range.1 = range.1.max(last);
            }
            None => {
                pending.ranges.insert(room.clone(), (first, last));
                pending.order.push_back(room);
            }
        }
        drop(pending);
        self.wake.notify_one();
    }

    fn next(&self) -> Option<(RoomId, (u64, u64))> {
        let mut pending = self.pending();
        let room = pending.order.pop_front()?;
        let range = pending.ranges.remove(&room)?;
        Some((room, range))
    }

    /// Read and publish what this node has not published of `room` up to `last`. With
    /// nothing published here yet (0: the room's followers arrived with no known seq),
    /// from `first` only.
    async fn relay(&self, room: &RoomId, first: u64, last: u64) {
        let Some(published) = self.state.hub.published_seq(room) else {
            return;
        };
        if published >= last {
            return;
        }
        let after = if published == 0 {
            first.saturating_sub(1)
        } else {
            published
        };
        let started = Instant::now();
        match self
            .state
            .service
            .relay_page(room, after, last, RELAY_LIMIT)
            .await
        {
            Ok(events) => {
                metrics::counter!("workroom_bus_relayed_events_total")
                    .increment(events.len() as u64);
                for event in events {
                    self.state
                        .hub
                        .publish_event(room, event.seq, event.text, event.purpose);
                }
            }
            Err(failure) => {
                // The sessions find these events at their next gap or resume; the sweep
                // retries.
                tracing::warn!(error = %failure, "relaying another node's events failed");
            }
        }
        metrics::histogram!("workroom_bus_relay_seconds").record(started.elapsed().as_secs_f64());
    }

    /// Relay signalled rooms until `shutdown`.
    pub async fn work(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            while let Some((room, (first, last))) = self.next() {
                self.relay(&room, first, last).await;
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = shutdown.cancelled() => return,
            }
        }
    }

    /// Compare every followed room's head with what was published here, and relay the
    /// difference.
    pub async fn sweep(&self) {
        let followed = self.state.hub.followed_rooms();
        if followed.is_empty() {
            return;
        }
        let rooms: Vec<RoomId> = followed.iter().map(|(room, _)| room.clone()).collect();
        let heads = match self.state.service.room_heads(&rooms).await {
            Ok(heads) => heads,
            Err(failure) => {
                tracing::debug!(error = %failure, "reading room heads failed; will retry");
                return;
            }
        };
        let published: HashMap<RoomId, u64> = followed.into_iter().collect();
        let mut behind = 0u64;
        for (room, head) in heads {
            let seen = published.get(&room).copied().unwrap_or(0);
            if head > seen {
                behind += 1;
                self.relay(&room, seen.max(head.saturating_sub(RELAY_LIMIT)) + 1, head)
                    .await;
            }
        }
        metrics::counter!("workroom_bus_sweep_rooms_behind_total").increment(behind);
    }

    /// Sweep at the outage pace while the bus is down (or just came back), at the safety
    /// pace otherwise, until `shutdown`.
    pub async fn sweep_forever(self: Arc<Self>, poll: Duration, shutdown: CancellationToken) {
        let mut last_down = Some(Instant::now());
        let mut last_sweep = Instant::now();
        loop {
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                () = shutdown.cancelled() => return,
            }
            let up = self.state.health.bus_up();
            if !up {
                last_down = Some(Instant::now());
            }
            let recovering = last_down.is_some_and(|at| at.elapsed() < AFTER_OUTAGE);
            if !up || recovering || last_sweep.elapsed() >= SAFETY_SWEEP {
                self.sweep().await;
                last_sweep = Instant::now();
            }
        }
    }

    /// Start the workers and the sweep.
    pub fn spawn(
        self: &Arc<Self>,
        poll: Duration,
        tracker: &tokio_util::task::TaskTracker,
        shutdown: &CancellationToken,
    ) {
        for _ in 0..WORKERS {
            tracker.spawn(self.clone().work(shutdown.clone()));
        }
        tracker.spawn(self.clone().sweep_forever(poll, shutdown.clone()));
    }
}
