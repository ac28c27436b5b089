//! Every route and every frame type goes through the policy module (C5).
//!
//! The server's policy guard turns any successful answer given without a policy decision into
//! `internal` ("the policy was not consulted"). This test makes one valid, successful request
//! for every route in `router::ROUTES` (the table the router is built from) and sends every client frame type, so a handler that bypasses
//! the policy fails here. A route or frame type added without a request below fails too.

use crate::moderation::{call, moderator};
use reqwest::StatusCode;
use serde_json::{Value, json};
use workroom_protocol::{ClientFrame, Role, ServerFrame};
use workroom_server::policy::guard::BYPASS_MESSAGE;
use workroom_tests::{TestClient, TestServer};

const REASON: &str = "Checking that every route asks the policy before answering.";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR0000000000000000";

struct Scene {
    server: TestServer,
    room: String,
    file: String,
    grant: String,
    spare_grant: String,
    pending_grant: String,
    report: String,
    link: String,
    screenshot: String,
    /// A closed room, for the purge route.
    closed_room: String,
    /// A legal hold on `room`, for the lift route.
    hold: String,
    /// A ready legal export of `room`, for its routes.
    export: String,
}

async fn grant(server: &TestServer, who: &str, room: &str) -> String {
    let (status, body) = call(
        server,
        "POST",
        "/v1/moderation/grants",
        &moderator(server, who),
        Some(json!({"room": room, "case_id": "case-1", "reason": REASON,
            "scope": ["history", "files", "live", "connections", "notice"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_string()
}

async fn scene() -> Scene {
    let server = TestServer::start_with(Box::new(|c| {
        c.moderation.require_approval = true;
        c.moderation.allow_notices = true;
    }))
    .await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let token = server.member("u1");
    let file = upload_text(&server, &token, &room, "a.txt", b"hello").await;
    let mut u1 = server.client("u1").await;
    let ServerFrame::Ack { msg_id, .. } = u1
        .send_with_files(&room, "c1", "with a file", &[&file])
        .await
    else {
        panic!("send failed")
    };
    let (_, report) = call(
        &server,
        "POST",
        &format!("/v1/rooms/{room}/reports"),
        &server.member("u2"),
        Some(json!({"messages": [msg_id], "reason": "spam"})),
    )
    .await;
    let grant_id = grant(&server, "mod1", &room).await;
    let spare_grant = grant(&server, "mod1", &room).await;
    let pending_grant = grant(&server, "mod1", &room).await;
    let (status, _) = call(
        &server,
        "POST",
        &format!("/v1/moderation/grants/{grant_id}/approve"),
        &moderator(&server, "mod2"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, link) = call(
        &server,
        "POST",
        &format!("/v1/rooms/{room}/files/{file}/link"),
        &token,
        None,
    )
    .await;
    let on = server
        .http
        .put("/v1/me/work-view", &server.member("u2"))
        .json(&json!({"on": true}))
        .send()
        .await
        .unwrap();
    assert!(on.status().is_success());
    let shot: Value = server
        .http
        .post(
            &format!(
                "/v1/tracker/screenshots?room={room}&captured_at={}&activity=50",
                minute_ago()
            ),
            &server.token("tracker", Role::Bot, None),
        )
        .body(PNG.to_vec())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let closed_room = server.open_room("b9", "p9", "u9", "u10").await.room;
    server.end_contract("b9").await;
    let (status, hold) = call(
        &server,
        "POST",
        "/v1/legal/holds",
        &server.token("officer", Role::Legal, None),
        Some(json!({"request_id": "LR-1", "scope": "room", "target": room})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let officer = server.token("officer", Role::Legal, None);
    let (status, export) = call(
        &server,
        "POST",
        "/v1/legal/exports",
        &officer,
        Some(json!({"request_id": "LR-3", "scope": "room", "target": room})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{export}");
    let export = export["id"].as_str().unwrap().to_string();
    workroom_tests::eventually(
        std::time::Duration::from_secs(30),
        "the export is ready",
        || async {
            let view = server
                .get_json(&officer, &format!("/v1/legal/exports/{export}"))
                .await;
            (view["state"] == "ready").then_some(())
        },
    )
    .await;
    Scene {
        export,
        closed_room,
        hold: hold["id"].as_str().unwrap().to_string(),
        room,
        file,
        grant: grant_id,
        spare_grant,
        pending_grant,
        report: report["id"].as_str().unwrap().to_string(),
        link: link["url"].as_str().unwrap().to_string(),
        screenshot: shot["id"].as_str().unwrap().to_string(),
        server,
    }
}

/// One valid request for a route: (token, path, body). `None` for the WebSocket route.
fn request_for(s: &Scene, method: &str, template: &str) -> Option<(String, String, Option<Value>)> {
    let server = &s.server;
    let (room, file, grant, report) = (&s.room, &s.file, &s.grant, &s.report);
    let member = server.member("u1");
    let m1 = moderator(server, "mod1");
    let party = |user: &str| json!({"user": user, "account": format!("acct-{user}"), "name": user, "email": format!("{user}@example.com")});
    let (token, path, body) = match (method, template) {
        ("GET", "/healthz" | "/readyz" | "/metrics") => (String::new(), template.to_string(), None),
        ("GET", "/") => (String::new(), "/".to_string(), None),
        ("GET", "/app/{file}") => (String::new(), "/app/main.js".to_string(), None),
        ("GET", "/v1/openapi.json" | "/v1/schemas/frames.json") => {
            (String::new(), template.to_string(), None)
        }
        ("POST", "/v1/dev/sign-in") => {
            let code = workroom_server::sign_in_links::create(
                &server.config.data_dir,
                &server.member("u1"),
                server.clock.clock().now_ms(),
            )
            .expect("sign-in code");
            (
                String::new(),
                "/v1/dev/sign-in".to_string(),
                Some(json!({"code": code})),
            )
        }
        ("POST", "/v1/audit/verify") => (
            server.token("aud", Role::Auditor, None),
            "/v1/audit/verify".to_string(),
            None,
        ),
        ("GET", "/v1/ws") => return None,
        ("POST", "/v1/marketplace/bids/{bid_id}/accept") => (
            server.service(),
            "/v1/marketplace/bids/b7/accept".to_string(),
            Some(json!({"project": "p7", "client": party("u7"), "contractor": party("u8")})),
        ),
        ("POST", "/v1/marketplace/bids/{bid_id}/end") => (
            server.service(),
            "/v1/marketplace/bids/b7/end".to_string(),
            None,
        ),
        ("PUT", "/v1/marketplace/accounts/{account}/members/{user}") => (
            server.service(),
            "/v1/marketplace/accounts/acct-u1/members/v1".to_string(),
            Some(json!({"role": "viewer"})),
        ),
        ("DELETE", "/v1/marketplace/accounts/{account}/members/{user}") => (
            server.service(),
            "/v1/marketplace/accounts/acct-u1/members/v1".to_string(),
            None,
        ),
        ("GET", "/v1/rooms") => (member, "/v1/rooms".to_string(), None),
        ("GET", "/v1/rooms/{room}/members") => (member, format!("/v1/rooms/{room}/members"), None),
        ("GET", "/v1/rooms/{room}/messages") => {
            (member, format!("/v1/rooms/{room}/messages"), None)
        }
        ("POST", "/v1/rooms/{room}/files") => {
            return Some((
                member,
                format!("/v1/rooms/{room}/files?name=b.txt"),
                Some(Value::Null),
            ));
        }
        ("GET", "/v1/rooms/{room}/files/{file}") => {
            (member, format!("/v1/rooms/{room}/files/{file}"), None)
        }
        ("GET", "/v1/rooms/{room}/files/{file}/content") => (
            member,
            format!("/v1/rooms/{room}/files/{file}/content"),
            None,
        ),
        ("POST", "/v1/rooms/{room}/files/{file}/link") => {
            (member, format!("/v1/rooms/{room}/files/{file}/link"), None)
        }
        ("GET", "/v1/files/{file}/content") => (String::new(), s.link.clone(), None),
        ("GET", "/v1/rooms/{room}/grants") => (member, format!("/v1/rooms/{room}/grants"), None),
        ("POST", "/v1/rooms/{room}/reports") => (
            server.member("u2"),
            format!("/v1/rooms/{room}/reports"),
            None, // filled in by the caller from the room's history
        ),
        ("GET", "/v1/reports") => (server.member("u2"), "/v1/reports".to_string(), None),
        ("PUT", "/v1/me/contact") => (
            member,
            "/v1/me/contact".to_string(),
            Some(json!({"name": "U One", "phone": "+1 555 0100", "address": "1 Main St"})),
        ),
        ("GET", "/v1/me/contact") => (member, "/v1/me/contact".to_string(), None),
        ("POST", "/v1/rooms/{room}/contacts/release") => (
            member,
            format!("/v1/rooms/{room}/contacts/release"),
            Some(json!({})),
        ),
        ("GET", "/v1/rooms/{room}/contacts") => {
            (member, format!("/v1/rooms/{room}/contacts"), None)
        }
        ("PUT", "/v1/me/work-view") => (
            server.member("u2"),
            "/v1/me/work-view".to_string(),
            Some(json!({"on": true})),
        ),
        ("GET", "/v1/me/work-view") => (server.member("u2"), "/v1/me/work-view".to_string(), None),
        ("POST", "/v1/tracker/screenshots") => (
            server.token("tracker", Role::Bot, None),
            format!(
                "/v1/tracker/screenshots?room={room}&captured_at={}&activity=60",
                minute_ago()
            ),
            None,
        ),
        ("GET", "/v1/rooms/{room}/screenshots") => {
            (member, format!("/v1/rooms/{room}/screenshots"), None)
        }
        ("GET", "/v1/rooms/{room}/screenshots/{shot}/content") => (
            member,
            format!("/v1/rooms/{room}/screenshots/{}/content", s.screenshot),
            None,
        ),
        ("POST", "/v1/rooms/{room}/screenshots/{shot}/link") => (
            member.clone(),
            format!("/v1/rooms/{room}/screenshots/{}/link", s.screenshot),
            None,
        ),
        ("POST", "/v1/rooms/{room}/screenshots/{shot}/unshare") => (
            server.member("u2"),
            format!("/v1/rooms/{room}/screenshots/{}/unshare", s.screenshot),
            None,
        ),
        ("POST", "/v1/rooms/{room}/screenshots/{shot}/share") => (
            server.member("u2"),
            format!("/v1/rooms/{room}/screenshots/{}/share", s.screenshot),
            None,
        ),
        ("GET", "/v1/marketplace/rooms/{room}/screenshots") => (
            server.service(),
            format!("/v1/marketplace/rooms/{room}/screenshots"),
            None,
        ),
        ("GET", "/v1/marketplace/rooms/{room}/screenshots/{shot}/content") => (
            server.service(),
            format!(
                "/v1/marketplace/rooms/{room}/screenshots/{}/content",
                s.screenshot
            ),
            None,
        ),
        ("DELETE", "/v1/me/bots/{jti}") => {
            (server.member("u2"), "/v1/me/bots/j-1".to_string(), None)
        }
        ("POST", "/v1/moderation/grants") => (
            m1,
            "/v1/moderation/grants".to_string(),
            Some(
                json!({"room": room, "case_id": "case-2", "reason": REASON, "scope": ["history"]}),
            ),
        ),
        ("GET", "/v1/moderation/grants") => (m1, "/v1/moderation/grants".to_string(), None),
        ("GET", "/v1/moderation/grants/{grant}") => {
            (m1, format!("/v1/moderation/grants/{grant}"), None)
        }
        ("POST", "/v1/moderation/grants/{grant}/approve") => (
            moderator(server, "mod2"),
            format!("/v1/moderation/grants/{}/approve", s.pending_grant),
            None,
        ),
        ("POST", "/v1/moderation/grants/{grant}/revoke") => (
            m1,
            format!("/v1/moderation/grants/{}/revoke", s.spare_grant),
            None,
        ),
        ("GET", "/v1/moderation/grants/{grant}/messages") => {
            (m1, format!("/v1/moderation/grants/{grant}/messages"), None)
        }
        ("GET", "/v1/moderation/grants/{grant}/files/{file}/content") => (
            m1,
            format!("/v1/moderation/grants/{grant}/files/{file}/content"),
            None,
        ),
        ("POST", "/v1/moderation/grants/{grant}/connections") => (
            m1,
            format!("/v1/moderation/grants/{grant}/connections"),
            Some(json!({"address": "127.0.0.1"})),
        ),
        ("POST", "/v1/moderation/grants/{grant}/notices") => (
            m1,
            format!("/v1/moderation/grants/{grant}/notices"),
            Some(json!({"body": "A notice."})),
        ),
        ("GET", "/v1/moderation/reports") => (m1, "/v1/moderation/reports".to_string(), None),
        ("GET", "/v1/moderation/reports/{report}") => {
            (m1, format!("/v1/moderation/reports/{report}"), None)
        }
        ("GET", "/v1/moderation/reports/{report}/files/{file}/content") => (
            m1,
            format!("/v1/moderation/reports/{report}/files/{file}/content"),
            None,
        ),
        ("POST", "/v1/moderation/reports/{report}/close") => (
            m1,
            format!("/v1/moderation/reports/{report}/close"),
            Some(json!({"outcome": "Handled."})),
        ),
        ("GET", "/v1/audit") => (
            server.token("aud", Role::Auditor, None),
            "/v1/audit".to_string(),
            None,
        ),
        ("GET", "/v1/marketplace/rooms/{room}/retention") => (
            server.service(),
            format!("/v1/marketplace/rooms/{room}/retention"),
            None,
        ),
        ("PUT", "/v1/marketplace/rooms/{room}/retention") => (
            server.token("admin", Role::Admin, None),
            format!("/v1/marketplace/rooms/{room}/retention"),
            Some(json!({"retention_secs": 86400})),
        ),
        ("GET", "/v1/marketplace/bans/{user}") => (
            server.service(),
            "/v1/marketplace/bans/u2".to_string(),
            None,
        ),
        ("POST", "/v1/marketplace/bans/check") => (
            server.service(),
            "/v1/marketplace/bans/check".to_string(),
            Some(json!({"email": "u2@example.com"})),
        ),
        ("POST", "/v1/legal/holds") => (
            server.token("officer", Role::Legal, None),
            "/v1/legal/holds".to_string(),
            Some(json!({"request_id": "LR-2", "scope": "account", "target": "acct-u1"})),
        ),
        ("GET", "/v1/legal/holds") => (
            server.token("officer", Role::Legal, None),
            "/v1/legal/holds".to_string(),
            None,
        ),
        ("POST", "/v1/legal/holds/{hold}/lift") => (
            server.token("officer", Role::Legal, None),
            format!("/v1/legal/holds/{}/lift", s.hold),
            None,
        ),
        ("GET", "/v1/admin/holds") => (
            server.token("admin", Role::Admin, None),
            "/v1/admin/holds".to_string(),
            None,
        ),
        ("GET", "/v1/admin/erasures") => (
            server.token("admin", Role::Admin, None),
            "/v1/admin/erasures".to_string(),
            None,
        ),
        ("POST", "/v1/marketplace/rooms/{room}/purge") => (
            server.service(),
            format!("/v1/marketplace/rooms/{}/purge", s.closed_room),
            None,
        ),
        ("POST", "/v1/marketplace/users/{user}/revoke-tokens") => (
            server.service(),
            "/v1/marketplace/users/u9/revoke-tokens".to_string(),
            Some(json!({})),
        ),
        ("POST", "/v1/marketplace/accounts/{account}/terminate") => (
            server.service(),
            "/v1/marketplace/accounts/acct-u8/terminate".to_string(),
            None,
        ),
        ("POST", "/v1/marketplace/users/{user}/terminate") => (
            server.service(),
            "/v1/marketplace/users/u10/terminate".to_string(),
            Some(json!({"reason": "closed"})),
        ),
        ("POST", "/v1/me/logout") => (server.member("u1"), "/v1/me/logout".to_string(), None),
        ("POST", "/v1/legal/exports") => (
            server.token("officer", Role::Legal, None),
            "/v1/legal/exports".to_string(),
            Some(json!({"request_id": "LR-4", "scope": "account", "target": "acct-u1"})),
        ),
        ("GET", "/v1/legal/exports") => (
            server.token("officer", Role::Legal, None),
            "/v1/legal/exports".to_string(),
            None,
        ),
        ("GET", "/v1/legal/exports/{export}") => (
            server.token("officer", Role::Legal, None),
            format!("/v1/legal/exports/{}", s.export),
            None,
        ),
        ("GET", "/v1/legal/exports/{export}/content") => (
            server.token("officer", Role::Legal, None),
            format!("/v1/legal/exports/{}/content", s.export),
            None,
        ),
        ("GET", "/v1/legal/public-key") => {
            (String::new(), "/v1/legal/public-key".to_string(), None)
        }
        ("GET", "/v1/analytics/daily") => {
            (server.service(), "/v1/analytics/daily".to_string(), None)
        }
        other => panic!("no request for route {other:?}: add one to this test"),
    };
    Some((token, path, body))
}

#[tokio::test]
async fn every_route_and_frame_goes_through_the_policy() {
    let s = scene().await;
    let server = &s.server;
    let reported = server
        .get_json(
            &server.member("u1"),
            &format!("/v1/rooms/{}/messages", s.room),
        )
        .await;
    let msg_id = reported["messages"][0]["msg_id"].clone();
    for (method, template) in workroom_server::router::ROUTES {
        let Some((token, path, body)) = request_for(&s, method, template) else {
            continue;
        };
        let url = server.http.url(&path);
        let mut request = match *method {
            "GET" => server.http.inner.get(url),
            "POST" => server.http.inner.post(url),
            "PUT" => server.http.inner.put(url),
            "DELETE" => server.http.inner.delete(url),
            other => panic!("unexpected method {other}"),
        };
        if !token.is_empty() {
            request = request.bearer_auth(&token);
        }
        request = match (template, body) {
            (&"/v1/rooms/{room}/files", _) => request.body(b"more".to_vec()),
            (&"/v1/tracker/screenshots", _) => request.body(PNG.to_vec()),
            (&"/v1/rooms/{room}/reports", _) => {
                request.json(&json!({"messages": [msg_id], "reason": "again"}))
            }
            (_, Some(body)) => request.json(&body),
            (_, None) => request,
        };
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(
            status.is_success(),
            "{method} {template} must succeed through the policy: {status} {text}"
        );
    }

    // Frames: every type, from a member and from a moderator.
    let room = s.room.clone();
    let mut member = server.client("u1").await;
    let mut watcher = TestClient::connect(server, Some(moderator(server, "mod1")), None)
        .await
        .unwrap();
    for kind in ClientFrame::kinds() {
        let (client, frame) = match kind {
            "auth" => (&mut member, json!({"type": "auth", "token": "x"})),
            "send" => (
                &mut member,
                json!({"type": "send", "room": room, "client_msg_id": "p1", "body": "hi"}),
            ),
            "resume" => (
                &mut member,
                json!({"type": "resume", "rooms": {room.clone(): 0}}),
            ),
            "history" => (&mut member, json!({"type": "history", "room": room})),
            "read" => (&mut member, json!({"type": "read", "room": room, "seq": 1})),
            "typing" => (&mut member, json!({"type": "typing", "room": room})),
            "edit" => (
                &mut member,
                json!({"type": "edit", "room": room, "seq": 1, "body": "edited"}),
            ),
            "delete" => (
                &mut member,
                json!({"type": "delete", "room": room, "seq": 1}),
            ),
            "members" => (&mut member, json!({"type": "members", "room": room})),
            "ping" => (&mut member, json!({"type": "ping"})),
            "watch" => (&mut watcher, json!({"type": "watch", "grant": s.grant})),
            "unwatch" => (&mut watcher, json!({"type": "unwatch", "grant": s.grant})),
            other => panic!("no frame for type {other}: add one to this test"),
        };
        if kind == "typing" {
            // No reply: a ping after it shows the session is fine and nothing was refused.
            client.conn.send_text(&frame.to_string()).await.unwrap();
            let pong = client.request(json!({"type": "ping"})).await;
            assert!(matches!(pong, ServerFrame::Pong { .. }), "{pong:?}");
            continue;
        }
        let reply = client.request(frame.clone()).await;
        if let ServerFrame::Error { message, .. } = &reply {
            assert_ne!(message, BYPASS_MESSAGE, "{kind}");
            assert_eq!(kind, "auth", "{frame} was refused: {reply:?}");
        }
    }
    let metrics = server
        .http
        .inner
        .get(server.http.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !metrics.contains("workroom_policy_bypass_total"),
        "a handler answered without asking the policy"
    );
}

/// Items carry the purpose they were collected for; a read for another purpose does not see
/// them (here: rows marked as Tracker data, which only payment-guarantee review may read).
#[tokio::test]
async fn items_collected_for_another_purpose_are_not_read() {
    use sea_orm::ConnectionTrait;
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let token = server.member("u1");
    let file = upload_text(&server, &token, &room, "shot.txt", b"tracked").await;
    let mut u1 = server.client("u1").await;
    u1.send_with_files(&room, "c1", "tracker item", &[&file])
        .await;
    u1.send(&room, "c2", "chat item").await;
    let db = server.raw_db().await;
    for sql in [
        format!(
            "UPDATE messages SET purpose = 'payment_guarantee' WHERE room_id = '{room}' AND seq = 1"
        ),
        format!("UPDATE files SET purpose = 'payment_guarantee' WHERE id = '{file}'"),
    ] {
        db.execute_unprepared(&sql).await.unwrap();
    }
    db.close().await.unwrap();

    let page = server
        .get_json(&token, &format!("/v1/rooms/{room}/messages"))
        .await;
    let bodies: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        ["chat item"],
        "participation does not read Tracker data"
    );
    let (status, _) = call(
        &server,
        "GET",
        &format!("/v1/rooms/{room}/files/{file}/content"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let reply = u1.request(json!({"type": "history", "room": room})).await;
    let ServerFrame::History { messages, .. } = reply else {
        panic!("{reply:?}")
    };
    assert_eq!(messages.len(), 1);

    let m1 = moderator(&server, "mod1");
    let (_, grant) = call(
        &server,
        "POST",
        "/v1/moderation/grants",
        &m1,
        Some(
            json!({"room": room, "case_id": "c", "reason": REASON, "scope": ["history", "files"]}),
        ),
    )
    .await;
    let gid = grant["id"].as_str().unwrap();
    let path = format!("/v1/moderation/grants/{gid}/messages");
    let (_, page) = call(&server, "GET", &path, &m1, None).await;
    assert_eq!(
        page["messages"].as_array().unwrap().len(),
        1,
        "nor does moderation: {page}"
    );
    let path = format!("/v1/moderation/grants/{gid}/files/{file}/content");
    let (status, _) = call(&server, "GET", &path, &m1, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nor a moderator's download");
}

/// A capture time the Tracker may send: a minute ago, RFC 3339.
fn minute_ago() -> String {
    (time::OffsetDateTime::now_utc() - time::Duration::minutes(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// Upload a small text file; its id.
async fn upload_text(
    server: &TestServer,
    token: &str,
    room: &str,
    name: &str,
    bytes: &[u8],
) -> String {
    let uploaded: Value = server
        .upload(token, room, name, Some("text/plain"), bytes.to_vec())
        .await
        .json()
        .await
        .unwrap();
    uploaded["id"].as_str().unwrap().to_string()
}
