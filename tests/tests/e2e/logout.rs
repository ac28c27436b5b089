//! Logout and token revocation (C14): a logged-out token is refused on every route, upgrade
//! and `auth` frame, its open session closes within a second (on this node at once, on
//! another node through the revocations it reads from the audit trail), the refusal
//! survives a restart, and the revocation is dropped once the token would have expired
//! anyway. The marketplace revokes every token of a user issued before a time.

use crate::cli::{ok, workroom};
use crate::retention::{count, lifecycle_server};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;
use workroom_client::WsError;
use workroom_protocol::ServerFrame;
use workroom_tests::{TestClient, TestServer, eventually};

/// Wait for the session to close with 1008 after an `unauthorized` error.
async fn closed_as_revoked(client: &mut TestClient) {
    loop {
        match client.conn.next(Duration::from_secs(3)).await {
            Ok(ServerFrame::Error { message, .. }) => {
                assert!(message.contains("revoked"), "{message}")
            }
            Ok(_) => continue,
            Err(WsError::Closed(Some((1008, _)))) => return,
            Err(other) => panic!("expected a 1008 close, got {other:?}"),
        }
    }
}

async fn refused_everywhere(server: &TestServer, token: &str) {
    let response = server.http.get("/v1/rooms", token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = server
        .http
        .post("/v1/me/logout", token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // The upgrade with the header, and the first-frame `auth` of browsers.
    assert!(
        TestClient::connect(server, Some(token.to_string()), None)
            .await
            .is_err()
    );
    let mut conn = server.connect_raw(None, None).await.unwrap();
    conn.send_text(&json!({"type": "auth", "token": token}).to_string())
        .await
        .unwrap();
    loop {
        match conn.next(Duration::from_secs(5)).await {
            Ok(ServerFrame::Hello { .. }) => panic!("a revoked token opened a session"),
            Ok(_) => continue,
            Err(_) => break,
        }
    }
}

#[tokio::test]
async fn a_logged_out_token_is_refused_everywhere_and_its_session_closes() {
    let server = lifecycle_server().await;
    let room = server.open_room("b1", "p1", "lc1", "lk1").await.room;
    let first = server.member("lc1");
    let second = server.member("lc1");
    let mut on_first = TestClient::connect(&server, Some(first.clone()), None)
        .await
        .unwrap();
    let mut on_second = TestClient::connect(&server, Some(second.clone()), None)
        .await
        .unwrap();
    let response = server
        .http
        .post("/v1/me/logout", &first)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    tokio::time::timeout(Duration::from_secs(1), closed_as_revoked(&mut on_first))
        .await
        .expect("closed within a second");
    refused_everywhere(&server, &first).await;
    // The user's other token is untouched.
    assert!(matches!(
        on_second.send(&room, "still", "still here").await,
        ServerFrame::Ack { .. }
    ));
    // A moderator can log out too.
    let moderator = server.token("mod1", workroom_protocol::Role::Moderator, None);
    let response = server
        .http
        .post("/v1/me/logout", &moderator)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = server
        .http
        .get("/v1/moderation/grants", &moderator)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        count(
            &server,
            "SELECT COUNT(*) FROM audit_entries WHERE action = 'token.revoked'"
        )
        .await,
        2
    );

    // It survives a restart.
    let (config, dir) = server.stop().await;
    let server = TestServer::start_in(config, dir).await;
    refused_everywhere(&server, &first).await;
    // Once the token would have expired anyway, its revocation goes.
    assert_eq!(
        count(&server, "SELECT COUNT(*) FROM revoked_tokens").await,
        2
    );
    server.clock.advance(Duration::from_secs(7200));
    eventually(Duration::from_secs(10), "the revocation sweep", || async {
        (count(&server, "SELECT COUNT(*) FROM revoked_tokens").await == 0).then_some(())
    })
    .await;
    // The revocations and the sweep are in the chain, which verifies.
    let (config, _dir) = server.stop().await;
    let out = ok(workroom(&config, &["audit", "verify"]));
    assert!(out.contains("audit trail intact"), "{out}");
}

#[tokio::test]
async fn a_logout_on_one_node_closes_the_session_on_another() {
    let server = lifecycle_server().await;
    server.open_room("b1", "p1", "nc1", "nk1").await;
    let sibling = server.start_sibling().await;
    let token = server.member("nc1");
    let mut there = TestClient::connect(&sibling, Some(token.clone()), None)
        .await
        .unwrap();
    let response = server
        .http
        .post("/v1/me/logout", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    tokio::time::timeout(Duration::from_secs(3), closed_as_revoked(&mut there))
        .await
        .expect("closed on the other node within the poll interval");
    let refused = sibling.http.get("/v1/rooms", &token).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_marketplace_revokes_every_token_issued_before_a_time() {
    let server = lifecycle_server().await;
    let room = server.open_room("b1", "p1", "rc1", "rk1").await.room;
    let old = server.member("rk1");
    let mut session = TestClient::connect(&server, Some(old.clone()), None)
        .await
        .unwrap();
    let response = server
        .http
        .post("/v1/marketplace/users/rk1/revoke-tokens", &server.service())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    tokio::time::timeout(Duration::from_secs(1), closed_as_revoked(&mut session))
        .await
        .expect("closed within a second");
    refused_everywhere(&server, &old).await;
    // Tokens issued after the revocation work (tokens carry whole seconds: the second of
    // the revocation itself is refused too).
    server.clock.advance(Duration::from_secs(2));
    let mut fresh = server.client("rk1").await;
    assert!(matches!(
        fresh.send(&room, "new", "back").await,
        ServerFrame::Ack { .. }
    ));
    // Unknown users are `not_found`; members may not revoke.
    let unknown = server
        .http
        .post(
            "/v1/marketplace/users/nobody/revoke-tokens",
            &server.service(),
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let by_member = server
        .http
        .post(
            "/v1/marketplace/users/rk1/revoke-tokens",
            &server.member("rc1"),
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(by_member.status(), StatusCode::FORBIDDEN);
}
