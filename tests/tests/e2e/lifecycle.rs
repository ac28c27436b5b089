//! C1/C2: rooms open only on bid acceptance, idempotently; contract end closes them; the
//! shared room; emails released between the parties; team account roles.

use reqwest::StatusCode;
use serde_json::json;
use workroom_protocol::{ErrorCode, Role, ServerFrame};
use workroom_tests::TestServer;

fn bid_body(project: &str, client: &str, contractor: &str) -> serde_json::Value {
    json!({
        "project": project,
        "client": {"user": client, "account": format!("acct-{client}"), "name": "C", "email": format!("{client}@example.com")},
        "contractor": {"user": contractor, "account": format!("acct-{contractor}"), "name": "K", "email": format!("{contractor}@example.com")},
    })
}

#[tokio::test]
async fn bid_acceptance_is_idempotent_and_checked() {
    let server = TestServer::start().await;
    let service = server.service();
    let path = "/v1/marketplace/bids/b1/accept";
    let first = server
        .http
        .post(path, &service)
        .json(&bid_body("p1", "u1", "u2"))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let room: serde_json::Value = first.json().await.unwrap();
    let again = server
        .http
        .post(path, &service)
        .json(&bid_body("p1", "u1", "u2"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(room["room"], again["room"]);

    let different = server
        .http
        .post(path, &service)
        .json(&bid_body("p1", "u1", "u9"))
        .send()
        .await
        .unwrap();
    assert_eq!(different.status(), StatusCode::CONFLICT);
    let body: serde_json::Value = different.json().await.unwrap();
    assert_eq!(body["code"], "conflict");

    // Only the service role may open rooms; members and bots cannot.
    for token in [server.member("u1"), server.token("bot1", Role::Bot, None)] {
        let r = server
            .http
            .post("/v1/marketplace/bids/b2/accept", &token)
            .json(&bid_body("p2", "u1", "u2"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    let r = server
        .http
        .inner
        .post(server.http.url("/v1/marketplace/bids/b2/accept"))
        .json(&bid_body("p2", "u1", "u2"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Bad bodies are typed errors.
    let r = server
        .http
        .post("/v1/marketplace/bids/b3/accept", &service)
        .json(&json!({"project": "p3"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "invalid");
    let mut bad_email = bid_body("p3", "u1", "u2");
    bad_email["client"]["email"] = json!("not-an-email");
    let r = server
        .http
        .post("/v1/marketplace/bids/b3/accept", &service)
        .json(&bad_email)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn members_see_the_new_room_live_and_each_others_emails() {
    let server = TestServer::start().await;
    let mut client = server.client("u1").await;
    assert!(client.rooms.is_empty());
    let created = server.open_room("b1", "p1", "u1", "u2").await;
    let opened = client
        .expect(|f| matches!(f, ServerFrame::RoomOpened { .. }))
        .await;
    let ServerFrame::RoomOpened { room } = opened else {
        unreachable!()
    };
    assert_eq!(room.id.as_str(), created.room);
    assert!(room.can_send);

    let members = client
        .request(json!({"type": "members", "room": created.room}))
        .await;
    let ServerFrame::Members { members, .. } = members else {
        panic!("{members:?}")
    };
    let contractor = members
        .iter()
        .find(|m| m.user == "u2")
        .expect("contractor listed");
    assert_eq!(contractor.email.as_deref(), Some("u2@example.com"));
    assert_eq!(contractor.side, "contractor");
    let http: serde_json::Value = server
        .http
        .get(
            &format!("/v1/rooms/{}/members", created.room),
            &server.member("u2"),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let emails: Vec<&str> = http["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["email"].as_str())
        .collect();
    assert!(emails.contains(&"u1@example.com"));
}

#[tokio::test]
async fn contract_end_closes_the_room_but_keeps_history() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let mut u1 = server.client("u1").await;
    assert!(matches!(
        u1.send(&room, "c1", "before the end").await,
        ServerFrame::Ack { seq: 1, .. }
    ));
    let ended = server
        .http
        .post("/v1/marketplace/bids/b1/end", &server.service())
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::OK);
    let closed = u1
        .expect(|f| matches!(f, ServerFrame::RoomClosed { .. }))
        .await;
    assert!(matches!(closed, ServerFrame::RoomClosed { .. }));
    match u1.send(&room, "c2", "after the end").await {
        ServerFrame::Error { code, .. } => assert_eq!(code, ErrorCode::Conflict),
        other => panic!("expected conflict, got {other:?}"),
    }
    // A new connection sees the room as closed and can still read it.
    let mut u2 = server.client("u2").await;
    let summary = u2.room(&room).expect("room listed").clone();
    assert!(summary.closed && !summary.can_send);
    match u2.send(&room, "c3", "x").await {
        ServerFrame::Error { code, .. } => assert_eq!(code, ErrorCode::Conflict),
        other => panic!("expected conflict, got {other:?}"),
    }
    let history = u2
        .request(json!({"type": "history", "room": room, "limit": 10}))
        .await;
    let ServerFrame::History { messages, .. } = history else {
        panic!()
    };
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body, "before the end");
    // Ending again is idempotent; an unknown bid is not found.
    let again = server
        .http
        .post("/v1/marketplace/bids/b1/end", &server.service())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    let unknown = server
        .http
        .post("/v1/marketplace/bids/nope/end", &server.service())
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_second_accepted_bid_opens_the_shared_room_for_everyone() {
    let server = TestServer::start().await;
    let first = server.open_room("b1", "p1", "client", "k1").await;
    assert!(first.shared_room.is_none());
    let second = server.open_room("b2", "p1", "client", "k2").await;
    let shared = second.shared_room.expect("shared room opened");
    let third = server.open_room("b3", "p1", "client", "k3").await;
    assert_eq!(third.shared_room.as_deref(), Some(shared.as_str()));
    for user in ["client", "k1", "k2", "k3"] {
        let c = server.client(user).await;
        assert!(c.room(&shared).is_some(), "{user} sees the shared room");
    }
    // Contractors do not see each other's private rooms.
    let k1 = server.client("k1").await;
    assert!(k1.room(&second.room).is_none());
}

#[tokio::test]
async fn team_roles_decide_reading_and_sending() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let service = server.service();
    for (user, role) in [("teammate", "member"), ("watcher", "viewer")] {
        let r = server
            .http
            .put(
                &format!("/v1/marketplace/accounts/acct-u1/members/{user}"),
                &service,
            )
            .json(&json!({"role": role}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }
    let mut teammate = server.client("teammate").await;
    assert!(matches!(
        teammate.send(&room, "t1", "hello from the team").await,
        ServerFrame::Ack { .. }
    ));
    let mut watcher = server.client("watcher").await;
    assert!(!watcher.room(&room).unwrap().can_send);
    match watcher.send(&room, "w1", "viewers cannot post").await {
        ServerFrame::Error { code, .. } => assert_eq!(code, ErrorCode::Forbidden),
        other => panic!("expected forbidden, got {other:?}"),
    }
    let history = watcher
        .request(json!({"type": "history", "room": room}))
        .await;
    assert!(matches!(history, ServerFrame::History { ref messages, .. } if messages.len() == 1));

    // Removal takes effect on the open connection at once.
    let r = server
        .http
        .delete(
            "/v1/marketplace/accounts/acct-u1/members/teammate",
            &service,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    teammate
        .expect(|f| matches!(f, ServerFrame::RoomRemoved { .. }))
        .await;
    match teammate.send(&room, "t2", "gone").await {
        ServerFrame::Error { code, .. } => assert_eq!(code, ErrorCode::NotFound),
        other => panic!("expected not_found, got {other:?}"),
    }
    let r = server
        .http
        .delete(
            "/v1/marketplace/accounts/acct-u1/members/teammate",
            &service,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = server
        .http
        .put("/v1/marketplace/accounts/acct-u1/members/x", &service)
        .json(&json!({"role": "god"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}
