//! C14 authentication: tokens on the upgrade or in the first frame, pinned algorithms,
//! claims checked, tokens never in URLs, browser origins checked, expiry enforced live.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;
use workroom_client::WsError;
use workroom_protocol::{ErrorCode, Role, ServerFrame};
use workroom_server::auth::DevKey;
use workroom_tests::{TestClient, TestServer, WAIT};

fn upgrade_status(result: Result<workroom_client::Connection, WsError>) -> u16 {
    match result {
        Err(WsError::Ws(tokio_tungstenite::tungstenite::Error::Http(response))) => {
            response.status().as_u16()
        }
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("the upgrade was accepted"),
    }
}

#[tokio::test]
async fn bad_tokens_are_refused_on_the_upgrade() {
    let server = TestServer::start().await;
    let now = server.claims("u1").iat;
    let mut expired = server.claims("u1");
    expired.exp = now - 60;
    expired.iat = now - 120;
    expired.nbf = Some(now - 120);
    let mut not_yet = server.claims("u1");
    not_yet.nbf = Some(now + 600);
    let mut wrong_aud = server.claims("u1");
    wrong_aud.aud = "someone-else".into();
    let mut wrong_iss = server.claims("u1");
    wrong_iss.iss = "evil".into();
    let other_dir = tempfile::tempdir().unwrap();
    let (foreign_key, _) = DevKey::load_or_create(other_dir.path()).unwrap();
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"dev"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&server.claims("u1")).unwrap());
    let alg_none = format!("{header}.{payload}.");
    let hs_as_unknown_kid = {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT","kid":"prod-key"}"#);
        format!("{header}.{payload}.c2ln")
    };
    let cases = [
        ("expired", server.sign(&expired)),
        ("not yet valid", server.sign(&not_yet)),
        ("wrong audience", server.sign(&wrong_aud)),
        ("wrong issuer", server.sign(&wrong_iss)),
        (
            "wrong signature",
            foreign_key.sign(&server.claims("u1")).unwrap(),
        ),
        ("alg none", alg_none),
        ("unknown kid", hs_as_unknown_kid),
        ("garbage", "not.a.jwt".to_string()),
    ];
    for (name, token) in cases {
        let status = upgrade_status(server.connect_raw(Some(token.clone()), None).await);
        assert_eq!(status, 401, "{name}");
        let r = server.http.get("/v1/rooms", &token).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{name} over HTTP");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["code"], "unauthorized");
    }
    // A valid token works.
    assert!(
        server
            .connect_raw(Some(server.member("u1")), None)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn tokens_in_urls_are_refused() {
    let server = TestServer::start().await;
    let token = server.member("u1");
    let r = server
        .http
        .inner
        .get(server.http.url(&format!("/v1/rooms?access_token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = server
        .http
        .inner
        .get(server.http.url(&format!("/v1/ws?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn browsers_authenticate_with_the_first_frame() {
    let server = TestServer::start_with(Box::new(|c| {
        c.auth.auth_timeout_secs = 1;
        c.auth.allowed_origins = vec!["https://marketplace.example".into()];
    }))
    .await;
    // Good token in the first frame.
    let mut conn = server
        .connect_raw(None, Some("https://marketplace.example".into()))
        .await
        .unwrap();
    conn.send_text(&json!({"type": "auth", "token": server.member("u1")}).to_string())
        .await
        .unwrap();
    assert!(
        matches!(conn.next(WAIT).await.unwrap(), ServerFrame::Hello { ref user, .. } if user == "u1")
    );

    // Bad token in the first frame: error, then close 1008.
    let mut conn = server.connect_raw(None, None).await.unwrap();
    conn.send_text(&json!({"type": "auth", "token": "bad"}).to_string())
        .await
        .unwrap();
    assert!(matches!(
        conn.next(WAIT).await.unwrap(),
        ServerFrame::Error {
            code: ErrorCode::Unauthorized,
            ..
        }
    ));
    assert!(matches!(
        conn.next(WAIT).await,
        Err(WsError::Closed(Some((1008, _))))
    ));

    // Anything but auth first: refused.
    let mut conn = server.connect_raw(None, None).await.unwrap();
    conn.send_text(&json!({"type": "ping"}).to_string())
        .await
        .unwrap();
    assert!(matches!(
        conn.next(WAIT).await.unwrap(),
        ServerFrame::Error {
            code: ErrorCode::Unauthorized,
            ..
        }
    ));

    // Silence: closed after the auth timeout.
    let mut conn = server.connect_raw(None, None).await.unwrap();
    assert!(matches!(
        conn.next(WAIT).await.unwrap(),
        ServerFrame::Error {
            code: ErrorCode::Unauthorized,
            ..
        }
    ));
    assert!(matches!(
        conn.next(WAIT).await,
        Err(WsError::Closed(Some((1008, _))))
    ));

    // Foreign origins are refused before upgrading; the server's own origin is allowed.
    let status = upgrade_status(
        server
            .connect_raw(
                Some(server.member("u1")),
                Some("https://evil.example".into()),
            )
            .await,
    );
    assert_eq!(status, 403);
    let own = format!("https://localhost:{}", server.addr.port());
    assert!(
        server
            .connect_raw(Some(server.member("u1")), Some(own))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn an_open_session_ends_when_its_token_expires() {
    let server = TestServer::start().await;
    let token = server.token_ttl("u1", Role::Member, None, 2);
    let mut conn = server.connect_raw(Some(token), None).await.unwrap();
    assert!(matches!(
        conn.next(WAIT).await.unwrap(),
        ServerFrame::Hello { .. }
    ));
    let started = std::time::Instant::now();
    server.clock.advance(Duration::from_secs(3));
    let frame = conn.next(Duration::from_secs(10)).await.unwrap();
    assert!(
        matches!(
            frame,
            ServerFrame::Error {
                code: ErrorCode::Unauthorized,
                ..
            }
        ),
        "{frame:?}"
    );
    assert!(matches!(
        conn.next(WAIT).await,
        Err(WsError::Closed(Some((1008, _))))
    ));
    assert!(started.elapsed() < Duration::from_secs(8));
}

#[tokio::test]
async fn only_members_and_moderators_open_sessions() {
    let server = TestServer::start().await;
    server.open_room("b1", "p1", "u1", "u2").await;
    // A moderator's session starts with no rooms: it sees one only by watching under a grant.
    let moderator = TestClient::connect(
        &server,
        Some(server.token("mod1", Role::Moderator, None)),
        None,
    )
    .await
    .expect("moderator session");
    assert!(moderator.rooms.is_empty());
    for role in [
        Role::Bot,
        Role::Service,
        Role::Auditor,
        Role::Legal,
        Role::Admin,
    ] {
        let status = upgrade_status(
            server
                .connect_raw(Some(server.token("x", role, None)), None)
                .await,
        );
        assert_eq!(status, 403, "{role:?}");
    }
}
