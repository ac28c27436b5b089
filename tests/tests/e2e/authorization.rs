//! Authorization on every path: a member of room A learns nothing of room B.

use reqwest::StatusCode;
use serde_json::json;
use workroom_protocol::{ErrorCode, Role, ServerFrame};
use workroom_tests::TestServer;

#[tokio::test]
async fn a_member_of_one_room_gets_not_found_for_another_on_every_path() {
    let server = TestServer::start().await;
    let mine = server.open_room("b1", "p1", "u1", "u2").await.room;
    let theirs = server.open_room("b2", "p2", "x1", "x2").await.room;
    let mut x1 = server.client("x1").await;
    x1.send(&theirs, "secret", "their secret").await;

    let mut u1 = server.client("u1").await;
    assert!(u1.room(&mine).is_some() && u1.room(&theirs).is_none());
    let frames = [
        json!({"type": "send", "room": theirs, "client_msg_id": "c", "body": "hi"}),
        json!({"type": "history", "room": theirs}),
        json!({"type": "members", "room": theirs}),
        json!({"type": "read", "room": theirs, "seq": 1}),
        json!({"type": "typing", "room": theirs}),
        json!({"type": "edit", "room": theirs, "seq": 1, "body": "x"}),
        json!({"type": "delete", "room": theirs, "seq": 1}),
        json!({"type": "resume", "rooms": {theirs.clone(): 0}}),
    ];
    for frame in frames {
        let reply = u1.request(frame.clone()).await;
        assert!(
            matches!(
                reply,
                ServerFrame::Error {
                    code: ErrorCode::NotFound,
                    ..
                }
            ),
            "{frame} → {reply:?}"
        );
    }
    let token = server.member("u1");
    for path in [
        format!("/v1/rooms/{theirs}/members"),
        format!("/v1/rooms/{theirs}/messages"),
    ] {
        let r = server.http.get(&path, &token).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let listed: serde_json::Value = server
        .http
        .get("/v1/rooms", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["rooms"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bots_and_other_roles_read_nothing_over_http() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let bot = server.token("bot", Role::Bot, None);
    let moderator = server.token("mod", Role::Moderator, None);
    for token in [bot, moderator] {
        for path in [
            "/v1/rooms".to_string(),
            format!("/v1/rooms/{room}/members"),
            format!("/v1/rooms/{room}/messages"),
        ] {
            let r = server.http.get(&path, &token).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        }
    }
}

#[tokio::test]
async fn every_route_refuses_a_missing_token() {
    let server = TestServer::start().await;
    for (method, path) in workroom_server::router::ROUTES {
        // Probes, the bundle signing key (public by design: anyone holding a bundle
        // may check it), the web client's page (code, no data) and the API description
        // (the interface, no data) take no token.
        if matches!(
            *path,
            "/healthz"
                | "/readyz"
                | "/metrics"
                | "/v1/legal/public-key"
                | "/"
                | "/app/{file}"
                | "/v1/openapi.json"
                | "/v1/schemas/frames.json"
                | "/v1/dev/sign-in"
        ) {
            continue;
        }
        let path = path
            .replace("{bid_id}", "b1")
            .replace("{account}", "a1")
            .replace("{user}", "u1")
            .replace("{room}", "r1")
            .replace("{grant}", "g1")
            .replace("{file}", "f1")
            .replace("{report}", "rp1");
        let url = server.http.url(&path);
        let request = match *method {
            "GET" => server.http.inner.get(url),
            "POST" => server.http.inner.post(url).json(&json!({})),
            "PUT" => server.http.inner.put(url).json(&json!({"role": "member"})),
            "DELETE" => server.http.inner.delete(url),
            other => panic!("unexpected method {other}"),
        };
        let status = request.send().await.unwrap().status();
        // The signed-link route takes no token by design; without a signature it is refused.
        let signed_link = path.starts_with("/v1/files/");
        assert!(
            status == StatusCode::UNAUTHORIZED
                || (path == "/v1/ws" && status.is_client_error())
                || (signed_link && status == StatusCode::BAD_REQUEST),
            "{method} {path} → {status}"
        );
    }
}
