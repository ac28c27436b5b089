//! The load a scenario keeps up while a fault happens, and what its clients saw.
//!
//! Drivers: senders (one member connection each, sends answered one after another, each
//! written down in the [`Ledger`]), a listener (a member connection that records every live
//! delivery and resumes from its last seq after a reconnect), an uploader, a bid opener,
//! and a readiness poller (`/readyz` every 100 ms, each answer due within a second). Every
//! outcome is also an [`Observation`] with its time and latency, so a scenario can say what
//! clients saw in any window (before, during, after the fault) and assert on it.

use crate::ledger::{AckedFile, Ledger, SendEnd};
use crate::node::Endpoint;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use workroom_client::{Connection, WsError};
use workroom_protocol::{ClientFrame, ClientMsgId, Role, RoomId, ServerFrame};
use workroom_tests::sha256_hex;

/// How long a sender waits for the reply to one send before it counts it lost.
const REPLY_WAIT: Duration = Duration::from_secs(20);

/// The body sent under `cmid`: recognisable and `size` bytes long.
fn body_for(cmid: &str, size: usize) -> String {
    let mut body = format!("{cmid}:");
    while body.len() < size {
        body.push_str("all work and no play ");
    }
    body.truncate(size.max(cmid.len() + 1));
    body
}

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
    fn note(&self, started: Instant, what: What) {
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
            tasks.push(tokio::spawn(sender(
                ctx.clone(),
                room,
                format!("s{i}"),
                plan.send_every,
                plan.body_bytes,
            )));
        }
        tasks.push(tokio::spawn(listener(ctx.clone(), plan.rooms.clone())));
        for (prefix, uploads) in [("f", plan.uploads), ("F", plan.large_uploads)] {
            if let Some((every, size)) = uploads {
                let room = plan.rooms[0].clone();
                tasks.push(tokio::spawn(uploader(
                    ctx.clone(),
                    room,
                    prefix,
                    every,
                    size,
                )));
            }
        }
        if let Some(every) = plan.bids {
            tasks.push(tokio::spawn(opener(ctx.clone(), every)));
        }
        if let Some(every) = plan.connects {
            tasks.push(tokio::spawn(connector(ctx.clone(), every)));
        }
        if let Some(every) = plan.downloads {
            tasks.push(tokio::spawn(downloader(ctx.clone(), every)));
        }
        tasks.push(tokio::spawn(readiness(ctx)));
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

#[derive(Clone)]
struct Ctx {
    endpoint: Endpoint,
    ledger: Arc<Ledger>,
    seen: Arc<Seen>,
    stop: CancellationToken,
}

impl Ctx {
    /// Sleep `d`, or return `false` when the load is stopping.
    async fn pause(&self, d: Duration) -> bool {
        tokio::select! {
            () = self.stop.cancelled() => false,
            () = tokio::time::sleep(d) => true,
        }
    }

    /// A member connection, past its `hello`, or `None` when stopping.
    async fn connect(&self, user: &str) -> Option<Connection> {
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
                        .note(started, What::ConnectRefused(short_ws_error(&e)));
                    if !self.pause(Duration::from_millis(200)).await {
                        return None;
                    }
                }
            }
        }
    }
}

fn short_ws_error(error: &WsError) -> String {
    match error {
        WsError::Closed(Some((code, _))) => format!("close {code}"),
        WsError::Closed(None) => "closed".into(),
        WsError::Timeout => "timeout".into(),
        WsError::Ws(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            format!("HTTP {}", response.status().as_u16())
        }
        WsError::Ws(e) => {
            let text = e.to_string();
            text.split(':').next().unwrap_or("").to_string()
        }
        WsError::Decode { .. } => "bad frame".into(),
    }
}

/// Send `prefix-1`, `prefix-2`, … into `room`, one at a time, every `every`.
async fn sender(ctx: Ctx, room: String, prefix: String, every: Duration, body_bytes: usize) {
    let room_id = RoomId::try_from(room.as_str()).expect("room id");
    let mut conn = None;
    let mut n = 0u64;
    while !ctx.stop.is_cancelled() {
        if conn.is_none() {
            conn = ctx.connect("u1").await;
        }
        let Some(c) = conn.as_mut() else { break };
        n += 1;
        let cmid = format!("{prefix}-{n}");
        let body = body_for(&cmid, body_bytes);
        let id = format!("r{n}");
        let started = Instant::now();
        let frame = ClientFrame::Send {
            id: Some(id.clone()),
            room: room_id.clone(),
            client_msg_id: ClientMsgId::try_from(cmid.clone()).expect("cmid"),
            body: body.clone(),
            attachments: Vec::new(),
        };
        let end = match c.send(&frame).await {
            Err(e) => Err(short_ws_error(&e)),
            Ok(()) => loop {
                match c.next(REPLY_WAIT).await {
                    Ok(ServerFrame::Ack {
                        id: Some(got),
                        seq,
                        msg_id,
                        ..
                    }) if got == id => break Ok(SendEnd::Acked { seq, msg_id }),
                    Ok(ServerFrame::Error {
                        id: Some(got),
                        code,
                        ..
                    }) if got == id => break Ok(SendEnd::Refused(code.as_str().to_string())),
                    Ok(_) => continue,
                    Err(e) => break Err(short_ws_error(&e)),
                }
            },
        };
        let refused = matches!(end, Ok(SendEnd::Refused(_)));
        match end {
            Ok(end) => {
                ctx.seen.note(
                    started,
                    match &end {
                        SendEnd::Acked { .. } => What::SendAcked,
                        SendEnd::Refused(code) => What::SendRefused(code.clone()),
                        SendEnd::Lost => What::SendLost(String::new()),
                    },
                );
                ctx.ledger.send_ended(&cmid, &room, &body, end);
            }
            Err(why) => {
                ctx.seen.note(started, What::SendLost(why.clone()));
                ctx.seen.note(started, What::Disconnected(why));
                ctx.ledger.send_ended(&cmid, &room, &body, SendEnd::Lost);
                conn = None;
            }
        }
        // Like a client should: back off a little after `unavailable`, then go on.
        let wait = if refused {
            every.max(Duration::from_millis(50))
        } else {
            every
        };
        if !ctx.pause(wait).await {
            break;
        }
    }
}

/// Record every delivery of `rooms` as u2, checking the delivery promise (C3): on one
/// connection no seq twice; once `resumed` came, no gap and live events in order. After a
/// reconnect it resumes from the last seq up to which it has everything.
async fn listener(ctx: Ctx, rooms: Vec<String>) {
    #[derive(Default)]
    struct Track {
        /// Every seq received, over all connections.
        all: std::collections::BTreeSet<u64>,
        /// Seqs received on the current connection.
        this_connection: std::collections::HashSet<u64>,
    }
    impl Track {
        /// The last seq up to which every seq was received.
        fn contiguous(&self) -> u64 {
            let mut n = 0;
            while self.all.contains(&(n + 1)) {
                n += 1;
            }
            n
        }
    }
    let mut tracks: BTreeMap<String, Track> = rooms
        .iter()
        .map(|r| (r.clone(), Track::default()))
        .collect();
    'connection: while let Some(mut conn) = ctx.connect("u2").await {
        let mut resumed = false;
        let resume: BTreeMap<RoomId, u64> = tracks
            .iter_mut()
            .map(|(room, track)| {
                track.this_connection.clear();
                let from = track.contiguous();
                (RoomId::try_from(room.as_str()).expect("room id"), from)
            })
            .collect();
        if conn
            .send(&ClientFrame::Resume {
                id: Some("listen".into()),
                rooms: resume,
            })
            .await
            .is_err()
        {
            continue;
        }
        loop {
            let next = tokio::select! {
                () = ctx.stop.cancelled() => break 'connection,
                next = conn.next(Duration::from_secs(60)) => next,
            };
            match next {
                Ok(ServerFrame::Message(m)) => {
                    let room = m.room.to_string();
                    if let Some(track) = tracks.get_mut(&room) {
                        if !track.this_connection.insert(m.seq) {
                            ctx.ledger.violation(format!(
                                "{room}: seq {} delivered twice on one connection",
                                m.seq
                            ));
                        }
                        let newest = track.all.last().copied().unwrap_or(0);
                        if resumed && m.seq != newest + 1 && !track.all.contains(&m.seq) {
                            ctx.ledger.violation(format!(
                                "{room}: live seq {} after seq {newest}",
                                m.seq
                            ));
                        }
                        track.all.insert(m.seq);
                    }
                    ctx.ledger
                        .delivered(&room, m.seq, &m.msg_id, m.client_msg_id.as_deref());
                }
                Ok(ServerFrame::Resumed { .. }) => {
                    resumed = true;
                    for (room, track) in &tracks {
                        let newest = track.all.last().copied().unwrap_or(0);
                        if track.contiguous() != newest {
                            ctx.ledger.violation(format!(
                                "{room}: after resumed seqs up to {newest} are not all there \
                                 (complete up to {})",
                                track.contiguous()
                            ));
                        }
                    }
                }
                Ok(_) => {}
                Err(WsError::Timeout) => {}
                Err(e) => {
                    ctx.seen
                        .note(Instant::now(), What::Disconnected(short_ws_error(&e)));
                    continue 'connection;
                }
            }
        }
    }
}

/// Upload a `size`-byte file into `room` as u1 every `every`.
async fn uploader(ctx: Ctx, room: String, prefix: &'static str, every: Duration, size: usize) {
    let token = ctx.endpoint.token("u1", Role::Member);
    let mut n = 0u64;
    loop {
        n += 1;
        let seed = n + if prefix == "F" { 1 << 32 } else { 0 };
        let bytes = workroom_tests::bench_target::incompressible_from(seed, size);
        let sha256 = sha256_hex(&bytes);
        let started = Instant::now();
        let request = ctx
            .endpoint
            .http
            .post(
                &format!("/v1/rooms/{room}/files?name={prefix}{n}.bin"),
                &token,
            )
            .body(bytes)
            .send();
        let what = match tokio::time::timeout(Duration::from_secs(120), request).await {
            Err(_) => What::UploadBroken("no answer within 120 s".into()),
            Ok(Err(e)) if e.is_connect() => What::UploadBroken("connection refused".into()),
            Ok(Err(_)) => What::UploadBroken("transport error".into()),
            Ok(Ok(response)) => {
                let status = response.status().as_u16();
                match response.json::<serde_json::Value>().await {
                    Ok(body) if status == 201 => {
                        ctx.ledger.file_acked(AckedFile {
                            room: room.clone(),
                            id: body["id"].as_str().unwrap_or_default().to_string(),
                            sha256,
                        });
                        What::UploadStored
                    }
                    Ok(body) if body["code"].is_string() => What::UploadRefused(
                        status,
                        body["code"].as_str().unwrap_or_default().to_string(),
                    ),
                    Ok(body) => What::UploadBroken(format!("{status} without a SPEC body: {body}")),
                    Err(e) => What::UploadBroken(format!("{status}, body unreadable: {e}")),
                }
            }
        };
        ctx.seen.note(started, what);
        if !ctx.pause(every).await {
            break;
        }
    }
}

/// Accept a new bid (a new workroom) every `every`.
async fn opener(ctx: Ctx, every: Duration) {
    let mut n = 0u64;
    loop {
        n += 1;
        let bid = format!("load-bid-{n}");
        let started = Instant::now();
        match ctx.endpoint.accept_bid(&bid).await {
            Ok(room) => {
                ctx.ledger.bid_ended(&bid, Some(room));
                ctx.seen.note(started, What::BidAcked);
            }
            Err(why) => {
                ctx.ledger.bid_ended(&bid, None);
                ctx.seen.note(started, What::BidRefused(why));
            }
        }
        if !ctx.pause(every).await {
            break;
        }
    }
}

/// A new connection as u1 every `every`, closed once it said hello: what a client that
/// (re)connects during the fault sees.
async fn connector(ctx: Ctx, every: Duration) {
    loop {
        let started = Instant::now();
        let attempt = async {
            let mut conn = Connection::connect(&ctx.endpoint.ws("u1")).await?;
            let hello = conn.next(Duration::from_secs(20)).await;
            conn.close().await;
            hello
        };
        let what = match attempt.await {
            Ok(ServerFrame::Hello { .. }) => What::Connected,
            Ok(other) => What::ConnectRefused(format!("{other:?}")),
            Err(e) => What::ConnectRefused(short_ws_error(&e)),
        };
        ctx.seen.note(started, what);
        if !ctx.pause(every).await {
            break;
        }
    }
}

/// Download the first acknowledged file as u1 every `every`.
async fn downloader(ctx: Ctx, every: Duration) {
    let token = ctx.endpoint.token("u1", Role::Member);
    loop {
        if let Some(file) = ctx.ledger.files().first().cloned() {
            let started = Instant::now();
            let path = format!("/v1/rooms/{}/files/{}/content", file.room, file.id);
            let fetch = async {
                let response = ctx.endpoint.http.get(&path, &token).send().await?;
                let status = response.status().as_u16();
                let body = response.bytes().await?;
                Ok::<_, reqwest::Error>((status, body))
            };
            let what = match tokio::time::timeout(Duration::from_secs(120), fetch).await {
                Err(_) => What::DownloadBroken("no end within 120 s".into()),
                Ok(Err(_)) => What::DownloadBroken("transport error".into()),
                Ok(Ok((200, body))) if sha256_hex(&body) == file.sha256 => What::DownloadWhole,
                Ok(Ok((200, _))) => What::DownloadBroken("other bytes".into()),
                Ok(Ok((status, _))) => What::DownloadRefused(status),
            };
            ctx.seen.note(started, what);
        }
        if !ctx.pause(every).await {
            break;
        }
    }
}

/// `/readyz` every 100 ms.
async fn readiness(ctx: Ctx) {
    loop {
        let started = Instant::now();
        let what = match ctx.endpoint.readyz().await {
            Ok((status, body)) => What::Ready(
                status,
                body["object_store"].as_str().unwrap_or("?").to_string(),
            ),
            Err(why) => What::ReadySilent(why),
        };
        ctx.seen.note(started, what);
        if !ctx.pause(Duration::from_millis(100)).await {
            break;
        }
    }
}
