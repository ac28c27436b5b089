//! The drivers of the load: each is one kind of client, running until the load stops,
//! writing what it was promised into the [`Ledger`](crate::ledger::Ledger) and what it saw
//! into [`Seen`](crate::load::Seen).

use crate::ledger::{AckedFile, SendEnd};
use crate::load::{Ctx, What};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
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

pub(crate) fn short_ws_error(error: &WsError) -> String {
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
pub(crate) async fn sender(
    ctx: Ctx,
    room: String,
    prefix: String,
    every: Duration,
    body_bytes: usize,
) {
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

/// What a listener has received of one room (here and in the cluster cases).
#[derive(Default)]
pub(crate) struct Track {
    /// Every seq received, over all connections.
    pub(crate) all: std::collections::BTreeSet<u64>,
    /// Seqs received on the current connection.
    pub(crate) this_connection: std::collections::HashSet<u64>,
    /// Where the current connection resumed from.
    pub(crate) resumed_from: u64,
}

impl Track {
    /// The last seq up to which every seq was received.
    pub(crate) fn contiguous(&self) -> u64 {
        let mut n = 0;
        while self.all.contains(&(n + 1)) {
            n += 1;
        }
        n
    }

    /// A new connection: nothing received on it yet, and it resumes from `contiguous`,
    /// which it returns.
    pub(crate) fn new_connection(&mut self) -> u64 {
        self.this_connection.clear();
        self.resumed_from = self.contiguous();
        self.resumed_from
    }
}

/// On a new connection, resume every room of `tracks` from where it is complete. False
/// if the resume could not be sent.
pub(crate) async fn resume_all(
    conn: &mut Connection,
    tracks: &mut BTreeMap<String, Track>,
) -> bool {
    let rooms: BTreeMap<RoomId, u64> = tracks
        .iter_mut()
        .map(|(room, track)| {
            (
                RoomId::try_from(room.as_str()).expect("room id"),
                track.new_connection(),
            )
        })
        .collect();
    conn.send(&ClientFrame::Resume {
        id: Some("listen".into()),
        rooms,
    })
    .await
    .is_ok()
}

/// Record every delivery of `rooms` as u2, checking the delivery promise (C3): on one
/// connection no seq twice; once `resumed` came, no gap and live events in order. After a
/// reconnect it resumes from the last seq up to which it has everything.
pub(crate) async fn listener(ctx: Ctx, rooms: Vec<String>) {
    let mut tracks: BTreeMap<String, Track> = rooms
        .iter()
        .map(|r| (r.clone(), Track::default()))
        .collect();
    'connection: while let Some(mut conn) = ctx.connect("u2").await {
        let mut resumed = false;
        if !resume_all(&mut conn, &mut tracks).await {
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
pub(crate) async fn uploader(
    ctx: Ctx,
    room: String,
    prefix: &'static str,
    every: Duration,
    size: usize,
) {
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
        if !matches!(what, What::UploadStored) {
            ctx.ledger.upload_refused();
        }
        ctx.seen.note(started, what);
        if !ctx.pause(every).await {
            break;
        }
    }
}

/// Accept a new bid (a new workroom) every `every`.
pub(crate) async fn opener(ctx: Ctx, every: Duration) {
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
pub(crate) async fn connector(ctx: Ctx, every: Duration) {
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
pub(crate) async fn downloader(ctx: Ctx, every: Duration) {
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
pub(crate) async fn readiness(ctx: Ctx) {
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
