//! Many nodes (C15): three servers in this process on one PostgreSQL database, one S3
//! bucket (with `WORKROOM_TEST_FILES=s3`) and a real NATS server between them, with
//! clients spread over the nodes. C3 holds across nodes (one order, no gap, no duplicate,
//! resume on another node, a send retried on another node stored once); typing, read
//! markers, presence, contact release, screenshots and membership changes reach members on
//! other nodes live; a grant revoked on one node ends a live view on another within a
//! second; checkpoints signed by every node verify; and with NATS stopped, messages still
//! cross nodes (each node polls the database) and live delivery comes back with NATS.
//!
//! They need PostgreSQL and `nats-server`, so they are ignored in the plain `cargo test`
//! run; `.ci/run` runs them in its multi-node stage with `--include-ignored`, where a
//! missing service fails them. Run them by hand with
//! `WORKROOM_TEST_BACKEND=postgres WORKROOM_TEST_POSTGRES_URL=… cargo test -p workroom-tests
//! --test e2e cluster -- --include-ignored` (without CI set, a missing service skips them).

use crate::cli::{ok, workroom};
use crate::moderation::{call, moderator, open_grant, watcher};
use reqwest::StatusCode;
use serde_json::json;
use std::collections::HashSet;
use std::time::{Duration, Instant};
use workroom_protocol::{ErrorCode, Role, ServerFrame};
use workroom_tests::cluster::{Cluster, readyz};
use workroom_tests::{TestClient, WAIT, event_seq};

/// The cluster of a test, or return (skipped, reason printed) when a service is missing
/// outside CI.
macro_rules! cluster {
    ($start:expr) => {
        match $start.await {
            Some(cluster) => cluster,
            None => return,
        }
    };
}

/// The (seq, msg_id) of every timeline frame in `frames` of `room`.
fn seqs_and_ids(frames: &[ServerFrame], room: &str) -> Vec<(u64, String)> {
    frames
        .iter()
        .filter_map(|f| match f {
            ServerFrame::Message(m) if m.room.as_str() == room => Some((m.seq, m.msg_id.clone())),
            _ => None,
        })
        .collect()
}

fn ack_of(frame: &ServerFrame) -> (u64, String, String) {
    match frame {
        ServerFrame::Ack {
            seq, msg_id, ts, ..
        } => (*seq, msg_id.clone(), ts.clone()),
        other => panic!("expected an ack, got {other:?}"),
    }
}

/// Resume `room` from `after` and return the seqs replayed before `resumed` (other frames
/// are passed over).
async fn resume(client: &mut TestClient, room: &str, after: u64) -> Vec<u64> {
    let before = client.resume(room, after).await;
    before
        .iter()
        .filter_map(|frame| event_seq(frame, room))
        .collect()
}

/// Nothing of `room` (no timeline event) reaches `client` within `quiet`.
async fn no_event_of(client: &mut TestClient, room: &str, quiet: Duration) {
    let deadline = tokio::time::Instant::now() + quiet;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return;
        }
        match client.conn.next(left).await {
            Err(workroom_client::WsError::Timeout) => return,
            Ok(frame) => assert!(
                event_seq(&frame, room).is_none(),
                "nothing of {room} may arrive, got {frame:?}"
            ),
            Err(e) => panic!("connection lost: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "multi-node: needs PostgreSQL and nats-server; run by .ci/run"]
async fn cluster_senders_and_receivers_on_three_nodes_see_one_order_without_gap_or_duplicate() {
    let cluster = cluster!(Cluster::start(3));
    let room = cluster.open_room("b1", "p1", "u1", "u2").await;
    cluster[1]
        .put_account_member("acct-u1", "t1", "member")
        .await;
    cluster[2]
        .put_account_member("acct-u2", "t2", "member")
        .await;
    // Receivers: one on each node, connected before anything is sent: all of it must
    // arrive live (no reconnect, no resume).
    let mut receivers = [
        cluster.client(0, "u2").await,
        cluster.client(1, "u1").await,
        cluster.client(2, "t2").await,
    ];
    const PER_SENDER: usize = 30;
    let senders = [
        (0, "u1"),
        (1, "u2"),
        (2, "t1"),
        (0, "t2"),
        (1, "t1"),
        (2, "u1"),
    ];
    let mut tasks = Vec::new();
    for (i, (node, user)) in senders.into_iter().enumerate() {
        let mut c = cluster.client(node, user).await;
        let room = room.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for n in 0..PER_SENDER {
                let ack = c
                    .send(&room, &format!("s{i}-{n}"), &format!("{user}@{node} #{n}"))
                    .await;
                seqs.push(ack_of(&ack).0);
            }
            seqs
        }));
    }
    let mut acked = Vec::new();
    for task in tasks {
        acked.extend(task.await.unwrap());
    }
    let total = PER_SENDER * senders.len();
    acked.sort_unstable();
    assert_eq!(
        acked,
        (1..=total as u64).collect::<Vec<_>>(),
        "acks: no gap, no repeat across nodes"
    );
    let mut orders = Vec::new();
    for (node, receiver) in receivers.iter_mut().enumerate() {
        let events = receiver.collect_events(&room, total).await;
        let got = seqs_and_ids(&events, &room);
        assert_eq!(
            got.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            (1..=total as u64).collect::<Vec<_>>(),
            "receiver on node {node}: every seq live, once, in order"
        );
        assert_eq!(
            got.iter().map(|(_, id)| id).collect::<HashSet<_>>().len(),
            total
        );
        orders.push(got);
        no_event_of(receiver, &room, Duration::from_millis(300)).await;
    }
    assert_eq!(orders[0], orders[1], "nodes 0 and 1 delivered one order");
    assert_eq!(orders[0], orders[2], "nodes 0 and 2 delivered one order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "multi-node: needs PostgreSQL and nats-server; run by .ci/run"]
async fn cluster_a_client_resumes_on_another_node_with_exactly_what_it_missed() {
    let cluster = cluster!(Cluster::start(3));
    let room = cluster.open_room("b1", "p1", "u1", "u2").await;
    let mut u1 = cluster.client(0, "u1").await;
    let mut u2 = cluster.client(1, "u2").await;
    for i in 1..=3 {
        u1.send(&room, &format!("a{i}"), "before").await;
    }
    let seen = u2.collect_events(&room, 3).await;
    assert_eq!(event_seq(&seen[2], &room), Some(3));
    u2.conn.close().await;

    for i in 1..=7 {
        u1.send(&room, &format!("b{i}"), &format!("missed {i}"))
            .await;
    }
    u1.request(json!({"type": "edit", "room": room, "seq": 5, "body": "edited while away"}))
        .await;

    // Back, on another node than before and than the sender's.
    let mut back = cluster.client(2, "u2").await;
    assert_eq!(back.room(&room).unwrap().last_seq, 11);
    assert_eq!(
        resume(&mut back, &room, 3).await,
        (4..=11).collect::<Vec<_>>()
    );
    // Live traffic from the other nodes continues, once.
    u1.send(&room, "c1", "live").await;
    let next = back.collect_events(&room, 1).await;
    assert_eq!(event_seq(&next[0], &room), Some(12));
    let mut on_node1 = cluster.client(1, "u1").await;
    on_node1.send(&room, "c2", "from node 1").await;
    let next = back.collect_events(&room, 1).await;
    assert_eq!(event_seq(&next[0], &room), Some(13));
    no_event_of(&mut back, &room, Duration::from_millis(300)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "multi-node: needs PostgreSQL and nats-server; run by .ci/run"]
async fn cluster_a_send_retried_on_another_node_returns_the_original_ack_and_is_stored_once() {
    let cluster = cluster!(Cluster::start(3));
    let room = cluster.open_room("b1", "p1", "u1", "u2").await;
    let mut receiver = cluster.client(2, "u2").await;
    let mut on_a = cluster.client(0, "u1").await;
    let mut on_b = cluster.client(1, "u1").await;
    let first = ack_of(&on_a.send(&room, "same", "once").await);
    // The client lost the ack and retries on another node (a load balancer sent it there).
    let again = ack_of(&on_b.send(&room, "same", "once").await);
    assert_eq!(first, again, "the original ack: seq, msg_id and ts");
    assert_eq!(first.0, 1);
    let next = ack_of(&on_b.send(&room, "other", "twice").await);
    assert_eq!(next.0, 2, "the retry used no seq");
    let events = receiver.collect_events(&room, 2).await;
    assert_eq!(
        seqs_and_ids(&events, &room)
            .iter()
            .map(|(s, _)| *s)
            .collect::<Vec<_>>(),
        vec![1, 2],
        "the retry fanned nothing out"
    );

    // The same send arriving on two nodes at once is still stored once, and the loser of
    // the race (its insert hit the unique index) gets the original ack at once, several
    // rounds over so that the two commits really overlap.
    for round in 0..5 {
        let cmid = format!("raced-{round}");
        let (a, b) = tokio::join!(
            on_a.send(&room, &cmid, "at once"),
            on_b.send(&room, &cmid, "at once")
        );
        assert_eq!(ack_of(&a), ack_of(&b), "round {round}: {a:?} / {b:?}");
    }
    let events = receiver.collect_events(&room, 5).await;
    assert_eq!(
        seqs_and_ids(&events, &room)
            .iter()
            .map(|(s, _)| *s)
            .collect::<Vec<_>>(),
        vec![3, 4, 5, 6, 7],
        "each raced send stored once"
    );
    no_event_of(&mut receiver, &room, Duration::from_millis(300)).await;
    let history = receiver
        .request(json!({"type": "history", "room": room}))
        .await;
    let ServerFrame::History { messages, .. } = history else {
        panic!("{history:?}")
    };
    assert_eq!(messages.len(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "multi-node: needs PostgreSQL and nats-server; run by .ci/run"]
async fn cluster_typing_read_markers_and_presence_reach_members_on_other_nodes() {
    let cluster = cluster!(Cluster::start(3));
    let room = cluster.open_room("b1", "p1", "u1", "u2").await;
    let mut u1 = cluster.client(0, "u1").await;
    // u2 comes online on node 1: u1 on node 0 is told.
    let mut u2 = cluster.client(1, "u2").await;
    let came = u1
        .expect(|f| matches!(f, ServerFrame::Presence { .. }))
        .await;
    assert!(
        matches!(&came, ServerFrame::Presence { user, online: true, .. } if user == "u2"),
        "{came:?}"
    );
    let listed = u1.request(json!({"type": "members", "room": room})).await;
    let ServerFrame::Members { members, .. } = &listed else {
        panic!("{listed:?}")
    };
    assert_eq!(
        members
            .iter()
            .find(|m| m.user == "u2")
            .and_then(|m| m.online),
        Some(true),
        "a member online on another node is listed online: {listed:?}"
    );

    // Typing (never stored: only the bus can carry it).
    u1.conn
        .send_text(&json!({"type": "typing", "room": room}).to_string())
        .await
        .unwrap();
    let typing = u2.expect(|f| matches!(f, ServerFrame::Typing { .. })).await;
    assert!(
        matches!(&typing, ServerFrame::Typing { user, room: r } if user == "u1" && r.as_str() == room),
        "{typing:?}"
    );

    // Read markers.
    u1.send(&room, "c1", "read me").await;
    u2.collect_events(&room, 1).await;
    let read = u2
        .request(json!({"type": "read", "room": room, "seq": 1}))
        .await;
    assert!(matches!(read, ServerFrame::Read { seq: 1, .. }), "{read:?}");
    let seen = u1.expect(|f| matches!(f, ServerFrame::Read { .. })).await;
    assert!(
        matches!(&seen, ServerFrame::Read { user, seq: 1, .. } if user == "u2"),
        "{seen:?}"
    );

    // u2 goes offline on node 1: told on node 0.
    u2.conn.close().await;
    let went = u1
        .expect(|f| matches!(f, ServerFrame::Presence { .. }))
        .await;
    assert!(
        matches!(&went, ServerFrame::Presence { user, online: false, .. } if user == "u2"),
        "{went:?}"
    );
}

fn details(name: &str) -> serde_json::Value {
    json!({"name": name, "company": format!("{name} Ltd"), "phone": "+44 20 7946 0958", "address": "1 Long Lane\nLondon"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "multi-node: needs PostgreSQL and nats-server; run by .ci/run"]
async fn cluster_a_contact_release_on_one_node_is_told_to_both_sides_on_others() {
    let cluster = cluster!(Cluster::start(3));
    let room = cluster.open_room("b1", "p1", "u1", "u2").await;
    for (node, user, name) in [(0, "u1", "Clara Client"), (1, "u2", "Cole Contractor")] {
        let response = cluster[node]
            .http
            .put("/v1/me/contact", &cluster.member(user))
            .json(&details(name))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(status, StatusCode::NO_CONTENT, "node {node}: {body}");
    }
    let mut u1 = cluster.client(0, "u1").await;
    let mut u2 = cluster.client(1, "u2").await;
    // The contractor asks through node 2.
    let (status, released) = call(
        &cluster[2],
        "POST",
        &format!("/v1/rooms/{room}/contacts/release"),
        &cluster.member("u2"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{released}");
    for (node, client) in [(0, &mut u1), (1, &mut u2)] {
        let event = client
            .expect(|f| matches!(f, ServerFrame::ContactReleased { .. }))
            .await;
        assert!(
            matches!(&event, ServerFrame::ContactReleased { between, room: r } if *between == ["u2".to_string(), "u1".to_string()] && r.as_str() == room),
            "node {node}: {event:?}"
        );
    }
    // What was released reads the same on every node.
    for node in 0..3 {
        let seen = cluster[node]
            .get_json(&cluster.member("u1"), &format!("/v1/rooms/{room}/contacts"))
            .await;
        assert_eq!(seen["contacts"][0]["details"]["name"], "Cole Contractor");
    }
}

/// A small PNG-looking image (the server sniffs the signature).
fn png(seed: u8) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend((0..2000u32).map(|i| (i as u8).wrapping_mul(seed)));
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "multi-node: needs PostgreSQL and nats-server; run by .ci/run"]
async fn cluster_tracker_screenshots_and_unsharing_reach_the_client_on_another_node() {
    let cluster = cluster!(Cluster::start(3));
    let room = cluster.open_room("b1", "p1", "u1", "u2").await;
    let on = cluster[0]
        .http
        .put("/v1/me/work-view", &cluster.member("u2"))
        .json(&json!({"on": true}))
        .send()
        .await
        .unwrap();
    assert!(on.status().is_success());
    let mut u1 = cluster.client(2, "u1").await;
    // The Tracker posts through node 1 (the Work View was turned on through node 0).
    let bot = cluster[1].token("tracker-1", Role::Bot, None); // acts for u2
    let captured = (time::OffsetDateTime::now_utc() - time::Duration::seconds(60))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let response = cluster[1]
        .http
        .post(
            &format!("/v1/tracker/screenshots?room={room}&captured_at={captured}&activity=40"),
            &bot,
        )
        .body(png(9))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let shot: serde_json::Value = response.json().await.unwrap();
    let id = shot["id"].as_str().unwrap().to_string();
    let live = u1
        .expect(|f| matches!(f, ServerFrame::Screenshot { .. }))
        .await;
    assert!(
        matches!(&live, ServerFrame::Screenshot { screenshot, .. } if screenshot.id == id),
        "{live:?}"
    );
    let content = format!("/v1/rooms/{room}/screenshots/{id}/content");
    if workroom_tests::s3_target().is_some() {
        // On the shared object store, the image posted through node 1 downloads from node 2.
        let image = cluster[2]
            .http
            .get(&content, &cluster.member("u1"))
            .send()
            .await
            .unwrap();
        assert_eq!(image.status(), StatusCode::OK);
        assert_eq!(image.bytes().await.unwrap().to_vec(), png(9));
    }

    // The contractor un-shares through node 0: gone from the client's view on node 2.
    let (status, unshared) = call(
        &cluster[0],
        "POST",
        &format!("/v1/rooms/{room}/screenshots/{id}/unshare"),
        &cluster.member("u2"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{unshared}");
    let removed = u1
        .expect(|f| matches!(f, ServerFrame::ScreenshotRemoved { .. }))
        .await;
    assert!(
        matches!(&removed, ServerFrame::ScreenshotRemoved { id: gone, .. } if *gone == id),
        "{removed:?}"
    );
    for node in 0..3 {
        let (status, _) = call(&cluster[node], "GET", &content, &cluster.member("u1"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "node {node}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "multi-node: needs PostgreSQL and nats-server; run by .ci/run"]
async fn cluster_membership_changes_reach_sessions_on_other_nodes() {
    let cluster = cluster!(Cluster::start(3));
    // A new bid accepted through node 0 opens a room on sessions of nodes 1 and 2, which
    // may use it at once.
    let mut client = cluster.client(1, "u1").await;
    let mut contractor = cluster.client(2, "u2").await;
    let mut teammate = cluster.client(2, "t1").await;
    assert!(client.rooms.is_empty());
    let room = cluster.open_room("b1", "p1", "u1", "u2").await;
    for (who, c) in [("client", &mut client), ("contractor", &mut contractor)] {
        let opened = c
            .expect(|f| matches!(f, ServerFrame::RoomOpened { .. }))
            .await;
        assert!(
            matches!(&opened, ServerFrame::RoomOpened { room: r } if r.id.as_str() == room && r.can_send),
            "{who}: {opened:?}"
        );
    }
    let ack = client.send(&room, "c1", "first words").await;
    assert_eq!(
        ack_of(&ack).0,
        1,
        "the session on node 1 may use the new room"
    );
    contractor.collect_events(&room, 1).await;

    // A teammate put into the client's account through node 1 gets the room on node 2.
    cluster[1]
        .put_account_member("acct-u1", "t1", "member")
        .await;
    let opened = teammate
        .expect(|f| matches!(f, ServerFrame::RoomOpened { .. }))
        .await;
    assert!(
        matches!(&opened, ServerFrame::RoomOpened { room: r } if r.id.as_str() == room),
        "{opened:?}"
    );
    assert_eq!(ack_of(&teammate.send(&room, "t-1", "hello").await).0, 2);
    // Removed through node 0: the room is gone from the session on node 2 at once.
    cluster[0].remove_account_member("acct-u1", "t1").await;
    teammate
        .expect(|f| matches!(f, ServerFrame::RoomRemoved { .. }))
        .await;
    match teammate.send(&room, "t-2", "gone").await {
        ServerFrame::Error { code, .. } => assert_eq!(code, ErrorCode::NotFound),
        other => panic!("expected not_found, got {other:?}"),
    }
    // The contract ended through node 2: read-only on node 1's session too.
    cluster[2].end_contract("b1").await;
    client
        .expect(|f| matches!(f, ServerFrame::RoomClosed { .. }))
        .await;
    match client.send(&room, "c2", "too late").await {
        ServerFrame::Error { code, .. } => assert_eq!(code, ErrorCode::Conflict),
        other => panic!("expected conflict, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "multi-node: needs PostgreSQL and nats-server; run by .ci/run"]
async fn cluster_a_grant_revoked_on_one_node_ends_the_live_view_on_another_within_a_second() {
    let cluster = cluster!(Cluster::start(3));
    let room = cluster.open_room("b1", "p1", "u1", "u2").await;
    let grant = open_grant(
        &cluster[0],
        &moderator(&cluster[0], "mod1"),
        &room,
        &["history", "live"],
        600,
    )
    .await;
    let gid = grant["id"].as_str().unwrap().to_string();
    let mut session = watcher(&cluster[1], "mod1").await;
    let reply = session
        .request(json!({"type": "watch", "grant": gid}))
        .await;
    assert!(
        matches!(&reply, ServerFrame::Watching { room: r, .. } if r.as_str() == room),
        "{reply:?}"
    );
    // What members write on node 2 reaches the live view on node 1.
    let mut u1 = cluster.client(2, "u1").await;
    u1.send(&room, "c1", "seen live").await;
    let seen = session.collect_events(&room, 1).await;
    assert!(matches!(&seen[0], ServerFrame::Message(m) if m.body == "seen live"));

    // A supervisor revokes it through node 0.
    let (status, revoked) = call(
        &cluster[0],
        "POST",
        &format!("/v1/moderation/grants/{gid}/revoke"),
        &moderator(&cluster[0], "mod2"),
        None,
    )
    .await;
    let revoked_at = Instant::now();
    assert_eq!(status, StatusCode::OK, "{revoked}");
    let ended = session
        .expect(|f| matches!(f, ServerFrame::WatchEnded { .. }))
        .await;
    let took = revoked_at.elapsed();
    assert!(
        matches!(&ended, ServerFrame::WatchEnded { reason, .. } if reason == "revoked"),
        "{ended:?}"
    );
    // The promise is a second from the revocation. It is measured here from the
    // moment node 0 answered (the revocation is committed by then) to the moment this test
    // read the frame on node 1; the 250 ms on top are for the test's own scheduling: three
    // servers and this client share two cores in a debug build.
    println!(
        "CLUSTER a grant revoked on node 0 ended the live view on node 1 after {} ms",
        took.as_millis()
    );
    assert!(
        took <= Duration::from_millis(1250),
        "the live view on another node ended {} ms after the revocation (limit 1 s)",
        took.as_millis()
    );
    // Nothing of the room reaches the moderator afterwards, from any node.
    u1.send(&room, "c2", "after revocation").await;
    let mut u2 = cluster.client(1, "u2").await;
    u2.send(&room, "c3", "also after").await;
    no_event_of(&mut session, &room, Duration::from_millis(500)).await;
    let (status, _) = call(
        &cluster[2],
        "GET",
        &format!("/v1/moderation/grants/{gid}/messages"),
        &moderator(&cluster[2], "mod1"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "multi-node: needs PostgreSQL and nats-server; run by .ci/run"]
async fn cluster_audit_verify_passes_over_checkpoints_signed_by_all_three_nodes() {
    let mut cluster = cluster!(Cluster::start(3));
    // Each node records acts, then stops; its shutdown signs a checkpoint of the head (the
    // periodic checkpointer is far from due in a test this short), so the checkpoints
    // below are one per node, in the order the nodes stopped.
    let mut kept = Vec::new();
    let mut heads = Vec::new();
    for node in 0..3 {
        let server = cluster.nodes.remove(0);
        server
            .open_room(
                &format!("b{node}"),
                &format!("p{node}"),
                "u1",
                &format!("k{node}"),
            )
            .await;
        server
            .put_account_member("acct-u1", &format!("t{node}"), "member")
            .await;
        let auditor = server.token("aud", Role::Auditor, None);
        let page = server.get_json(&auditor, "/v1/audit?limit=1000").await;
        heads.push(page["entries"].as_array().unwrap().len());
        kept.push(server.stop().await);
    }
    let db = workroom_tests::raw_db(&kept[0].0).await;
    use sea_orm::ConnectionTrait;
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT seq FROM audit_checkpoints ORDER BY seq",
        ))
        .await
        .unwrap();
    let checkpoints: Vec<i64> = rows
        .iter()
        .map(|r| r.try_get::<i64>("", "seq").unwrap())
        .collect();
    let expected: Vec<i64> = heads.iter().map(|&h| h as i64).collect();
    assert_eq!(
        checkpoints, expected,
        "one checkpoint by each node, at the head it left"
    );
    // Every node's data dir (its own copy of the shared keys) verifies the whole trail.
    for (node, (config, _dir)) in kept.iter().enumerate() {
        let out = ok(workroom(config, &["audit", "verify"]));
        assert!(out.contains("audit trail intact"), "node {node}: {out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "multi-node: needs PostgreSQL and nats-server; run by .ci/run"]
async fn cluster_with_nats_stopped_messages_still_cross_nodes_and_live_delivery_comes_back() {
    let mut cluster = cluster!(Cluster::start_with_own_nats(3, Box::new(|_| {})));
    let poll_ms = cluster[0].config.bus.poll_interval_ms;
    let room = cluster.open_room("b1", "p1", "u1", "u2").await;
    let mut sender = cluster.client(0, "u1").await;
    let mut on_1 = cluster.client(1, "u2").await;
    let mut on_2 = cluster.client(2, "u2").await;
    let mut acked: Vec<(u64, String)> = Vec::new();

    // With the bus: live everywhere.
    for i in 1..=5 {
        let (seq, msg_id, _) = ack_of(&sender.send(&room, &format!("a{i}"), "bus").await);
        acked.push((seq, msg_id));
    }
    for c in [&mut on_1, &mut on_2] {
        assert_eq!(
            seqs_and_ids(&c.collect_events(&room, 5).await, &room),
            acked
        );
    }

    // NATS dies (SIGKILL: no goodbye to its clients). Every node says so in /readyz.
    cluster.nats.kill().await;
    let killed_at = Instant::now();
    cluster.wait_bus_degraded().await;
    let body = readyz(&cluster[1]).await.expect("/readyz answers");
    println!(
        "CLUSTER NATS killed; every node named the bus degraded within {} ms; node 1: {body}",
        killed_at.elapsed().as_millis()
    );

    // Messaging goes on: sends are acknowledged, and sessions on the other nodes get them
    // without reconnecting (their nodes poll the database), in order, once. Senders on two
    // nodes, so that each node's sessions depend on another node's commits.
    let mut slowest = Duration::ZERO;
    let mut back_sender = cluster.client(2, "u1").await;
    for i in 1..=6 {
        let client = if i % 2 == 0 {
            &mut back_sender
        } else {
            &mut sender
        };
        let sent = Instant::now();
        let (seq, msg_id, _) = ack_of(&client.send(&room, &format!("b{i}"), "polled").await);
        acked.push((seq, msg_id.clone()));
        for c in [&mut on_1, &mut on_2] {
            let got = seqs_and_ids(&c.collect_events(&room, 1).await, &room);
            assert_eq!(got, vec![(seq, msg_id.clone())], "in order, once");
        }
        slowest = slowest.max(sent.elapsed());
    }
    println!(
        "CLUSTER NATS down: 6 messages crossed nodes by polling (bus.poll_interval_ms = \
         {poll_ms}); the slowest send→delivery on both other nodes took {} ms",
        slowest.as_millis()
    );

    // NATS comes back on the same port: the nodes reconnect by themselves.
    cluster.nats.start_again().await;
    let restarted_at = Instant::now();
    cluster.wait_bus_up().await;
    println!(
        "CLUSTER NATS restarted; every node's bus was up again after {} ms",
        restarted_at.elapsed().as_millis()
    );
    // Live delivery is back: typing is never stored, so no poll can carry it; only the
    // bus can. (The first ones may go out before a node has subscribed again: repeat.)
    let mut typer = cluster.client(0, "u1").await;
    let limit = Duration::from_secs(30);
    let deadline = Instant::now() + limit;
    'typing: loop {
        assert!(
            Instant::now() < deadline,
            "typing on node 0 did not reach node 1 within {limit:?} after NATS came back"
        );
        typer
            .conn
            .send_text(&json!({"type": "typing", "room": room}).to_string())
            .await
            .unwrap();
        loop {
            match on_1.conn.next(Duration::from_millis(300)).await {
                Ok(ServerFrame::Typing { user, .. }) if user == "u1" => break 'typing,
                Ok(other) => assert!(event_seq(&other, &room).is_none(), "unexpected {other:?}"),
                Err(workroom_client::WsError::Timeout) => break,
                Err(e) => panic!("the session on node 1 was lost: {e}"),
            }
        }
    }
    for i in 1..=5 {
        let (seq, msg_id, _) = ack_of(&sender.send(&room, &format!("c{i}"), "bus again").await);
        acked.push((seq, msg_id));
    }
    for (node, c) in [(1, &mut on_1), (2, &mut on_2)] {
        let got = seqs_and_ids(&c.collect_events(&room, 5).await, &room);
        assert_eq!(got, acked[acked.len() - 5..], "node {node}: live again");
        no_event_of(c, &room, Duration::from_millis(300)).await;
    }

    // Nothing acknowledged was lost: a fresh session on each node replays exactly the acks.
    assert_eq!(
        acked.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        (1..=16).collect::<Vec<_>>()
    );
    for node in 0..3 {
        let mut reader = cluster.client(node, "u2").await;
        reader
            .conn
            .send_text(
                &json!({"type": "resume", "id": "all", "rooms": {room.clone(): 0}}).to_string(),
            )
            .await
            .unwrap();
        let mut stored = Vec::new();
        loop {
            match reader.conn.next(WAIT).await.unwrap() {
                ServerFrame::Message(m) => stored.push((m.seq, m.msg_id)),
                ServerFrame::Resumed { .. } => break,
                _ => {}
            }
        }
        assert_eq!(
            stored, acked,
            "node {node}: everything acknowledged is stored once"
        );
    }
}
