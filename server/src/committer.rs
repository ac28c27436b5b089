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
//! Invariant: a reply (ack) is sent only after the transaction committed.

use crate::events::event_frame;
use crate::hub::Hub;
use axum::extract::ws::Utf8Bytes;
use std::borrow::Cow;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use workroom_protocol::{ErrorCode, RoomId};
use workroom_storage::{AppendError, AppendOutcome, NewEvent, Store};

/// The result a sender waits for.
pub type CommitResult = Result<AppendOutcome, AppendError>;

struct CommitRequest {
    room: RoomId,
    event: NewEvent,
    enqueued: Instant,
    reply: oneshot::Sender<CommitResult>,
}

/// Handle to the committer tasks. Cheap to clone.
#[derive(Clone)]
pub struct Committers {
    queues: Arc<[mpsc::Sender<CommitRequest>]>,
    hasher: std::collections::hash_map::RandomState,
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
        tracker: &TaskTracker,
        shutdown: CancellationToken,
    ) -> std::io::Result<Committers> {
        let mut queues = Vec::with_capacity(count);
        let mut loops = Vec::with_capacity(count);
        for _ in 0..count {
            let (tx, rx) = mpsc::channel(max_batch * 4);
            queues.push(tx);
            loops.push(run_committer(
                rx,
                max_batch,
                store.clone(),
                hub.clone(),
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
            queues: queues.into(),
            hasher: std::collections::hash_map::RandomState::new(),
        })
    }

    /// Queue an event; waits while the committer's queue is full. The returned receiver
    /// resolves after the commit.
    pub async fn submit(
        &self,
        room: RoomId,
        event: NewEvent,
    ) -> Result<oneshot::Receiver<CommitResult>, ShuttingDown> {
        let index = (self.hasher.hash_one(&room) as usize) % self.queues.len();
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
}

async fn run_committer(
    mut rx: mpsc::Receiver<CommitRequest>,
    max_batch: usize,
    store: Store,
    hub: Arc<Hub>,
    shutdown: CancellationToken,
) {
    let mut events: Vec<NewEvent> = Vec::with_capacity(max_batch);
    let mut waiting: Vec<Waiting> = Vec::with_capacity(max_batch);
    loop {
        let first = tokio::select! {
            biased;
            item = rx.recv() => item,
            () = shutdown.cancelled() => {
                // Refuse new work, then commit what is already queued.
                rx.close();
                rx.recv().await
            }
        };
        let Some(first) = first else { break };
        let mut next = Some(first);
        while let Some(request) = next.take() {
            events.push(request.event);
            waiting.push(Waiting {
                room: request.room,
                enqueued: request.enqueued,
                reply: request.reply,
            });
            if events.len() < max_batch {
                next = rx.try_recv().ok();
            }
        }
        let started = Instant::now();
        let results = store.append_batch(&events).await;
        metrics::histogram!("workroom_commit_seconds").record(started.elapsed().as_secs_f64());
        metrics::histogram!("workroom_commit_batch_size").record(events.len() as f64);
        for (waiter, result) in waiting.drain(..).zip(results) {
            if let Ok(AppendOutcome::Stored(event)) = &result {
                metrics::counter!("workroom_messages_committed_total").increment(1);
                let text = Utf8Bytes::from(event_frame(&waiter.room, event).to_json());
                hub.publish_event(&waiter.room, event.seq, text);
            }
            metrics::histogram!("workroom_ack_latency_seconds")
                .record(waiter.enqueued.elapsed().as_secs_f64());
            let _ = waiter.reply.send(result);
        }
        events.clear();
    }
}

/// A queued request whose event went into the batch: who to answer, and where to publish.
struct Waiting {
    room: RoomId,
    enqueued: Instant,
    reply: oneshot::Sender<CommitResult>,
}

/// The wire answer to a refused append: one table for every path that commits events.
pub fn append_error_reply(error: &AppendError) -> (ErrorCode, Cow<'static, str>) {
    match error {
        AppendError::BadAttachment(reason) => {
            (ErrorCode::Invalid, format!("attachment {reason}").into())
        }
        AppendError::RoomNotFound => (ErrorCode::NotFound, "no such room".into()),
        AppendError::RoomClosed => (
            ErrorCode::Conflict,
            "the contract ended; this workroom is read-only".into(),
        ),
        AppendError::RoomErased => (
            ErrorCode::Conflict,
            "this workroom's content was erased".into(),
        ),
        AppendError::TargetNotFound => (ErrorCode::NotFound, "no message with that seq".into()),
        AppendError::NotAuthor => (
            ErrorCode::Forbidden,
            "only the author may change a message".into(),
        ),
        AppendError::TargetDeleted => (ErrorCode::Conflict, "the message was deleted".into()),
        AppendError::Storage(cause) => {
            tracing::error!(%cause, "commit failed");
            (
                ErrorCode::Unavailable,
                "storage is unavailable; retry with the same client_msg_id".into(),
            )
        }
    }
}
