//! Moderator access (C6) through the real server: grants (open, four-eyes approval, scope,
//! expiry, revocation), reads under a grant with their audit entries, the live view being cut
//! off, reports that expose exactly their messages, notices, and transparency for members.

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use workroom_protocol::{ErrorCode, Role, ServerFrame};
use workroom_tests::{TestClient, TestServer, eventually};

pub(crate) fn moderator(server: &TestServer, id: &str) -> String {
    server.token(id, Role::Moderator, None)
}

/// One HTTP call; the status and the JSON body (`Null` when there is none).
pub(crate) async fn call(
    server: &TestServer,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = match method {
        "GET" => server.http.get(path, token),
        "POST" => server.http.post(path, token),
        other => panic!("unexpected method {other}"),
    };
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let bytes = response.bytes().await.expect("body");
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, value)
}

const REASON: &str = "The client reported abusive messages in this workroom on ticket 4411.";

/// Open a grant and return it (asserting 201).
pub(crate) async fn open_grant(
    server: &TestServer,
    token: &str,
    room: &str,
    scope: &[&str],
    secs: u64,
) -> Value {
    let (status, grant) = call(
        server,
        "POST",
        "/v1/moderation/grants",
        token,
        Some(json!({
            "room": room, "case_id": "case-4411", "reason": REASON,
            "scope": scope, "duration_secs": secs,
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{grant}");
    grant
}

/// Every audit entry, oldest first, as (action, case id).
pub(crate) async fn audit_actions(server: &TestServer) -> Vec<(String, Option<String>)> {
    let auditor = server.token("aud", Role::Auditor, None);
    let page = server.get_json(&auditor, "/v1/audit?limit=1000").await;
    page["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["case_id"].as_str().map(str::to_string),
            )
        })
        .collect()
}

fn count(actions: &[(String, Option<String>)], action: &str) -> usize {
    actions.iter().filter(|(a, _)| a == action).count()
}

fn is_error(frame: &ServerFrame, want: ErrorCode) -> bool {
    matches!(frame, ServerFrame::Error { code, .. } if *code == want)
}

pub(crate) async fn watcher(server: &TestServer, id: &str) -> TestClient {
    TestClient::connect(server, Some(moderator(server, id)), None)
        .await
        .expect("moderator session")
}

#[tokio::test]
async fn without_a_grant_a_moderator_is_an_outsider() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let mut u1 = server.client("u1").await;
    u1.send(&room, "c1", "hello").await;
    let m1 = moderator(&server, "mod1");
    for path in [
        format!("/v1/rooms/{room}/messages"),
        format!("/v1/rooms/{room}/members"),
        "/v1/rooms".to_string(),
    ] {
        let (status, body) = call(&server, "GET", &path, &m1, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
    }
    // No grant, or someone else's grant: nothing.
    let (status, _) = call(
        &server,
        "GET",
        "/v1/moderation/grants/g_none/messages",
        &m1,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let theirs = open_grant(
        &server,
        &moderator(&server, "mod2"),
        &room,
        &["history", "live"],
        600,
    )
    .await;
    let path = format!(
        "/v1/moderation/grants/{}/messages",
        theirs["id"].as_str().unwrap()
    );
    let (status, body) = call(&server, "GET", &path, &m1, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // Over WebSocket: member frames are refused, and watching someone else's grant too.
    let mut session = watcher(&server, "mod1").await;
    for frame in [
        json!({"type": "send", "room": room, "client_msg_id": "x", "body": "hi"}),
        json!({"type": "history", "room": room}),
        json!({"type": "members", "room": room}),
        json!({"type": "resume", "rooms": {room.clone(): 0}}),
        json!({"type": "watch", "grant": theirs["id"]}),
    ] {
        let reply = session.request(frame.clone()).await;
        assert!(
            is_error(&reply, ErrorCode::Forbidden),
            "{frame} → {reply:?}"
        );
    }
    let reply = session
        .request(json!({"type": "send", "room": room, "client_msg_id": "x", "body": "hi"}))
        .await;
    assert!(
        matches!(&reply, ServerFrame::Error { message, .. } if message.contains("cannot post")),
        "{reply:?}"
    );
}

#[tokio::test]
async fn grants_are_validated_and_only_moderators_open_them() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let m1 = moderator(&server, "mod1");
    let base = json!({"room": room, "case_id": "c1", "reason": REASON, "scope": ["history"], "duration_secs": 60});
    let cases = [
        ("reason", json!("look"), ErrorCode::Invalid),
        ("duration_secs", json!(86_401), ErrorCode::Invalid),
        ("duration_secs", json!(0), ErrorCode::Invalid),
        ("scope", json!([]), ErrorCode::Invalid),
        ("scope", json!(["everything"]), ErrorCode::Invalid),
        ("scope", json!(["notice"]), ErrorCode::Invalid),
        ("case_id", json!(""), ErrorCode::Invalid),
        ("room", json!("rm_nope"), ErrorCode::NotFound),
    ];
    for (field, value, code) in cases {
        let mut body = base.clone();
        body[field] = value.clone();
        let (status, reply) = call(&server, "POST", "/v1/moderation/grants", &m1, Some(body)).await;
        assert_eq!(
            reply["code"],
            json!(code),
            "{field}={value}: {status} {reply}"
        );
    }
    for token in [
        server.member("u1"),
        server.token("bot", Role::Bot, None),
        server.token("aud", Role::Auditor, None),
        server.service(),
    ] {
        let (status, _) = call(
            &server,
            "POST",
            "/v1/moderation/grants",
            &token,
            Some(base.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let grant = open_grant(&server, &m1, &room, &["history"], 60).await;
    assert_eq!(grant["state"], "active");
    assert_eq!(grant["duration_secs"], 60);
    let listed = server
        .get_json(&m1, &format!("/v1/moderation/grants?room={room}"))
        .await;
    assert_eq!(listed["grants"].as_array().unwrap().len(), 1);
    let actions = audit_actions(&server).await;
    assert_eq!(
        actions
            .iter()
            .filter(|(a, case)| a == "grant.opened" && case.as_deref() == Some("case-4411"))
            .count(),
        1,
        "refused grants leave no entry: {actions:?}"
    );
}

#[tokio::test]
async fn under_a_live_grant_history_prior_versions_and_files_are_read_and_each_read_is_audited() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let token = server.member("u1");
    let file: Value = server
        .upload(
            &token,
            &room,
            "proof.txt",
            Some("text/plain"),
            b"evidence bytes".to_vec(),
        )
        .await
        .json()
        .await
        .unwrap();
    let file_id = file["id"].as_str().unwrap().to_string();
    let mut u1 = server.client("u1").await;
    u1.send(&room, "c1", "first words").await;
    assert!(matches!(
        u1.request(json!({"type": "edit", "room": room, "seq": 1, "body": "second words"}))
            .await,
        ServerFrame::Ack { .. }
    ));
    assert!(matches!(
        u1.send_with_files(&room, "c2", "with a file", &[&file_id])
            .await,
        ServerFrame::Ack { .. }
    ));
    // The author deletes it: members lose the file, the compliance record keeps it.
    assert!(matches!(
        u1.request(json!({"type": "delete", "room": room, "seq": 3}))
            .await,
        ServerFrame::Ack { .. }
    ));

    let m1 = moderator(&server, "mod1");
    let grant = open_grant(&server, &m1, &room, &["history", "files"], 600).await;
    let gid = grant["id"].as_str().unwrap();
    let (status, page) = call(
        &server,
        "GET",
        &format!("/v1/moderation/grants/{gid}/messages"),
        &m1,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let messages = page["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["body"], "second words");
    assert_eq!(messages[0]["versions"][0]["body"], "first words");
    assert_eq!(messages[1]["deleted"], true);
    assert_eq!(messages[1]["versions"][0]["body"], "with a file");
    let content = server
        .http
        .get(
            &format!("/v1/moderation/grants/{gid}/files/{file_id}/content"),
            &m1,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(content.status(), StatusCode::OK);
    assert_eq!(content.bytes().await.unwrap().as_ref(), b"evidence bytes");
    // Members no longer see the withdrawn file.
    let (status, _) = call(
        &server,
        "GET",
        &format!("/v1/rooms/{room}/files/{file_id}/content"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let actions = audit_actions(&server).await;
    let case = Some("case-4411".to_string());
    for action in [
        "grant.opened",
        "moderation.history_read",
        "moderation.file_downloaded",
    ] {
        assert!(
            actions.contains(&(action.to_string(), case.clone())),
            "{action} in {actions:?}"
        );
    }
    // Member reads are not audited.
    let before = actions.len();
    let _ = server
        .get_json(&token, &format!("/v1/rooms/{room}/messages"))
        .await;
    assert_eq!(audit_actions(&server).await.len(), before);

    // Scope is enforced: this grant has no live view and no connections.
    let mut session = watcher(&server, "mod1").await;
    let reply = session
        .request(json!({"type": "watch", "grant": gid}))
        .await;
    assert!(is_error(&reply, ErrorCode::Forbidden), "{reply:?}");
    let (status, _) = call(
        &server,
        "POST",
        &format!("/v1/moderation/grants/{gid}/connections"),
        &m1,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let history_only = open_grant(&server, &m1, &room, &["history"], 600).await;
    let path = format!(
        "/v1/moderation/grants/{}/files/{file_id}/content",
        history_only["id"].as_str().unwrap()
    );
    let (status, _) = call(&server, "GET", &path, &m1, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn revoking_a_grant_cuts_off_the_live_view_at_once_and_every_later_read() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let m1 = moderator(&server, "mod1");
    let grant = open_grant(&server, &m1, &room, &["history", "live"], 600).await;
    let gid = grant["id"].as_str().unwrap().to_string();
    let mut session = watcher(&server, "mod1").await;
    let reply = session
        .request(json!({"type": "watch", "grant": gid}))
        .await;
    assert!(
        matches!(&reply, ServerFrame::Watching { room: r, .. } if r.as_str() == room),
        "{reply:?}"
    );

    let mut u1 = server.client("u1").await;
    u1.send(&room, "c1", "seen live").await;
    let seen = session.collect_events(&room, 1).await;
    assert!(matches!(&seen[0], ServerFrame::Message(m) if m.body == "seen live"));

    // A second moderator (a supervisor) revokes it.
    let (status, revoked) = call(
        &server,
        "POST",
        &format!("/v1/moderation/grants/{gid}/revoke"),
        &moderator(&server, "mod2"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert_eq!(revoked["state"], "revoked");
    let ended = session
        .expect(|f| matches!(f, ServerFrame::WatchEnded { .. }))
        .await;
    assert!(
        matches!(&ended, ServerFrame::WatchEnded { reason, .. } if reason == "revoked"),
        "{ended:?}"
    );
    // Nothing of the room reaches the moderator after the cut-off.
    u1.send(&room, "c2", "after revocation").await;
    match session.conn.next(Duration::from_millis(500)).await {
        Err(workroom_client::WsError::Timeout) => {}
        other => panic!("nothing may follow the cut-off, got {other:?}"),
    }
    let (status, body) = call(
        &server,
        "GET",
        &format!("/v1/moderation/grants/{gid}/messages"),
        &m1,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body["message"].as_str().unwrap().contains("revoked"));
    let reply = session
        .request(json!({"type": "watch", "grant": gid}))
        .await;
    assert!(is_error(&reply, ErrorCode::Forbidden));
    let (status, _) = call(
        &server,
        "POST",
        &format!("/v1/moderation/grants/{gid}/revoke"),
        &m1,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "already ended");

    let actions = audit_actions(&server).await;
    for action in [
        "moderation.live_view_started",
        "moderation.live_view_ended",
        "grant.revoked",
    ] {
        assert_eq!(count(&actions, action), 1, "{action} in {actions:?}");
    }
}

#[tokio::test]
async fn an_expired_grant_reads_nothing_and_its_live_view_ends_on_time() {
    let server = TestServer::start_with(Box::new(|c| c.moderation.expiry_check_secs = 1)).await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let m1 = moderator(&server, "mod1");
    let grant = open_grant(&server, &m1, &room, &["history", "live"], 2).await;
    let gid = grant["id"].as_str().unwrap().to_string();
    let mut session = watcher(&server, "mod1").await;
    let reply = session
        .request(json!({"type": "watch", "grant": gid}))
        .await;
    assert!(matches!(reply, ServerFrame::Watching { .. }), "{reply:?}");
    let (status, _) = call(
        &server,
        "GET",
        &format!("/v1/moderation/grants/{gid}/messages"),
        &m1,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    server.clock.advance(Duration::from_secs(2));
    let ended = session
        .expect(|f| matches!(f, ServerFrame::WatchEnded { .. }))
        .await;
    assert!(
        matches!(&ended, ServerFrame::WatchEnded { reason, .. } if reason == "expired"),
        "{ended:?}"
    );
    let (status, body) = call(
        &server,
        "GET",
        &format!("/v1/moderation/grants/{gid}/messages"),
        &m1,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body["message"].as_str().unwrap().contains("expired"),
        "{body}"
    );
    let listed = server
        .get_json(&m1, &format!("/v1/moderation/grants/{gid}"))
        .await;
    assert_eq!(listed["state"], "expired");
    // `grant.expired` is recorded once by the expiry recorder.
    let recorded = eventually(Duration::from_secs(5), "grant.expired recorded", || async {
        let n = count(&audit_actions(&server).await, "grant.expired");
        (n > 0).then_some(n)
    })
    .await;
    assert_eq!(recorded, 1);
    let actions = audit_actions(&server).await;
    assert_eq!(count(&actions, "moderation.live_view_ended"), 1);
}

#[tokio::test]
async fn a_grant_awaiting_approval_reads_nothing_until_a_second_moderator_approves() {
    let server = TestServer::start_with(Box::new(|c| c.moderation.require_approval = true)).await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let mut u1 = server.client("u1").await;
    u1.send(&room, "c1", "hello").await;
    let m1 = moderator(&server, "mod1");
    let grant = open_grant(&server, &m1, &room, &["history", "live"], 600).await;
    assert_eq!(grant["state"], "pending");
    let gid = grant["id"].as_str().unwrap().to_string();
    let history = format!("/v1/moderation/grants/{gid}/messages");
    let (status, body) = call(&server, "GET", &history, &m1, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body["message"].as_str().unwrap().contains("approval"),
        "{body}"
    );
    let mut session = watcher(&server, "mod1").await;
    assert!(is_error(
        &session
            .request(json!({"type": "watch", "grant": gid}))
            .await,
        ErrorCode::Forbidden
    ));
    // Not by the opener; not by a member.
    let approve = format!("/v1/moderation/grants/{gid}/approve");
    let (status, _) = call(&server, "POST", &approve, &m1, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&server, "POST", &approve, &server.member("u1"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, approved) =
        call(&server, "POST", &approve, &moderator(&server, "mod2"), None).await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["state"], "active");
    assert_eq!(approved["approved_by"], "mod2");
    let (status, _) = call(&server, "POST", &approve, &moderator(&server, "mod3"), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "approved once");
    let (status, page) = call(&server, "GET", &history, &m1, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["messages"][0]["body"], "hello");
    assert!(matches!(
        session
            .request(json!({"type": "watch", "grant": gid}))
            .await,
        ServerFrame::Watching { .. }
    ));
    let actions = audit_actions(&server).await;
    assert_eq!(count(&actions, "grant.approved"), 1);
}

#[tokio::test]
async fn a_report_exposes_exactly_its_messages_to_moderators() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let other = server.open_room("b2", "p2", "u3", "u4").await.room;
    let t1 = server.member("u1");
    let upload = |name: &'static str| {
        let server = &server;
        let token = t1.clone();
        let room = room.clone();
        async move {
            let info: Value = server
                .upload(
                    &token,
                    &room,
                    name,
                    Some("text/plain"),
                    name.as_bytes().to_vec(),
                )
                .await
                .json()
                .await
                .unwrap();
            info["id"].as_str().unwrap().to_string()
        }
    };
    let reported_file = upload("reported.txt").await;
    let other_file = upload("other.txt").await;
    let mut u1 = server.client("u1").await;
    u1.send(&room, "c1", "an ordinary message").await;
    let ServerFrame::Ack { msg_id: bad_id, .. } = u1
        .send_with_files(&room, "c2", "an abusive message", &[&reported_file])
        .await
    else {
        panic!("send failed")
    };
    assert!(matches!(
        u1.request(json!({"type": "edit", "room": room, "seq": 2, "body": "a softened message"}))
            .await,
        ServerFrame::Ack { .. }
    ));
    u1.send_with_files(&room, "c3", "another ordinary message", &[&other_file])
        .await;

    // The other side reports the one message.
    let t2 = server.member("u2");
    let (status, report) = call(
        &server,
        "POST",
        &format!("/v1/rooms/{room}/reports"),
        &t2,
        Some(json!({"messages": [bad_id], "reason": "Insults in the second message."})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    assert_eq!(report["state"], "open");
    let rid = report["id"].as_str().unwrap().to_string();
    // Bad reports: no messages, a message of another room, an outsider, a moderator.
    let (_, bad) = call(
        &server,
        "POST",
        &format!("/v1/rooms/{room}/reports"),
        &t2,
        Some(json!({"messages": [], "reason": "x"})),
    )
    .await;
    assert_eq!(bad["code"], "invalid");
    let mut u3 = server.client("u3").await;
    let ServerFrame::Ack {
        msg_id: foreign, ..
    } = u3.send(&other, "c1", "elsewhere").await
    else {
        panic!()
    };
    let (_, bad) = call(
        &server,
        "POST",
        &format!("/v1/rooms/{room}/reports"),
        &t2,
        Some(json!({"messages": [foreign], "reason": "x"})),
    )
    .await;
    assert_eq!(bad["code"], "invalid");
    let (status, _) = call(
        &server,
        "POST",
        &format!("/v1/rooms/{room}/reports"),
        &server.member("u3"),
        Some(json!({"messages": [bad_id], "reason": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let m1 = moderator(&server, "mod1");
    let (status, _) = call(
        &server,
        "POST",
        &format!("/v1/rooms/{room}/reports"),
        &m1,
        Some(json!({"messages": [bad_id], "reason": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Moderators list it and read exactly the reported message, with its earlier version.
    let listed = server
        .get_json(&m1, "/v1/moderation/reports?state=open")
        .await;
    assert_eq!(listed["reports"][0]["id"], rid.as_str());
    assert!(
        listed["reports"][0].get("reason").is_none(),
        "lists carry no content"
    );
    let (status, case) = call(
        &server,
        "GET",
        &format!("/v1/moderation/reports/{rid}"),
        &m1,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{case}");
    let messages = case["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["body"], "a softened message");
    assert_eq!(messages[0]["versions"][0]["body"], "an abusive message");
    assert_eq!(case["reason"], "Insults in the second message.");
    assert!(
        !case.to_string().contains("ordinary"),
        "nothing else of the room"
    );
    let file_path = |f: &str| format!("/v1/moderation/reports/{rid}/files/{f}/content");
    let content = server
        .http
        .get(&file_path(&reported_file), &m1)
        .send()
        .await
        .unwrap();
    assert_eq!(content.status(), StatusCode::OK);
    let (status, _) = call(&server, "GET", &file_path(&other_file), &m1, None).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a file of an unreported message"
    );
    // The rest of the room still needs a grant.
    let (status, _) = call(
        &server,
        "GET",
        &format!("/v1/rooms/{room}/messages"),
        &m1,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The reporter follows the state; others do not see the report.
    let mine = server.get_json(&t2, "/v1/reports").await;
    assert_eq!(mine["reports"][0]["state"], "in_review");
    assert!(
        server.get_json(&t1, "/v1/reports").await["reports"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let (status, closed) = call(
        &server,
        "POST",
        &format!("/v1/moderation/reports/{rid}/close"),
        &m1,
        Some(json!({"outcome": "Warning sent to the author."})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    let mine = server.get_json(&t2, "/v1/reports").await;
    assert_eq!(mine["reports"][0]["state"], "closed");
    assert_eq!(mine["reports"][0]["outcome"], "Warning sent to the author.");

    let actions = audit_actions(&server).await;
    let case_id = Some(rid.clone());
    for action in [
        "report.filed",
        "moderation.report_read",
        "moderation.file_downloaded",
        "report.closed",
    ] {
        assert!(
            actions.contains(&(action.to_string(), case_id.clone())),
            "{action} in {actions:?}"
        );
    }
}

#[tokio::test]
async fn bots_outsiders_and_auditors_get_nothing_from_moderation() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let m1 = moderator(&server, "mod1");
    let grant = open_grant(
        &server,
        &m1,
        &room,
        &["history", "files", "live", "connections"],
        600,
    )
    .await;
    let gid = grant["id"].as_str().unwrap();
    let mut u1 = server.client("u1").await;
    let ServerFrame::Ack { msg_id, .. } = u1.send(&room, "c1", "hello").await else {
        panic!()
    };
    let (_, report) = call(
        &server,
        "POST",
        &format!("/v1/rooms/{room}/reports"),
        &server.member("u2"),
        Some(json!({"messages": [msg_id], "reason": "spam"})),
    )
    .await;
    let rid = report["id"].as_str().unwrap();
    let paths = [
        ("GET", "/v1/moderation/grants".to_string()),
        ("GET", format!("/v1/moderation/grants/{gid}")),
        ("POST", format!("/v1/moderation/grants/{gid}/approve")),
        ("POST", format!("/v1/moderation/grants/{gid}/revoke")),
        ("GET", format!("/v1/moderation/grants/{gid}/messages")),
        (
            "GET",
            format!("/v1/moderation/grants/{gid}/files/f1/content"),
        ),
        ("POST", format!("/v1/moderation/grants/{gid}/connections")),
        ("GET", "/v1/moderation/reports".to_string()),
        ("GET", format!("/v1/moderation/reports/{rid}")),
        ("POST", format!("/v1/moderation/reports/{rid}/close")),
    ];
    let bot = server.token("bot1", Role::Bot, None);
    for token in [
        bot.clone(),
        server.member("u1"),
        server.member("stranger"),
        server.token("aud", Role::Auditor, None),
        server.service(),
    ] {
        for (method, path) in &paths {
            let body = (*method == "POST").then(|| {
                if path.ends_with("/close") {
                    json!({"outcome": "x"})
                } else {
                    json!({})
                }
            });
            let (status, reply) = call(&server, method, path, &token, body).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {reply}");
        }
    }
    // A bot reads no member route either, and opens no session.
    for path in [
        format!("/v1/rooms/{room}/messages"),
        format!("/v1/rooms/{room}/grants"),
        "/v1/reports".to_string(),
    ] {
        let (status, _) = call(&server, "GET", &path, &bot, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    // The auditor reads the trail, which shows the grant; moderators do not read the trail.
    let actions = audit_actions(&server).await;
    assert_eq!(count(&actions, "grant.opened"), 1);
    let (status, _) = call(&server, "GET", "/v1/audit", &m1, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn notices_are_marked_audited_and_off_unless_configured() {
    let server = TestServer::start_with(Box::new(|c| c.moderation.allow_notices = true)).await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let mut u1 = server.client("u1").await;
    let m1 = moderator(&server, "mod1");
    let without = open_grant(&server, &m1, &room, &["history"], 600).await;
    let path = format!(
        "/v1/moderation/grants/{}/notices",
        without["id"].as_str().unwrap()
    );
    let (status, _) = call(&server, "POST", &path, &m1, Some(json!({"body": "hi"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "needs the notice scope");
    let grant = open_grant(&server, &m1, &room, &["notice"], 600).await;
    let path = format!(
        "/v1/moderation/grants/{}/notices",
        grant["id"].as_str().unwrap()
    );
    let (status, posted) = call(
        &server,
        "POST",
        &path,
        &m1,
        Some(json!({"body": "Please keep it civil."})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{posted}");
    let seen = u1.collect_events(&room, 1).await;
    match &seen[0] {
        ServerFrame::Message(m) => {
            assert!(m.notice);
            assert_eq!(m.sender, "mod1");
            assert_eq!(m.body, "Please keep it civil.");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        count(&audit_actions(&server).await, "moderation.notice_posted"),
        1
    );

    let plain = TestServer::start().await;
    let room = plain.open_room("b1", "p1", "u1", "u2").await.room;
    let (_, reply) = call(
        &plain,
        "POST",
        "/v1/moderation/grants",
        &moderator(&plain, "mod1"),
        Some(json!({"room": room, "case_id": "c", "reason": REASON, "scope": ["notice"]})),
    )
    .await;
    assert_eq!(reply["code"], "invalid");
}

#[tokio::test]
async fn members_see_ended_grants_on_their_room_without_the_reason() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let m1 = moderator(&server, "mod1");
    let grant = open_grant(&server, &m1, &room, &["history"], 600).await;
    let gid = grant["id"].as_str().unwrap();
    let path = format!("/v1/rooms/{room}/grants");
    let t1 = server.member("u1");
    let listed = server.get_json(&t1, &path).await;
    assert!(
        listed["grants"].as_array().unwrap().is_empty(),
        "an active grant is not shown: {listed}"
    );
    call(
        &server,
        "POST",
        &format!("/v1/moderation/grants/{gid}/revoke"),
        &m1,
        None,
    )
    .await;
    let listed = server.get_json(&t1, &path).await;
    let shown = &listed["grants"][0];
    assert_eq!(shown["case_id"], "case-4411");
    assert_eq!(shown["scope"], json!(["history"]));
    assert_eq!(shown["state"], "revoked");
    assert!(
        shown.get("reason").is_none() && shown.get("moderator").is_none(),
        "{shown}"
    );
    assert!(!listed.to_string().contains("ticket 4411"));
    let (status, _) = call(&server, "GET", &path, &server.member("stranger"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let quiet = TestServer::start_with(Box::new(|c| c.moderation.transparency = false)).await;
    let room = quiet.open_room("b1", "p1", "u1", "u2").await.room;
    let (status, _) = call(
        &quiet,
        "GET",
        &format!("/v1/rooms/{room}/grants"),
        &quiet.member("u1"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
