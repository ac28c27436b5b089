//! C3: send/ack/delivery, idempotency, concurrent ordering, history, read markers, typing,
//! edit and delete.

use serde_json::json;
use std::collections::HashSet;
use workroom_protocol::{ErrorCode, ServerFrame};
use workroom_tests::{TestServer, event_seq};

#[tokio::test]
async fn a_send_is_acked_and_delivered_to_every_connection_of_every_member() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let mut sender = server.client("u1").await;
    let mut sender_other_tab = server.client("u1").await;
    let mut receiver = server.client("u2").await;
    let ack = sender.send(&room, "c-1", "hello").await;
    let ServerFrame::Ack {
        seq,
        msg_id,
        ts,
        room: ack_room,
        ..
    } = ack
    else {
        panic!("{ack:?}")
    };
    assert_eq!((seq, ack_room.as_str()), (1, room.as_str()));
    assert!(ts.ends_with('Z'));
    for c in [&mut sender_other_tab, &mut receiver] {
        let frame = c.expect(|f| matches!(f, ServerFrame::Message(_))).await;
        let ServerFrame::Message(m) = frame else {
            unreachable!()
        };
        assert_eq!(
            (m.seq, m.msg_id.as_str(), m.sender.as_str(), m.body.as_str()),
            (1, msg_id.as_str(), "u1", "hello")
        );
        assert_eq!(m.client_msg_id.as_deref(), Some("c-1"));
    }
}

#[tokio::test]
async fn a_repeated_client_msg_id_returns_the_original_ack_and_stores_nothing() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let mut u1 = server.client("u1").await;
    let first = u1.send(&room, "same", "once").await;
    let again = u1.send(&room, "same", "once").await;
    let (
        ServerFrame::Ack {
            seq: s1,
            msg_id: m1,
            ..
        },
        ServerFrame::Ack {
            seq: s2,
            msg_id: m2,
            ..
        },
    ) = (&first, &again)
    else {
        panic!()
    };
    assert_eq!((s1, m1), (s2, m2));
    let next = u1.send(&room, "other", "twice").await;
    assert!(
        matches!(next, ServerFrame::Ack { seq: 2, .. }),
        "no seq was used by the repeat"
    );
    let history = u1.request(json!({"type": "history", "room": room})).await;
    let ServerFrame::History { messages, .. } = history else {
        panic!()
    };
    assert_eq!(messages.len(), 2);
}

#[tokio::test]
async fn concurrent_senders_get_contiguous_seqs_and_everyone_sees_one_order() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let service = server.service();
    for user in ["t1", "t2"] {
        server
            .http
            .put(
                &format!("/v1/marketplace/accounts/acct-u1/members/{user}"),
                &service,
            )
            .json(&json!({"role": "member"}))
            .send()
            .await
            .unwrap();
    }
    const PER_SENDER: usize = 40;
    let senders = ["u1", "u2", "t1", "t2"];
    let mut watchers = vec![server.client("u1").await, server.client("u2").await];
    let mut tasks = Vec::new();
    for user in senders {
        let mut c = server.client(user).await;
        let room = room.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..PER_SENDER {
                let ack = c
                    .send(&room, &format!("{user}-{i}"), &format!("{user} says {i}"))
                    .await;
                assert!(matches!(ack, ServerFrame::Ack { .. }), "{ack:?}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let total = PER_SENDER * senders.len();
    let mut orders = Vec::new();
    for w in &mut watchers {
        let events = w.collect_events(&room, total).await;
        let seqs: Vec<u64> = events.iter().filter_map(|e| event_seq(e, &room)).collect();
        assert_eq!(
            seqs,
            (1..=total as u64).collect::<Vec<_>>(),
            "contiguous, in order"
        );
        let ids: Vec<String> = events
            .iter()
            .map(|e| match e {
                ServerFrame::Message(m) => m.msg_id.clone(),
                _ => panic!(),
            })
            .collect();
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), total);
        orders.push(ids);
    }
    assert_eq!(orders[0], orders[1], "every member sees the same order");
}

#[tokio::test]
async fn history_pages_backwards() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let mut u1 = server.client("u1").await;
    for i in 1..=25 {
        u1.send(&room, &format!("c{i}"), &format!("m{i}")).await;
    }
    let page = u1
        .request(json!({"type": "history", "room": room, "limit": 10}))
        .await;
    let ServerFrame::History { messages, .. } = page else {
        panic!()
    };
    assert_eq!(
        messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (16..=25).collect::<Vec<_>>()
    );
    let page = u1
        .request(json!({"type": "history", "room": room, "before_seq": 16, "limit": 10}))
        .await;
    let ServerFrame::History { messages, .. } = page else {
        panic!()
    };
    assert_eq!(messages.first().map(|m| m.seq), Some(6));
    assert_eq!(messages.last().map(|m| m.body.as_str()), Some("m15"));
    let page = u1
        .request(json!({"type": "history", "room": room, "before_seq": 3}))
        .await;
    let ServerFrame::History { messages, .. } = page else {
        panic!()
    };
    assert_eq!(messages.len(), 2);
    let http: serde_json::Value = server
        .http
        .get(
            &format!("/v1/rooms/{room}/messages?before_seq=3"),
            &server.member("u2"),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(http["messages"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn read_markers_persist_and_typing_is_relayed() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let mut u1 = server.client("u1").await;
    let mut u2 = server.client("u2").await;
    for i in 1..=3 {
        u1.send(&room, &format!("c{i}"), "hi").await;
    }
    let read = u2
        .request(json!({"type": "read", "room": room, "seq": 2}))
        .await;
    assert!(matches!(read, ServerFrame::Read { seq: 2, .. }), "{read:?}");
    let seen = u1.expect(|f| matches!(f, ServerFrame::Read { .. })).await;
    assert!(matches!(seen, ServerFrame::Read { ref user, seq: 2, .. } if user == "u2"));
    // Markers never move backwards and survive reconnects.
    let back = u2
        .request(json!({"type": "read", "room": room, "seq": 1}))
        .await;
    assert!(matches!(back, ServerFrame::Read { seq: 2, .. }));
    let again = server.client("u2").await;
    assert_eq!(again.room(&room).unwrap().read_seq, 2);

    u2.conn
        .send_text(&json!({"type": "typing", "room": room}).to_string())
        .await
        .unwrap();
    let typing = u1.expect(|f| matches!(f, ServerFrame::Typing { .. })).await;
    assert!(matches!(typing, ServerFrame::Typing { ref user, .. } if user == "u2"));
}

#[tokio::test]
async fn authors_edit_and_delete_and_the_room_shows_the_latest_state() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let mut u1 = server.client("u1").await;
    let mut u2 = server.client("u2").await;
    u1.send(&room, "c1", "first draft").await;
    u1.send(&room, "c2", "to be deleted").await;
    let edit = u1
        .request(json!({"type": "edit", "room": room, "seq": 1, "body": "final text"}))
        .await;
    assert!(matches!(edit, ServerFrame::Ack { seq: 3, .. }), "{edit:?}");
    let del = u1
        .request(json!({"type": "delete", "room": room, "seq": 2}))
        .await;
    assert!(matches!(del, ServerFrame::Ack { seq: 4, .. }), "{del:?}");
    let events = u2.collect_events(&room, 4).await;
    assert!(
        matches!(&events[2], ServerFrame::Edited { target_seq: 1, body, .. } if body == "final text")
    );
    assert!(matches!(
        &events[3],
        ServerFrame::Deleted { target_seq: 2, .. }
    ));

    // Only the author may change a message; deleted messages stay deleted.
    let foreign = u2
        .request(json!({"type": "edit", "room": room, "seq": 1, "body": "hijack"}))
        .await;
    assert!(
        matches!(
            foreign,
            ServerFrame::Error {
                code: ErrorCode::Forbidden,
                ..
            }
        ),
        "{foreign:?}"
    );
    let twice = u1
        .request(json!({"type": "delete", "room": room, "seq": 2}))
        .await;
    assert!(
        matches!(
            twice,
            ServerFrame::Error {
                code: ErrorCode::Conflict,
                ..
            }
        ),
        "{twice:?}"
    );
    let missing = u1
        .request(json!({"type": "edit", "room": room, "seq": 99, "body": "x"}))
        .await;
    assert!(
        matches!(
            missing,
            ServerFrame::Error {
                code: ErrorCode::NotFound,
                ..
            }
        ),
        "{missing:?}"
    );

    let history = u2.request(json!({"type": "history", "room": room})).await;
    let ServerFrame::History { messages, .. } = history else {
        panic!()
    };
    assert_eq!(
        messages.len(),
        2,
        "edits and deletes are not listed as messages"
    );
    assert_eq!(messages[0].body, "final text");
    assert!(messages[0].edited_ts.is_some());
    assert!(messages[1].deleted && messages[1].body.is_empty());

    // Prior versions stay stored.
    let (store, _) = workroom_tests::workroom_server::server::open_store(
        &server.config,
        workroom_storage::Clock::system(),
    )
    .await
    .unwrap();
    let ServerFrame::Message(_) = &events[0] else {
        panic!()
    };
    let msg_id = match &events[0] {
        ServerFrame::Message(m) => m.msg_id.clone(),
        _ => unreachable!(),
    };
    let read = workroom_tests::compliance_read(&store, &room).await;
    let versions = store.message_versions(&read, &msg_id).await.unwrap();
    assert_eq!(versions, vec![(1, Ok("first draft".to_string()))]);
    let deleted_id = match &events[1] {
        ServerFrame::Message(m) => m.msg_id.clone(),
        _ => unreachable!(),
    };
    assert_eq!(
        store.message_versions(&read, &deleted_id).await.unwrap(),
        vec![(1, Ok("to be deleted".to_string()))]
    );
}

#[tokio::test]
async fn two_server_processes_on_one_database_keep_seqs_gap_free() {
    let a = TestServer::start().await;
    let room = a.open_room("b1", "p1", "u1", "u2").await.room;
    // A second server process on the same database.
    let b = a.start_sibling().await;

    const EACH: usize = 60;
    let mut tasks = Vec::new();
    for (server, user) in [(&a, "u1"), (&b, "u2")] {
        let mut c = server.client(user).await;
        let room = room.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..EACH {
                match c.send(&room, &format!("{user}-{i}"), "x").await {
                    ServerFrame::Ack { seq, .. } => seqs.push(seq),
                    other => panic!("{other:?}"),
                }
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    assert_eq!(
        all,
        (1..=(2 * EACH) as u64).collect::<Vec<_>>(),
        "no gap, no repeat across processes"
    );
    // A client of either server replays the same single order.
    let mut orders = Vec::new();
    for server in [&a, &b] {
        let mut c = server.client("u1").await;
        c.conn
            .send_text(
                &json!({"type": "resume", "id": "r", "rooms": {room.clone(): 0}}).to_string(),
            )
            .await
            .unwrap();
        let mut ids = Vec::new();
        loop {
            match c.conn.next(workroom_tests::WAIT).await.unwrap() {
                ServerFrame::Message(m) => ids.push((m.seq, m.msg_id)),
                ServerFrame::Resumed { .. } => break,
                _ => {}
            }
        }
        orders.push(ids);
    }
    assert_eq!(orders[0].len(), 2 * EACH);
    assert_eq!(orders[0], orders[1]);
}
