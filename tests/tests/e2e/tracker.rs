//! The Tracker's groundwork (C9): Work View, and bot tokens that read nothing and that their
//! contractor revokes with immediate effect on every request.

use crate::moderation::{audit_actions, call};
use reqwest::StatusCode;
use serde_json::json;
use workroom_protocol::Role;
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
