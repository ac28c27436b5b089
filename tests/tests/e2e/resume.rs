//! Resume replays exactly what was missed; slow consumers are cut off and recover by resume.

use serde_json::json;
use workroom_protocol::ServerFrame;
use workroom_tests::{TestServer, WAIT, event_seq};

#[tokio::test]
async fn reconnect_and_resume_replays_exactly_the_missed_events() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let mut u1 = server.client("u1").await;
    let mut u2 = server.client("u2").await;
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

    let mut back = server.client("u2").await;
    assert_eq!(back.room(&room).unwrap().last_seq, 11);
    back.conn
        .send_text(&json!({"type": "resume", "id": "r2", "rooms": {room.clone(): 3}}).to_string())
        .await
        .unwrap();
    let mut replayed = Vec::new();
    loop {
        let frame = back.conn.next(WAIT).await.unwrap();
        match &frame {
            ServerFrame::Resumed { id, .. } => {
                assert_eq!(id.as_deref(), Some("r2"));
                break;
            }
            other => {
                replayed.push(event_seq(other, &room).expect("only timeline events before resumed"))
            }
        }
    }
    assert_eq!(
        replayed,
        (4..=11).collect::<Vec<_>>(),
        "no gap, no duplicate"
    );

    // Live traffic continues after the replay, without repeats.
    u1.send(&room, "c1", "live").await;
    let next = back.collect_events(&room, 1).await;
    assert_eq!(event_seq(&next[0], &room), Some(12));
}

/// Resume `room` from `after` and return the seqs replayed before `resumed` (nothing else may
/// come before it).
async fn resume(client: &mut workroom_tests::TestClient, room: &str, after: u64) -> Vec<u64> {
    let before = client.resume(room, after).await;
    before
        .iter()
        .map(|frame| event_seq(frame, room).expect("timeline events"))
        .collect()
}

/// A member who reconnects while the room is busy: events committed after `hello` are
/// delivered live before the client's `resume` is read. The resume then sends only what this
/// connection has not delivered, so every seq still arrives exactly once.
#[tokio::test]
async fn a_resume_after_live_events_sends_nothing_twice() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let mut u1 = server.client("u1").await;
    for i in 1..=2 {
        u1.send(&room, &format!("a{i}"), "before").await;
    }
    let mut back = server.client("u2").await;
    assert_eq!(back.room(&room).unwrap().last_seq, 2);
    u1.send(&room, "a3", "after hello").await;
    let live = back.collect_events(&room, 1).await;
    assert_eq!(event_seq(&live[0], &room), Some(3));

    let replayed = resume(&mut back, &room, 0).await;
    assert_eq!(
        replayed,
        vec![1, 2],
        "only what this connection had not delivered"
    );

    // Asked again: everything after seq 1 was delivered on this connection, so nothing is
    // sent twice (`history` is the way to read older messages again).
    let again = resume(&mut back, &room, 1).await;
    assert!(again.is_empty(), "{again:?}");

    u1.send(&room, "a4", "live again").await;
    let next = back.collect_events(&room, 1).await;
    assert_eq!(event_seq(&next[0], &room), Some(4), "live goes on, once");
}

#[tokio::test]
async fn a_slow_consumer_is_disconnected_without_stalling_the_room_and_recovers_by_resume() {
    let server = TestServer::start_with(Box::new(|c| {
        c.limits.outbound_queue = 16;
        c.limits.write_timeout_secs = 1;
        // 600 sends as fast as acks come back: more than the write limits let through.
        workroom_tests::unlimited_rates(c);
    }))
    .await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let mut fast = server.client("u1").await;
    // The slow consumer never reads.
    let slow = server.client("u2").await;
    let body = "x".repeat(15_000);
    let total = 600u64;
    // A watcher that keeps up must see everything live while the slow one lags.
    let mut watcher = server.client("u1").await;
    let watch_room = room.clone();
    let watching = tokio::spawn(async move {
        watcher
            .collect_events(&watch_room, total as usize)
            .await
            .len()
    });
    for i in 0..total {
        let ack = fast.send(&room, &format!("m{i}"), &body).await;
        assert!(
            matches!(ack, ServerFrame::Ack { .. }),
            "the room keeps going: {ack:?}"
        );
    }
    assert_eq!(
        watching.await.unwrap() as u64,
        total,
        "a member who keeps up sees every message"
    );

    // The slow connection was cut: draining what reached its socket ends in a close.
    let mut slow = slow;
    let mut last = 0;
    let closed = loop {
        match slow.conn.next(WAIT).await {
            Ok(frame) => {
                if let Some(seq) = event_seq(&frame, &room) {
                    last = seq;
                }
            }
            Err(e) => break e,
        }
    };
    assert!(
        last < total,
        "the slow consumer was cut before the end ({closed})"
    );

    let mut back = server.client("u2").await;
    back.conn
        .send_text(&json!({"type": "resume", "id": "r", "rooms": {room.clone(): last}}).to_string())
        .await
        .unwrap();
    let mut expected = last + 1;
    loop {
        match back.conn.next(WAIT).await.unwrap() {
            ServerFrame::Resumed { .. } => break,
            frame => {
                assert_eq!(event_seq(&frame, &room), Some(expected));
                expected += 1;
            }
        }
    }
    assert_eq!(expected, total + 1, "resume recovered everything");
}
