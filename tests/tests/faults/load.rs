//! The load a scenario keeps up while a fault happens, and what its clients saw.
//!
//! The drivers (`drivers.rs`): senders (one member connection each, sends answered one
//! after another, each written down in the [`Ledger`]), a listener (records every delivery
//! and resumes after a reconnect), uploaders, a bid opener, a connector, a downloader, and
//! a readiness poller (`/readyz` every 100 ms, each answer due within a second). Every
//! outcome is also an [`Observation`] with its time and latency, so a scenario can say what
//! clients saw in any window (before, during, after the fault) and assert on it.

use crate::drivers;
use crate::ledger::Ledger;
use crate::node::Endpoint;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use workroom_client::{Connection, WsError};
use workroom_protocol::ServerFrame;

/// What one client saw.
#[derive(Debug, Clone)]
pub(crate) enum What {
    SendAcked,
    SendRefused(String),
    SendLost(String),
    /// A connection the server closed or lost (not one the client closed).
    Disconnected(String),
    /// A new WebSocket connection that was not established.
    ConnectRefused(String),
    /// A new WebSocket connection that got its `hello`.
    Connected,
    UploadStored,
    /// An error answer with a SPEC body (status, code).
    UploadRefused(u16, String),
    /// No answer at all: a transport error or a body that is not a SPEC error.
    UploadBroken(String),
    /// `/readyz`'s status and what it said of the object store.
    Ready(u16, String),
    /// `/readyz` did not answer within a second.
    ReadySilent(String),
    BidAcked,
    BidRefused(String),
    /// A download that arrived whole and matched its hash.
    DownloadWhole,
    /// A download refused with this status.
    DownloadRefused(u16),
    /// A download that broke off, or came back with other bytes.
    DownloadBroken(String),
}

#[derive(Debug, Clone)]
pub(crate) struct Observation {
    pub(crate) at: Instant,
    pub(crate) latency: Duration,
    pub(crate) what: What,
}

/// Everything the clients saw, in order.
#[derive(Default)]
pub(crate) struct Seen {
    all: Mutex<Vec<Observation>>,
}

impl Seen {
    pub(crate) fn note(&self, started: Instant, what: What) {
        let observation = Observation {
            at: Instant::now(),
            latency: started.elapsed(),
            what,
        };
        self.all
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(observation);
    }

    /// Observations made in `[from, to)`.
    pub(crate) fn between(&self, from: Instant, to: Instant) -> Vec<Observation> {
        self.all
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|o| o.at >= from && o.at < to)
            .cloned()
            .collect()
    }

    /// The first observation at or after `from` that `matches`.
    pub(crate) fn first_after(
        &self,
        from: Instant,
        matches: impl Fn(&What) -> bool,
    ) -> Option<Observation> {
        self.all
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|o| o.at >= from && matches(&o.what))
            .cloned()
    }
}

/// A summary of observations, one line per kind: how many and the slowest answer.
pub(crate) fn describe(observations: &[Observation]) -> String {
    let mut kinds: BTreeMap<String, (usize, Duration)> = BTreeMap::new();
    for o in observations {
        let kind = match &o.what {
            What::SendAcked => "send: ack".to_string(),
            What::SendRefused(code) => format!("send: error `{code}`"),
            What::SendLost(why) => format!("send: no reply ({why})"),
            What::Disconnected(why) => format!("connection closed by the server ({why})"),
            What::ConnectRefused(why) => format!("new connection refused ({why})"),
            What::Connected => "new connection: hello".to_string(),
            What::UploadStored => "upload: 201".to_string(),
            What::UploadRefused(status, code) => format!("upload: {status} `{code}`"),
            What::UploadBroken(why) => format!("upload: no answer ({why})"),
            What::Ready(status, store) => format!("/readyz: {status}, object store {store}"),
            What::ReadySilent(_) => "/readyz: no answer within 1 s".to_string(),
            What::BidAcked => "bid accept: 200/201".to_string(),
            What::BidRefused(why) => {
                format!("bid accept: {}", why.split([' ', ':']).next().unwrap_or(""))
            }
            What::DownloadWhole => "download: 200, whole".to_string(),
            What::DownloadRefused(status) => format!("download: {status}"),
            What::DownloadBroken(why) => format!("download: broken off ({why})"),
        };
        let entry = kinds.entry(kind).or_default();
        entry.0 += 1;
        entry.1 = entry.1.max(o.latency);
    }
    kinds
        .iter()
        .map(|(kind, (count, slowest))| {
            format!("    {kind}: {count} (slowest {} ms)", slowest.as_millis())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The running drivers. Dropping it stops nothing: call [`Load::stop`].
pub(crate) struct Load {
    pub(crate) seen: Arc<Seen>,
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// Rooms the senders write into, round robin; u1 sends, u2 listens.
    pub(crate) rooms: Vec<String>,
    pub(crate) senders: usize,
    pub(crate) send_every: Duration,
    pub(crate) body_bytes: usize,
    /// Upload every so often (and the size), or never.
    pub(crate) uploads: Option<(Duration, usize)>,
    /// A second uploader of larger files (several S3 parts), or none.
    pub(crate) large_uploads: Option<(Duration, usize)>,
    /// Open a workroom (accept a new bid) every so often, or never.
    pub(crate) bids: Option<Duration>,
    /// Open (and close) a new WebSocket connection every so often, or never.
    pub(crate) connects: Option<Duration>,
    /// Download the first acknowledged file every so often, or never.
    pub(crate) downloads: Option<Duration>,
}

impl Load {
    pub(crate) fn start(endpoint: &Endpoint, ledger: &Arc<Ledger>, plan: &Plan) -> Load {
        let seen = Arc::new(Seen::default());
        let stop = CancellationToken::new();
        let mut tasks = Vec::new();
        let ctx = Ctx {
            endpoint: endpoint.clone(),
            ledger: ledger.clone(),
            seen: seen.clone(),
            stop: stop.clone(),
        };
        for i in 0..plan.senders {
            let room = plan.rooms[i % plan.rooms.len()].clone();
            tasks.push(tokio::spawn(drivers::sender(
                ctx.clone(),
                room,
                format!("s{i}"),
                plan.send_every,
                plan.body_bytes,
            )));
        }
        tasks.push(tokio::spawn(drivers::listener(
            ctx.clone(),
            plan.rooms.clone(),
        )));
        for (prefix, uploads) in [("f", plan.uploads), ("F", plan.large_uploads)] {
            if let Some((every, size)) = uploads {
                let room = plan.rooms[0].clone();
                tasks.push(tokio::spawn(drivers::uploader(
                    ctx.clone(),
                    room,
                    prefix,
                    every,
                    size,
                )));
            }
        }
        if let Some(every) = plan.bids {
            tasks.push(tokio::spawn(drivers::opener(ctx.clone(), every)));
        }
        if let Some(every) = plan.connects {
            tasks.push(tokio::spawn(drivers::connector(ctx.clone(), every)));
        }
        if let Some(every) = plan.downloads {
            tasks.push(tokio::spawn(drivers::downloader(ctx.clone(), every)));
        }
        tasks.push(tokio::spawn(drivers::readiness(ctx)));
        Load { seen, stop, tasks }
    }

    /// Stop every driver and wait for them (each finishes what it is waiting for).
    pub(crate) async fn stop(self) -> Arc<Seen> {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        self.seen
    }
}

/// What every driver holds.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub(crate) endpoint: Endpoint,
    pub(crate) ledger: Arc<Ledger>,
    pub(crate) seen: Arc<Seen>,
    pub(crate) stop: CancellationToken,
}

impl Ctx {
    /// Sleep `d`, or return `false` when the load is stopping.
    pub(crate) async fn pause(&self, d: Duration) -> bool {
        tokio::select! {
            () = self.stop.cancelled() => false,
            () = tokio::time::sleep(d) => true,
        }
    }

    /// A member connection, past its `hello`, or `None` when stopping.
    pub(crate) async fn connect(&self, user: &str) -> Option<Connection> {
        loop {
            if self.stop.is_cancelled() {
                return None;
            }
            let started = Instant::now();
            let attempt = async {
                let mut conn = Connection::connect(&self.endpoint.ws(user)).await?;
                match conn.next(Duration::from_secs(20)).await? {
                    ServerFrame::Hello { .. } => Ok(conn),
                    other => Err(WsError::Decode {
                        text: format!("{other:?}"),
                        error: "expected hello".into(),
                    }),
                }
            };
            match attempt.await {
                Ok(conn) => return Some(conn),
                Err(e) => {
                    self.seen
                        .note(started, What::ConnectRefused(drivers::short_ws_error(&e)));
                    if !self.pause(Duration::from_millis(200)).await {
                        return None;
                    }
                }
            }
        }
    }
}
