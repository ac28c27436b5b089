//! The Tracker's groundwork (C9): Work View, and bot tokens that read nothing and that their
//! contractor revokes with immediate effect on every request.

use crate::moderation::{audit_actions, call};
use reqwest::StatusCode;
use serde_json::json;
use workroom_protocol::{ErrorCode, Role, ServerFrame};
use workroom_tests::TestServer;

#[tokio::test]
async fn work_view_is_off_until_the_contractor_turns_it_on_and_each_change_is_audited() {
    let server = TestServer::start().await;
    let u2 = server.member("u2");
    assert_eq!(server.get_json(&u2, "/v1/me/work-view").await["on"], false);
    let response = server
        .http
        .put("/v1/me/work-view", &u2)
        .json(&json!({"on": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(server.get_json(&u2, "/v1/me/work-view").await["on"], true);
    assert_eq!(
        server
            .get_json(&server.member("u1"), "/v1/me/work-view")
            .await["on"],
        false
    );
    let bad = server
        .http
        .put("/v1/me/work-view", &u2)
        .json(&json!({"on": "yes"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    for token in [
        server.token("bot1", Role::Bot, None),
        server.token("mod1", Role::Moderator, None),
    ] {
        let (status, _) = call(&server, "GET", "/v1/me/work-view", &token, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let actions = audit_actions(&server).await;
    assert_eq!(
        actions
            .iter()
            .filter(|(a, _)| a == "tracker.work_view")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_revoked_bot_token_is_refused_at_once_and_only_its_contractor_can_revoke_it() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let mut claims = server.claims("tracker-1");
    claims.role = Role::Bot;
    claims.acts_for = Some("u2".into());
    let jti = claims.jti.clone();
    let bot = server.sign(&claims);
    // A live bot token reads nothing: the policy refuses it (403), it is not unknown (401).
    let path = format!("/v1/rooms/{room}/messages");
    let (status, _) = call(&server, "GET", &path, &bot, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        auth_frame_refusal(&server, &bot).await,
        ErrorCode::Forbidden
    );
    // Another member revoking that jti revokes only tokens acting for themselves.
    let other = server
        .http
        .delete(&format!("/v1/me/bots/{jti}"), &server.member("u1"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NO_CONTENT);
    let (status, _) = call(&server, "GET", &path, &bot, None).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "still the contractor's live token"
    );
    // The contractor revokes it: refused at once, as unauthorized.
    let revoked = server
        .http
        .delete(&format!("/v1/me/bots/{jti}"), &server.member("u2"))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    for path in [path.as_str(), "/v1/rooms", "/v1/me/work-view"] {
        let (status, body) = call(&server, "GET", path, &bot, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
    }
    // Nor post a screenshot, though Work View is on.
    work_view_on(&server, "u2").await;
    let (status, body) = post_screenshot(&server, &bot, &room, png(1)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // Also over WebSocket, whether the token comes in the upgrade or in the first frame.
    assert_eq!(
        auth_frame_refusal(&server, &bot).await,
        ErrorCode::Unauthorized
    );
    let upgrade = server.connect_raw(Some(bot.clone()), None).await;
    assert!(
        matches!(&upgrade, Err(workroom_client::WsError::Ws(tokio_tungstenite::tungstenite::Error::Http(r))) if r.status() == 401),
        "{:?}",
        upgrade.err()
    );
    // Revoking again is harmless; each first revocation is recorded.
    let again = server
        .http
        .delete(&format!("/v1/me/bots/{jti}"), &server.member("u2"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NO_CONTENT);
    let actions = audit_actions(&server).await;
    assert_eq!(
        actions.iter().filter(|(a, _)| a == "bot.revoked").count(),
        2,
        "{actions:?}"
    );
    // Bots cannot revoke, and a bot token without `acts_for` is not a valid token at all.
    let (status, _) = call(
        &server,
        "GET",
        "/v1/rooms",
        &server.token("bot2", Role::Bot, None),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let mut unscoped = server.claims("tracker-2");
    unscoped.role = Role::Bot;
    let (status, _) = call(&server, "GET", "/v1/rooms", &server.sign(&unscoped), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// The error a WebSocket session answers to `token` sent in the first (`auth`) frame.
async fn auth_frame_refusal(server: &TestServer, token: &str) -> ErrorCode {
    let mut conn = server.connect_raw(None, None).await.unwrap();
    conn.send_text(&json!({"type": "auth", "token": token}).to_string())
        .await
        .unwrap();
    match conn.next(workroom_tests::WAIT).await.unwrap() {
        ServerFrame::Error { code, .. } => code,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn png(seed: u8) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend((0..2000u32).map(|i| (i as u8).wrapping_mul(seed)));
    bytes
}

/// One HTTP call with `user`'s member token and no body.
async fn as_member(
    server: &TestServer,
    method: &str,
    path: &str,
    user: &str,
) -> (StatusCode, serde_json::Value) {
    call(server, method, path, &server.member(user), None).await
}

/// An RFC 3339 time `offset_secs` from now.
fn at(offset_secs: i64) -> String {
    (time::OffsetDateTime::now_utc() + time::Duration::seconds(offset_secs))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// Post a screenshot captured a minute ago, memo "Homepage layout", activity 72.
async fn post_screenshot(
    server: &TestServer,
    bot: &str,
    room: &str,
    body: Vec<u8>,
) -> (StatusCode, serde_json::Value) {
    let query = format!("room={room}&captured_at={}&activity=72", at(-60));
    post_screenshot_with(server, bot, &query, Some("Homepage%20layout"), body).await
}

async fn post_screenshot_with(
    server: &TestServer,
    bot: &str,
    query: &str,
    memo_header: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, serde_json::Value) {
    let mut request = server
        .http
        .post(&format!("/v1/tracker/screenshots?{query}"), bot)
        .body(body);
    if let Some(memo) = memo_header {
        request = request.header("workroom-memo", memo);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or_default())
}

/// The file id inside a signed link's URL (`/v1/files/{file}/content?…`).
fn file_of_link(url: &str) -> String {
    url.split("/v1/files/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("a signed file link")
        .to_string()
}

async fn work_view_on(server: &TestServer, user: &str) {
    let response = server
        .http
        .put("/v1/me/work-view", &server.member(user))
        .json(&json!({"on": true}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
}

#[tokio::test]
async fn the_tracker_posts_screenshots_only_while_work_view_is_on_only_images_and_rate_limited() {
    let server = TestServer::start_with(Box::new(|c| {
        c.tracker.per_minute = 1;
        c.tracker.burst = 3;
        c.tracker.max_screenshot_bytes = 4096;
    }))
    .await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let other = server.open_room("b2", "p2", "u3", "u4").await.room;
    let bot = server.token("tracker-1", Role::Bot, None); // acts for u2
    let (status, body) = post_screenshot(&server, &bot, &room, png(3)).await;
    assert_eq!(status, StatusCode::CONFLICT, "Work View is off: {body}");
    work_view_on(&server, "u2").await;
    // Bad fields: capture times in the future or too old, activity over 100, a memo that
    // is not percent-encoded UTF-8, a memo in the URL (it would end up in proxy logs).
    for (query, memo) in [
        (
            format!("room={room}&captured_at={}&activity=5", at(3600)),
            None,
        ),
        (
            format!("room={room}&captured_at={}&activity=5", at(-8 * 24 * 3600)),
            None,
        ),
        (
            format!("room={room}&captured_at=yesterday&activity=5"),
            None,
        ),
        (
            format!("room={room}&captured_at={}&activity=101", at(-60)),
            None,
        ),
        (
            format!("room={room}&captured_at={}&activity=5", at(-60)),
            Some("%FF%FE"),
        ),
        (
            format!("room={room}&captured_at={}&activity=5&memo=secret", at(-60)),
            None,
        ),
    ] {
        let (status, body) = post_screenshot_with(&server, &bot, &query, memo, png(3)).await;
        assert_eq!(
            (status, body["code"].clone()),
            (StatusCode::BAD_REQUEST, json!("invalid")),
            "{query} {memo:?}: {body}"
        );
    }
    // Over the size limit: 413 and nothing kept (an attempt: it spends a token of the burst).
    let mut big = png(3);
    big.resize(5000, 0);
    let (status, body) = post_screenshot(&server, &bot, &room, big).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::PAYLOAD_TOO_LARGE, json!("too_large")),
        "{body}"
    );
    let none = server
        .get_json(
            &server.member("u2"),
            &format!("/v1/rooms/{room}/screenshots"),
        )
        .await;
    assert!(none["screenshots"].as_array().unwrap().is_empty(), "{none}");
    // A bot acting for someone who is the client here has no contractor workroom here.
    let mut for_client = server.claims("tracker-9");
    for_client.role = Role::Bot;
    for_client.acts_for = Some("u1".into());
    work_view_on(&server, "u1").await;
    let (status, _) = post_screenshot(&server, &server.sign(&for_client), &room, png(3)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let mut u1 = server.client("u1").await;
    let (status, shot) = post_screenshot(&server, &bot, &room, png(3)).await;
    assert_eq!(status, StatusCode::CREATED, "{shot}");
    assert_eq!(shot["shared"], true);
    assert_eq!(shot["activity"], 72);
    assert_eq!(shot["memo"], "Homepage layout");
    assert_eq!(shot["content_type"], "image/png");
    let live = u1
        .expect(|f| matches!(f, workroom_protocol::ServerFrame::Screenshot { .. }))
        .await;
    assert!(
        matches!(live, workroom_protocol::ServerFrame::Screenshot { screenshot, .. } if screenshot.id == shot["id"].as_str().unwrap())
    );
    // The client downloads it.
    let id = shot["id"].as_str().unwrap();
    let content = server
        .http
        .get(
            &format!("/v1/rooms/{room}/screenshots/{id}/content"),
            &server.member("u1"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(content.status(), StatusCode::OK);
    assert_eq!(content.bytes().await.unwrap().to_vec(), png(3));
    // Not an image; not the contractor's workroom; over the rate.
    let (status, body) = post_screenshot(&server, &bot, &room, b"just text".to_vec()).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid"))
    );
    let (status, _) = post_screenshot(&server, &bot, &other, png(4)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = post_screenshot(&server, &bot, &room, png(5)).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::TOO_MANY_REQUESTS, json!("rate_limited"))
    );
    // Members do not post screenshots; the bot reads nothing.
    let (status, _) = post_screenshot(&server, &server.member("u2"), &room, png(6)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for path in [
        format!("/v1/rooms/{room}/screenshots"),
        format!("/v1/rooms/{room}/screenshots/{id}/content"),
    ] {
        let (status, _) = call(&server, "GET", &path, &bot, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    // A contractor who left their account no longer sees the workroom: nor does their
    // Tracker. Back in the account, it posts again (here: refused only by the rate limit).
    server.remove_account_member("acct-u2", "u2").await;
    let (status, _) = post_screenshot(&server, &bot, &room, png(7)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Seeing the room through another account (the client's) does not make them its
    // contractor again.
    server.put_account_member("acct-u1", "u2", "member").await;
    let (status, _) = post_screenshot(&server, &bot, &room, png(7)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.remove_account_member("acct-u1", "u2").await;
    server.put_account_member("acct-u2", "u2", "owner").await;
    let (status, _) = post_screenshot(&server, &bot, &room, png(7)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Once the contract ends the workroom is read-only, for the Tracker too.
    server.end_contract("b1").await;
    let (status, body) = post_screenshot(&server, &bot, &room, png(7)).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::CONFLICT, json!("conflict")),
        "{body}"
    );
}

#[tokio::test]
async fn unsharing_hides_a_screenshot_from_the_client_side_at_once() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    work_view_on(&server, "u2").await;
    let bot = server.token("tracker-1", Role::Bot, None);
    let (_, shot) = post_screenshot(&server, &bot, &room, png(7)).await;
    let id = shot["id"].as_str().unwrap().to_string();
    let mut u1 = server.client("u1").await;
    let list = format!("/v1/rooms/{room}/screenshots");
    let content = format!("/v1/rooms/{room}/screenshots/{id}/content");
    assert_eq!(
        server.get_json(&server.member("u1"), &list).await["screenshots"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Links issued before the un-share (the client's and the contractor's).
    let link_for = |user: &'static str| {
        let server = &server;
        let path = format!("{list}/{id}/link");
        async move {
            let (status, link) = call(server, "POST", &path, &server.member(user), None).await;
            assert_eq!(status, StatusCode::OK, "{link}");
            server.http.url(link["url"].as_str().unwrap())
        }
    };
    let client_link = link_for("u1").await;
    let contractor_link = link_for("u2").await;
    let open = |url: String| {
        let server = &server;
        async move { server.http.inner.get(url).send().await.unwrap().status() }
    };
    assert_eq!(open(client_link.clone()).await, StatusCode::OK);
    // Only the contractor un-shares.
    let (status, _) = as_member(&server, "POST", &format!("{list}/{id}/unshare"), "u1").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, unshared) =
        as_member(&server, "POST", &format!("{list}/{id}/unshare"), "u2").await;
    assert_eq!(status, StatusCode::OK, "{unshared}");
    assert_eq!(unshared["shared"], false);
    let removed = u1
        .expect(|f| matches!(f, workroom_protocol::ServerFrame::ScreenshotRemoved { .. }))
        .await;
    assert!(
        matches!(removed, workroom_protocol::ServerFrame::ScreenshotRemoved { id: ref r, .. } if *r == id)
    );
    assert!(
        server.get_json(&server.member("u1"), &list).await["screenshots"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let (status, _) = call(&server, "GET", &content, &server.member("u1"), None).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the client cannot download it"
    );
    assert_eq!(
        open(client_link.clone()).await,
        StatusCode::FORBIDDEN,
        "the client's outstanding link stopped working"
    );
    assert_eq!(open(contractor_link.clone()).await, StatusCode::OK);
    // The contractor and payment-guarantee review still see it.
    let mine = server.get_json(&server.member("u2"), &list).await;
    assert_eq!(mine["screenshots"][0]["shared"], false);
    let (status, _) = call(&server, "GET", &content, &server.member("u2"), None).await;
    assert_eq!(status, StatusCode::OK);
    let review = server
        .get_json(
            &server.service(),
            &format!("/v1/marketplace/rooms/{room}/screenshots"),
        )
        .await;
    assert_eq!(review["screenshots"].as_array().unwrap().len(), 1);
    let image = server
        .http
        .get(
            &format!("/v1/marketplace/rooms/{room}/screenshots/{id}/content"),
            &server.service(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(image.status(), StatusCode::OK);
    assert_eq!(image.bytes().await.unwrap().to_vec(), png(7));
    let (status, _) = as_member(
        &server,
        "GET",
        &format!("/v1/marketplace/rooms/{room}/screenshots/{id}/content"),
        "u2",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "review is a service act");
    // Screenshot images are not workroom files: no member or moderator file route reaches
    // them, and they cannot be attached to a message.
    let file = file_of_link(&contractor_link);
    for user in ["u1", "u2"] {
        for path in [
            format!("/v1/rooms/{room}/files/{file}"),
            format!("/v1/rooms/{room}/files/{file}/content"),
        ] {
            let (status, _) = call(&server, "GET", &path, &server.member(user), None).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{user} {path}");
        }
    }
    let m1 = crate::moderation::moderator(&server, "mod1");
    let grant =
        crate::moderation::open_grant(&server, &m1, &room, &["history", "files"], 600).await;
    let (status, _) = call(
        &server,
        "GET",
        &format!(
            "/v1/moderation/grants/{}/files/{file}/content",
            grant["id"].as_str().unwrap()
        ),
        &m1,
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "moderators read no payment-guarantee data"
    );
    let mut u2 = server.client("u2").await;
    let refused = u2
        .send_with_files(&room, "a1", "see my work", &[&file])
        .await;
    assert!(
        matches!(
            &refused,
            workroom_protocol::ServerFrame::Error {
                code: workroom_protocol::ErrorCode::Invalid,
                ..
            }
        ),
        "{refused:?}"
    );
    // Re-sharing restores it.
    let (status, _) = as_member(&server, "POST", &format!("{list}/{id}/share"), "u2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        server.get_json(&server.member("u1"), &list).await["screenshots"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let actions = audit_actions(&server).await;
    for action in [
        "screenshot.unshared",
        "screenshot.shared",
        "screenshots.reviewed",
        "screenshot.review_downloaded",
    ] {
        assert_eq!(
            actions.iter().filter(|(a, _)| a == action).count(),
            1,
            "{action}"
        );
    }
}

/// The frames `client` receives up to the next timeline event of `room` (the marker).
async fn frames_until_event(
    client: &mut workroom_tests::TestClient,
    room: &str,
) -> Vec<ServerFrame> {
    let mut seen = Vec::new();
    loop {
        let frame = client.conn.next(workroom_tests::WAIT).await.expect("frame");
        if workroom_tests::event_seq(&frame, room).is_some() {
            return seen;
        }
        seen.push(frame);
    }
}

fn is_screenshot_frame(frame: &ServerFrame) -> bool {
    matches!(
        frame,
        ServerFrame::Screenshot { .. } | ServerFrame::ScreenshotRemoved { .. }
    )
}

#[tokio::test]
async fn in_a_shared_room_only_the_contractors_team_and_while_shared_the_client_side_see_a_screenshot()
 {
    let server = TestServer::start().await;
    server.open_room("b1", "p1", "u1", "u2").await;
    let shared = server
        .open_room("b2", "p1", "u1", "u3")
        .await
        .shared_room
        .expect("the project's shared room");
    // t2 is on u2's team; u3 is another contractor of the project.
    server.put_account_member("acct-u2", "t2", "member").await;
    work_view_on(&server, "u2").await;
    let mut client = server.client("u1").await;
    let mut teammate = server.client("t2").await;
    let mut other_contractor = server.client("u3").await;
    let m1 = crate::moderation::moderator(&server, "mod1");
    let grant = crate::moderation::open_grant(&server, &m1, &shared, &["live"], 600).await;
    let mut watching = crate::moderation::watcher(&server, "mod1").await;
    let reply = watching
        .request(json!({"type": "watch", "grant": grant["id"]}))
        .await;
    assert!(matches!(reply, ServerFrame::Watching { .. }), "{reply:?}");

    let bot = server.token("tracker-1", Role::Bot, None); // acts for u2
    let (status, shot) = post_screenshot(&server, &bot, &shared, png(11)).await;
    assert_eq!(status, StatusCode::CREATED, "{shot}");
    let id = shot["id"].as_str().unwrap().to_string();
    for live in [&mut client, &mut teammate] {
        let frame = live.expect(is_screenshot_frame).await;
        assert!(
            matches!(&frame, ServerFrame::Screenshot { screenshot, .. } if screenshot.id == id && screenshot.shared),
            "{frame:?}"
        );
    }
    // A message after it marks the end: the other contractor and the moderator's live view
    // got every frame up to it, and no screenshot among them.
    let mut marker = server.client("u1").await;
    marker.send(&shared, "m1", "marker").await;
    for live in [&mut other_contractor, &mut watching] {
        let before = frames_until_event(live, &shared).await;
        assert!(!before.iter().any(is_screenshot_frame), "{before:?}");
    }

    let list = format!("/v1/rooms/{shared}/screenshots");
    let count = |seen: &serde_json::Value| seen["screenshots"].as_array().unwrap().len();
    for (user, visible) in [("u1", 1), ("t2", 1), ("u2", 1), ("u3", 0)] {
        let seen = server.get_json(&server.member(user), &list).await;
        assert_eq!(count(&seen), visible, "{user}: {seen}");
    }
    for path in [format!("{list}/{id}/content")] {
        let (status, _) = call(&server, "GET", &path, &server.member("u3"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _) = as_member(&server, "POST", &format!("{list}/{id}/link"), "u3").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Un-shared: the client side loses it (live), the team sees it as un-shared (live).
    let (status, _) = as_member(&server, "POST", &format!("{list}/{id}/unshare"), "u2").await;
    assert_eq!(status, StatusCode::OK);
    let removed = client.expect(is_screenshot_frame).await;
    assert!(
        matches!(&removed, ServerFrame::ScreenshotRemoved { id: gone, .. } if *gone == id),
        "{removed:?}"
    );
    let updated = teammate.expect(is_screenshot_frame).await;
    assert!(
        matches!(&updated, ServerFrame::Screenshot { screenshot, .. } if screenshot.id == id && !screenshot.shared),
        "{updated:?}"
    );
    for (user, visible) in [("u1", 0), ("t2", 1), ("u3", 0)] {
        let seen = server.get_json(&server.member(user), &list).await;
        assert_eq!(count(&seen), visible, "{user}: {seen}");
    }
    // To those who cannot see it, it does not exist (not "forbidden").
    for user in ["u1", "u3"] {
        let (status, _) = call(
            &server,
            "POST",
            &format!("{list}/{id}/share"),
            &server.member(user),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{user}");
    }
}

#[tokio::test]
async fn screenshots_are_listed_in_pages() {
    let server = TestServer::start_with(Box::new(|c| c.tracker.burst = 10)).await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    work_view_on(&server, "u2").await;
    let bot = server.token("tracker-1", Role::Bot, None);
    let mut posted = Vec::new();
    for seed in 1..=5 {
        let (status, shot) = post_screenshot(&server, &bot, &room, png(seed)).await;
        assert_eq!(status, StatusCode::CREATED);
        posted.push(shot["id"].as_str().unwrap().to_string());
    }
    for (token, base) in [
        (server.member("u1"), format!("/v1/rooms/{room}/screenshots")),
        (
            server.service(),
            format!("/v1/marketplace/rooms/{room}/screenshots"),
        ),
    ] {
        let mut seen = Vec::new();
        let mut path = format!("{base}?limit=2");
        loop {
            let page = server.get_json(&token, &path).await;
            let shots = page["screenshots"].as_array().unwrap();
            assert!(shots.len() <= 2);
            seen.extend(shots.iter().map(|s| s["id"].as_str().unwrap().to_string()));
            match page["next"].as_str() {
                Some(next) => path = format!("{base}?limit=2&after={next}"),
                None => break,
            }
        }
        assert_eq!(seen, posted, "{base}");
        let (status, body) = call(&server, "GET", &format!("{base}?limit=0"), &token, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
}

#[tokio::test]
async fn a_screenshot_streaming_in_when_work_view_goes_off_is_not_kept() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    work_view_on(&server, "u2").await;
    let bot = server.token("tracker-1", Role::Bot, None);
    // The image arrives in two parts; Work View is turned off between them.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|part| (part, rx))
    });
    let upload = {
        let request = server
            .http
            .post(
                &format!(
                    "/v1/tracker/screenshots?room={room}&captured_at={}&activity=40",
                    at(-60)
                ),
                &bot,
            )
            .body(reqwest::Body::wrap_stream(body));
        tokio::spawn(async move { request.send().await.unwrap() })
    };
    let image = png(9);
    let (first, rest) = image.split_at(100);
    tx.send(Ok(first.to_vec())).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let off = server
        .http
        .put("/v1/me/work-view", &server.member("u2"))
        .json(&json!({"on": false}))
        .send()
        .await
        .unwrap();
    assert!(off.status().is_success());
    let _ = tx.send(Ok(rest.to_vec())).await;
    drop(tx);
    let response = upload.await.unwrap();
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::CONFLICT, json!("conflict")),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Work View was turned off while the screenshot was uploading"),
        "refused by the check once the image is in: {body}"
    );
    let mine = server
        .get_json(
            &server.member("u2"),
            &format!("/v1/rooms/{room}/screenshots"),
        )
        .await;
    assert!(mine["screenshots"].as_array().unwrap().is_empty(), "{mine}");
    let objects = server.blob_store().await.list("files/").await.unwrap();
    assert!(objects.is_empty(), "no image kept: {objects:?}");
}

#[tokio::test]
async fn share_changes_are_rate_limited_per_contractor() {
    let server = TestServer::start_with(Box::new(|c| {
        c.tracker.share_per_minute = 1;
        c.tracker.share_burst = 2;
    }))
    .await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    work_view_on(&server, "u2").await;
    let bot = server.token("tracker-1", Role::Bot, None);
    let (_, shot) = post_screenshot(&server, &bot, &room, png(5)).await;
    let id = shot["id"].as_str().unwrap();
    let path = |change: &str| format!("/v1/rooms/{room}/screenshots/{id}/{change}");
    for change in ["unshare", "share"] {
        let (status, body) = as_member(&server, "POST", &path(change), "u2").await;
        assert_eq!(status, StatusCode::OK, "{change}: {body}");
    }
    let (status, body) = as_member(&server, "POST", &path("unshare"), "u2").await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::TOO_MANY_REQUESTS, json!("rate_limited")),
        "{body}"
    );
    // Refused before anything changed: still shared, two changes recorded.
    let seen = server
        .get_json(
            &server.member("u1"),
            &format!("/v1/rooms/{room}/screenshots"),
        )
        .await;
    assert_eq!(seen["screenshots"][0]["shared"], true);
    let actions = audit_actions(&server).await;
    let changes = actions
        .iter()
        .filter(|(a, _)| a.starts_with("screenshot.") && a.ends_with("shared"))
        .count();
    assert_eq!(changes, 2, "{actions:?}");
}
