//! The write path of messaging: bounded queues into committer tasks that append events in
//! batches, then acknowledge and fan out.
//!
//! Each room belongs to exactly one committer (by hash), so events of a room are committed
//! and published in seq order by one task; different rooms commit in parallel only when
//! there are several committers (useful on PostgreSQL). A committer takes everything queued
//! (up to `max_batch`) into one transaction: under load batches grow and fsyncs per message
//! shrink; when idle a lone message commits at once. The bounded queue is the backpressure:
//! when it is full, senders wait, and their sessions stop reading their sockets.
//!
//! Audited reads (a moderator's history page, a download, a live view) must be recorded
//! before they return; their entries ride along the first committer's next batch
//! ([`Committers::record`], taken ahead of queued messages), so concurrent reads share one commit with each other and with
//! messages instead of each taking the database's writer for a commit of its own.
//!
//! Invariant: a reply (ack, or "recorded") is sent only after the transaction committed.
//!
//! Every batch the database could not take at all (an outage: unreachable, out of disk,
//! refusing writes) is reported to [`Health`], so the first one turns `/readyz` to 503; a
//! batch that committed with no outage reported meanwhile turns it back. While the health
//! check sees the database not answering, batches are refused at once (their senders get
//! `unavailable` and retry with the same `client_msg_id`) instead of each waiting out the
//! pool's acquire timeout.

use crate::events::event_frame;
use crate::health::Health;
use crate::hub::Hub;
use crate::signals::Signal;
use axum::extract::ws::Utf8Bytes;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use workroom_protocol::RoomId;
use workroom_storage::audit::NewAuditEntry;
use workroom_storage::proof::{Receipt, Unrecorded};
use workroom_storage::{AppendError, AppendOutcome, BatchCommit, NewEvent, StorageError, Store};

/// The result a sender waits for.
pub type CommitResult = Result<AppendOutcome, AppendError>;

struct CommitRequest {
    room: RoomId,
    event: NewEvent,
    enqueued: Instant,
    reply: oneshot::Sender<CommitResult>,
}

/// Audit entries to record in the next batch (audited reads: their record must be stored
/// before the read returns, and riding along a batch costs no commit of its own).
struct AuditRequest {
    entries: Vec<NewAuditEntry>,
    reply: ReceiptsReply,
}

/// One receipt per entry; `Err` carries the cause, for the log.
type ReceiptsReply = oneshot::Sender<Result<Vec<Receipt>, String>>;

/// What a committer's queue carries.
enum Work {
    Event(CommitRequest),
    Audit(AuditRequest),
}

/// Which of `committers` commits `room`'s events: FNV-1a of the room id, the same on every
/// node and in every version. On a cluster, committer `k` of every node then takes the same
/// rooms, so two nodes' batches meet on a room's row lock only in committers of the same
/// index instead of chaining every committer of every node (a per-process random hash made
/// 9 to 11 of 12 committer transactions wait on one another, docs/benchmarks.md "Many
/// nodes"). Room ids are the server's own, so a fixed hash gives a client no lever.
fn committer_of(room: &RoomId, committers: usize) -> usize {
    (crate::fnv::fnv1a(room.as_str().as_bytes()) % committers.max(1) as u64) as usize
}

/// Handle to the committer tasks. Cheap to clone.
#[derive(Clone)]
pub struct Committers {
    queues: Arc<[mpsc::Sender<CommitRequest>]>,
    /// Audit requests, taken by the first committer ahead of its message queue.
    audit: mpsc::Sender<AuditRequest>,
    /// For records made after the committers stopped (a live view ending at shutdown).
    store: Store,
}

impl std::fmt::Debug for Committers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Committers")
            .field("count", &self.queues.len())
            .finish()
    }
}

/// Why a submission was not even queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the server is shutting down")]
pub struct ShuttingDown;

impl Committers {
    /// Start `count` committers on a dedicated thread with its own single-threaded runtime.
    /// They stop when `shutdown` fires, after committing everything already queued; the
    /// thread's completion is tracked by `tracker`.
    ///
    /// Why a thread of their own: a commit is a chain of awaits on the database. On the
    /// shared runtime each await would queue behind every busy session task (hundreds under
    /// load), stretching a 2 ms commit to 100 ms and starving the batch pipeline. On their
    /// own thread the committers resume as soon as the database answers.
    pub fn start(
        count: usize,
        max_batch: usize,
        store: Store,
        hub: Arc<Hub>,
        health: Arc<Health>,
        tracker: &TaskTracker,
        shutdown: CancellationToken,
    ) -> std::io::Result<Committers> {
        let mut queues = Vec::with_capacity(count);
        let mut loops = Vec::with_capacity(count);
        let (audit, audit_rx) = mpsc::channel(max_batch);
        let mut audit_rx = Some(audit_rx);
        for _ in 0..count {
            let (tx, rx) = mpsc::channel(max_batch * 4);
            queues.push(tx);
            loops.push(run_committer(
                rx,
                audit_rx.take(),
                max_batch,
                store.clone(),
                hub.clone(),
                health.clone(),
                shutdown.clone(),
            ));
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (done_tx, done_rx) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("workroom-committer".into())
            .spawn(move || {
                runtime.block_on(futures_util::future::join_all(loops));
                let _ = done_tx.send(());
            })?;
        tracker.spawn(async move {
            let _ = done_rx.await;
        });
        Ok(Committers {
            audit,
            store: store.clone(),
            queues: queues.into(),
        })
    }

    /// Queue an event; waits while the committer's queue is full. The returned receiver
    /// resolves after the commit.
    pub async fn submit(
        &self,
        room: RoomId,
        event: NewEvent,
    ) -> Result<oneshot::Receiver<CommitResult>, ShuttingDown> {
        let index = committer_of(&room, self.queues.len());
        let (reply, rx) = oneshot::channel();
        self.queues[index]
            .send(CommitRequest {
                room,
                event,
                enqueued: Instant::now(),
                reply,
            })
            .await
            .map_err(|_| ShuttingDown)?;
        Ok(rx)
    }

    /// Record audit entries with the next batch (the first committer's) and wait until they
    /// are committed; one receipt per entry. Used for audited reads, which must not return
    /// before their record is stored; many concurrent reads then share one commit, with or
    /// without messages. Once the committers have stopped, the entries are appended on
    /// their own.
    pub async fn record(&self, entries: Vec<NewAuditEntry>) -> Result<Vec<Receipt>, RecordError> {
        let (reply, rx) = oneshot::channel();
        let queued = self
            .audit
            .send(AuditRequest {
                entries: entries.clone(),
                reply,
            })
            .await;
        match (queued, rx.await) {
            (Ok(()), Ok(Ok(receipts))) => Ok(receipts),
            (Ok(()), Ok(Err(cause))) => Err(RecordError(cause)),
            _ => self
                .store
                .append_audit(&entries)
                .await
                .map_err(|e| RecordError(e.to_string())),
        }
    }

    /// Record `entry` and only then hand out the proof of the audited read it stands for.
    pub async fn record_read<T>(
        &self,
        read: Unrecorded<T>,
        entry: NewAuditEntry,
    ) -> Result<T, RecordError> {
        let mut receipts = self.record(vec![entry]).await?;
        let receipt = receipts
            .pop()
            .ok_or_else(|| RecordError("no receipt for the entry".into()))?;
        Ok(read.redeem(receipt))
    }
}

/// Audit entries that could not be recorded, with the cause (for the log).
#[derive(Debug, thiserror::Error)]
#[error("recording audit entries failed: {0}")]
pub struct RecordError(String);

async fn run_committer(
    mut rx: mpsc::Receiver<CommitRequest>,
    mut audit_rx: Option<mpsc::Receiver<AuditRequest>>,
    max_batch: usize,
    store: Store,
    hub: Arc<Hub>,
    health: Arc<Health>,
    shutdown: CancellationToken,
) {
    let mut batch = Batch::with_capacity(max_batch);
    loop {
        // Audit requests first: an audited read waits for the next commit, never behind a
        // backlog of queued messages.
        let first = tokio::select! {
            biased;
            Some(request) = recv_audit(&mut audit_rx) => Some(Work::Audit(request)),
            item = rx.recv() => item.map(Work::Event),
            () = shutdown.cancelled() => {
                // Refuse new work, then commit what is already queued.
                rx.close();
                if let Some(audit) = &mut audit_rx {
                    audit.close();
                }
                match audit_rx.as_mut().and_then(|a| a.try_recv().ok()) {
                    Some(request) => Some(Work::Audit(request)),
                    None => rx.recv().await.map(Work::Event),
                }
            }
        };
        let Some(first) = first else { break };
        batch.add(first);
        while batch.len() < max_batch {
            let more = audit_rx
                .as_mut()
                .and_then(|a| a.try_recv().ok())
                .map(Work::Audit)
                .or_else(|| rx.try_recv().ok().map(Work::Event));
            match more {
                Some(work) => batch.add(work),
                None => break,
            }
        }
        batch.commit(&store, &hub, &health).await;
    }
}

/// The next audit request, or never when this committer takes none.
async fn recv_audit(rx: &mut Option<mpsc::Receiver<AuditRequest>>) -> Option<AuditRequest> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// One transaction's worth of work and who waits for it.
struct Batch {
    events: Vec<NewEvent>,
    waiting: Vec<Waiting>,
    audit: Vec<NewAuditEntry>,
    /// Who waits for audit entries, and for how many of them (in `audit`'s order).
    audit_waiting: Vec<(usize, ReceiptsReply)>,
}

impl Batch {
    fn with_capacity(max_batch: usize) -> Batch {
        Batch {
            events: Vec::with_capacity(max_batch),
            waiting: Vec::with_capacity(max_batch),
            audit: Vec::new(),
            audit_waiting: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.events.len() + self.audit_waiting.len()
    }

    fn add(&mut self, work: Work) {
        match work {
            Work::Event(request) => {
                self.events.push(request.event);
                self.waiting.push(Waiting {
                    room: request.room,
                    enqueued: request.enqueued,
                    reply: request.reply,
                });
            }
            Work::Audit(request) => {
                self.audit_waiting
                    .push((request.entries.len(), request.reply));
                self.audit.extend(request.entries);
            }
        }
    }

    /// Commit, then answer everyone and publish what was stored.
    async fn commit(&mut self, store: &Store, hub: &Hub, health: &Health) {
        let started = Instant::now();
        let BatchCommit {
            events: results,
            audit: recorded,
        } = if health.database_up() {
            let failures = health.write_failures();
            let outcome = store
                .append_batch_with_audit(&self.events, &self.audit)
                .await;
            match outage(&outcome.events, outcome.audit.as_ref().err()) {
                Some(cause) => {
                    tracing::debug!(%cause, events = self.events.len(), "a batch was not committed");
                    health.commit_failed(&cause);
                }
                None => health.commit_succeeded(failures),
            }
            outcome
        } else {
            refuse_all(self.events.len(), "the database does not answer")
        };
        metrics::histogram!("workroom_commit_seconds").record(started.elapsed().as_secs_f64());
        metrics::histogram!("workroom_commit_batch_size").record(self.events.len() as f64);
        self.audit.clear();
        match recorded {
            Ok(receipts) => {
                let mut receipts = receipts.into_iter();
                for (count, reply) in self.audit_waiting.drain(..) {
                    let _ = reply.send(Ok(receipts.by_ref().take(count).collect()));
                }
            }
            Err(error) => {
                for (_, reply) in self.audit_waiting.drain(..) {
                    let _ = reply.send(Err(error.to_string()));
                }
            }
        }
        let mut committed = CommittedRanges::default();
        for (waiter, result) in self.waiting.drain(..).zip(results) {
            if let Ok(AppendOutcome::Stored(event)) = &result {
                metrics::counter!("workroom_messages_committed_total").increment(1);
                let text = Utf8Bytes::from(event_frame(&waiter.room, event).to_json());
                let purpose = event.purpose;
                hub.publish_event(&waiter.room, event.seq, text, purpose);
                if hub.outbox().is_open() {
                    committed.add(&waiter.room, event.seq);
                }
            }
            metrics::histogram!("workroom_ack_latency_seconds")
                .record(waiter.enqueued.elapsed().as_secs_f64());
            let _ = waiter.reply.send(result);
        }
        // One signal per room per batch, after the commit: the other nodes read the events.
        for (room, (first, last)) in committed.0 {
            hub.outbox().send(|| Signal::Events { room, first, last });
        }
        self.events.clear();
    }
}

/// The seqs each room got in one batch, for the bus.
#[derive(Default)]
struct CommittedRanges(HashMap<RoomId, (u64, u64)>);

impl CommittedRanges {
    fn add(&mut self, room: &RoomId, seq: u64) {
        let range = self.0.entry(room.clone()).or_insert((seq, seq));
        range.0 = range.0.min(seq);
        range.1 = range.1.max(seq);
    }
}

/// Every event refused for `cause`, and the audit entries with them: nothing was written.
fn refuse_all(events: usize, cause: &str) -> BatchCommit {
    BatchCommit {
        events: (0..events)
            .map(|_| Err(AppendError::Unavailable(cause.to_string())))
            .collect(),
        audit: Err(StorageError::Connect(cause.to_string())),
    }
}

/// The cause when the database could not take (part of) the batch at all, as opposed to
/// refusing events for what they are (a closed room, a bad attachment) or a conflict.
fn outage(
    results: &[Result<AppendOutcome, AppendError>],
    not_recorded: Option<&StorageError>,
) -> Option<String> {
    results
        .iter()
        .find_map(|result| match result {
            Err(AppendError::Unavailable(cause)) => Some(cause.clone()),
            _ => None,
        })
        .or_else(|| {
            not_recorded
                .filter(|e| e.is_outage())
                .map(ToString::to_string)
        })
}

/// A queued request whose event went into the batch: who to answer, and where to publish.
struct Waiting {
    room: RoomId,
    enqueued: Instant,
    reply: oneshot::Sender<CommitResult>,
}

#[cfg(test)]
mod tests {
    use super::committer_of;
    use crate::fnv::fnv1a;
    use workroom_protocol::RoomId;

    fn room(id: &str) -> RoomId {
        RoomId::try_from(id).expect("room id")
    }

    #[test]
    fn a_room_has_the_same_committer_in_every_process() {
        // The published FNV-1a test vectors: the hash is the algorithm's, not this build's.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
        let first = committer_of(&room("r-1"), 4);
        for _ in 0..3 {
            assert_eq!(committer_of(&room("r-1"), 4), first);
        }
        assert_eq!(committer_of(&room("r-1"), 1), 0);
        assert_eq!(
            committer_of(&room("r-1"), 0),
            0,
            "no committer count divides by zero"
        );
    }

    #[test]
    fn rooms_spread_over_the_committers() {
        let mut counts = [0usize; 4];
        for i in 0..4000 {
            counts[committer_of(&room(&format!("0195e3c1-7a4b-7cc0-9d1e-{i:012x}")), 4)] += 1;
        }
        for count in counts {
            assert!((800..1200).contains(&count), "uneven spread: {counts:?}");
        }
    }
}
