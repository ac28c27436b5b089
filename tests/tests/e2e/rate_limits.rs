//! Rate limits (C14) through the real server: each limit answers in band (`rate_limited`
//! with `retry_after_ms` on the socket, `429` with `Retry-After` over HTTP), loses nothing
//! already accepted and recovers when the server's clock moves on; a user holds a bounded
//! number of sessions; a resume from 0 on a large room stops at the cap with the seq to page
//! back from.

use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;
use workroom_protocol::{ErrorCode, ServerFrame};
use workroom_server::config::RateConfig;
use workroom_tests::{TestClient, TestServer, WAIT, event_seq};

fn rate(per_sec: u32, burst: u32) -> RateConfig {
    RateConfig { per_sec, burst }
}

/// The `retry_after_ms` of a `rate_limited` error, or a panic naming what came instead.
fn retry_hint(frame: &ServerFrame) -> u64 {
    match frame {
        ServerFrame::Error {
            code: ErrorCode::RateLimited,
            retry_after_ms: Some(ms),
            ..
        } => *ms,
        other => panic!("expected rate_limited with a retry hint, got {other:?}"),
    }
}

fn acked(frame: &ServerFrame) -> bool {
    matches!(frame, ServerFrame::Ack { .. })
}

#[tokio::test]
async fn each_websocket_limit_answers_in_band_and_recovers() {
    let server = TestServer::start_with(Box::new(|c| {
        // One a second after each burst: the test spends a burst well within a second,
        // so nothing refills before a refusal is expected.
        let r = &mut c.rate_limits;
        r.writes_per_connection = rate(1, 5);
        r.writes_per_user = rate(1, 8);
        r.typing_per_connection = rate(1, 2);
        r.reads_per_user = rate(1, 3);
        r.resume_per_user = rate(1, 2);
        r.frames_per_connection = rate(1, 60);
    }))
    .await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let mut c = server.client("u1").await;
    let mut other = server.client("u1").await;

    // Writes per connection: five pass, the sixth is refused with when to retry.
    for i in 0..5 {
        assert!(acked(&c.send(&room, &format!("w{i}"), "kept").await));
    }
    let refused = c.send(&room, "w5", "refused").await;
    assert!((1..=1000).contains(&retry_hint(&refused)));
    // Per user, across connections: three more on another connection, then refused.
    for i in 0..3 {
        assert!(acked(&other.send(&room, &format!("o{i}"), "kept").await));
    }
    retry_hint(&other.send(&room, "o3", "refused").await);

    // Typing is forwarded to the room: two, then refused.
    for _ in 0..2 {
        c.conn
            .send_text(&json!({"type": "typing", "room": room}).to_string())
            .await
            .unwrap();
    }
    let typing = c.request(json!({"type": "typing", "room": room})).await;
    retry_hint(&typing);

    // History and members share the reads budget: three, then refused.
    for _ in 0..2 {
        let page = c.request(json!({"type": "history", "room": room})).await;
        assert!(matches!(page, ServerFrame::History { .. }), "{page:?}");
    }
    let members = c.request(json!({"type": "members", "room": room})).await;
    assert!(
        matches!(members, ServerFrame::Members { .. }),
        "{members:?}"
    );
    retry_hint(&c.request(json!({"type": "history", "room": room})).await);

    // Resume: two, then refused.
    for _ in 0..2 {
        let done = c
            .request(json!({"type": "resume", "rooms": {room.clone(): 8}}))
            .await;
        assert!(matches!(done, ServerFrame::Resumed { .. }), "{done:?}");
    }
    retry_hint(
        &c.request(json!({"type": "resume", "rooms": {room.clone(): 8}}))
            .await,
    );

    // Every frame counts against the connection's frame budget, pings included.
    let mut pinger = server.client("u2").await;
    let mut refusals = 0;
    for _ in 0..80 {
        let frame = pinger.request(json!({"type": "ping"})).await;
        if let ServerFrame::Error { .. } = frame {
            retry_hint(&frame);
            refusals += 1;
        }
    }
    assert!(
        refusals >= 15,
        "{refusals} pings refused of 80 with a budget of 60"
    );

    // Time moves on: everything passes again, and nothing accepted before was lost.
    server.clock.advance(Duration::from_secs(5));
    assert!(acked(&c.send(&room, "w6", "after the wait").await));
    assert!(matches!(
        c.request(json!({"type": "history", "room": room})).await,
        ServerFrame::History { .. }
    ));
    let ServerFrame::History { messages, .. } = c
        .request(json!({"type": "history", "room": room, "limit": 50}))
        .await
    else {
        panic!("history");
    };
    let bodies: Vec<&str> = messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(
        bodies.iter().filter(|b| **b == "kept").count(),
        8,
        "{bodies:?}"
    );
    assert!(!bodies.contains(&"refused"));
    assert!(bodies.contains(&"after the wait"));
}

#[tokio::test]
async fn a_user_holds_a_bounded_number_of_sessions() {
    let server = TestServer::start_with(Box::new(|c| {
        c.rate_limits.sessions_per_user = 2;
    }))
    .await;
    let first = server.client("u1").await;
    let _second = server.client("u1").await;
    // With the token on the upgrade: 429 and when to retry.
    match server.connect_raw(Some(server.member("u1")), None).await {
        Err(workroom_client::WsError::Ws(tokio_tungstenite::tungstenite::Error::Http(r))) => {
            assert_eq!(r.status().as_u16(), 429);
            assert!(r.headers().contains_key("retry-after"));
        }
        Err(other) => panic!("expected 429, got {other}"),
        Ok(_) => panic!("a third session opened"),
    }
    // With the token in the first frame: `rate_limited`, then close 1013.
    let mut browser = server.connect_raw(None, None).await.unwrap();
    browser
        .send_text(&json!({"type": "auth", "token": server.member("u1")}).to_string())
        .await
        .unwrap();
    retry_hint(&browser.next(WAIT).await.unwrap());
    match browser.next(WAIT).await {
        Err(workroom_client::WsError::Closed(Some((code, _)))) => assert_eq!(code, 1013),
        other => panic!("expected close 1013, got {other:?}"),
    }
    // Another user is not affected; a closed session gives its place back.
    server.client("u2").await;
    drop(first);
    workroom_tests::eventually(Duration::from_secs(5), "a freed place", || async {
        server
            .connect_raw(Some(server.member("u1")), None)
            .await
            .ok()
    })
    .await;
}

#[tokio::test]
async fn http_limits_answer_429_with_retry_after_and_recover() {
    let server = TestServer::start_with(Box::new(|c| {
        let r = &mut c.rate_limits;
        r.http_writes_per_user = rate(1, 3);
        r.http_reads_per_user = rate(1, 4);
        r.http_systems_per_user = rate(1, 2);
    }))
    .await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let member = server.member("u1");
    // Revoking bot tokens (each an audit entry) is a write.
    for i in 0..3 {
        let r = server
            .http
            .delete(&format!("/v1/me/bots/jti-{i}"), &member)
            .send()
            .await
            .unwrap();
        assert_ne!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    let refused = server
        .http
        .delete("/v1/me/bots/jti-x", &member)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    // Reads have their own budget.
    for _ in 0..4 {
        let r = server.http.get("/v1/rooms", &member).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let r = server
        .http
        .get(&format!("/v1/rooms/{room}/members"), &member)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // The systems' tokens have theirs (the room was opened with one: one left).
    let service = server.service();
    let ok = server
        .http
        .get("/v1/marketplace/bans/u9", &service)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let r = server
        .http
        .get("/v1/marketplace/bans/u9", &service)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);

    server.clock.advance(Duration::from_secs(2));
    let r = server
        .http
        .delete("/v1/me/bots/jti-y", &member)
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let r = server.http.get("/v1/rooms", &member).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_resume_from_zero_on_a_large_room_stops_at_the_cap_with_where_to_page_from() {
    let server = TestServer::start_with(Box::new(|c| {
        c.limits.resume_max_events = 100;
        workroom_tests::unlimited_rates(c);
    }))
    .await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let mut sender = server.client("u1").await;
    for i in 0..250 {
        assert!(acked(
            &sender
                .send(&room, &format!("m{i}"), &format!("body {i}"))
                .await
        ));
    }
    let mut reader: TestClient = server.client("u2").await;
    reader
        .conn
        .send_text(&json!({"type": "resume", "id": "r", "rooms": {room.clone(): 0}}).to_string())
        .await
        .unwrap();
    let mut seqs = Vec::new();
    let truncated = loop {
        match reader.conn.next(WAIT).await.unwrap() {
            ServerFrame::Resumed { truncated, .. } => break truncated,
            frame => seqs.extend(event_seq(&frame, &room)),
        }
    };
    assert_eq!(
        seqs,
        (151..=250).collect::<Vec<_>>(),
        "the newest 100, in order"
    );
    let page_from = truncated[&workroom_protocol::RoomId::try_from(room.as_str()).unwrap()];
    assert_eq!(page_from, 151);
    // The rest comes by `history`, paging back from where the replay started.
    let mut before = page_from;
    let mut older = Vec::new();
    while before > 1 {
        let ServerFrame::History { messages, .. } = reader
            .request(json!({"type": "history", "room": room, "before_seq": before, "limit": 200}))
            .await
        else {
            panic!("history");
        };
        if messages.is_empty() {
            break;
        }
        before = messages.iter().map(|m| m.seq).min().unwrap();
        older.extend(messages.iter().map(|m| m.seq));
    }
    older.sort_unstable();
    assert_eq!(older, (1..=150).collect::<Vec<_>>());
    // Live delivery goes on from the replay, once.
    assert!(acked(&sender.send(&room, "m250", "live").await));
    let live = reader.collect_events(&room, 1).await;
    assert_eq!(event_seq(&live[0], &room), Some(251));
}
