//! Reciprocal contact release (C8) through the real server: details kept encrypted and
//! validated, released both ways in one transaction or not at all, live events, the audit
//! entry, idempotence, current details, and no path for anyone else.

use crate::moderation::{audit_actions, call};
use reqwest::StatusCode;
use serde_json::{Value, json};
use workroom_protocol::{Role, ServerFrame};
use workroom_tests::TestServer;

fn details(name: &str) -> Value {
    json!({"name": name, "company": format!("{name} Ltd"), "phone": "+44 20 7946 0958", "address": "1 Long Lane\nLondon"})
}

/// `user` asks for the other side's details in `room` (no `with`).
async fn release(server: &TestServer, room: &str, user: &str) -> (StatusCode, Value) {
    call(
        server,
        "POST",
        &format!("/v1/rooms/{room}/contacts/release"),
        &server.member(user),
        Some(json!({})),
    )
    .await
}

/// The details released to `user` in `room`.
async fn released_to(server: &TestServer, room: &str, user: &str) -> Vec<Value> {
    let seen = server
        .get_json(&server.member(user), &format!("/v1/rooms/{room}/contacts"))
        .await;
    seen["contacts"].as_array().expect("contacts").clone()
}

async fn put_contact(server: &TestServer, user: &str, body: Value) -> (StatusCode, Value) {
    let response = server
        .http
        .put("/v1/me/contact", &server.member(user))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn asking_releases_both_sides_at_once_live_and_audited_and_shows_current_details() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    assert_eq!(
        put_contact(&server, "u1", details("Clara Client")).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        put_contact(&server, "u2", details("Cole Contractor"))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let own = server
        .get_json(&server.member("u1"), "/v1/me/contact")
        .await;
    assert_eq!(own["name"], "Clara Client");
    let mut u1 = server.client("u1").await;
    let mut u2 = server.client("u2").await;

    assert!(released_to(&server, &room, "u1").await.is_empty());
    // The contractor asks; the client's details come back and the contractor's go out.
    let (status, released) = release(&server, &room, "u2").await;
    assert_eq!(status, StatusCode::OK, "{released}");
    assert_eq!(released["with"], "u1");
    assert_eq!(released["newly"], true);
    for client in [&mut u1, &mut u2] {
        let event = client
            .expect(|f| matches!(f, ServerFrame::ContactReleased { .. }))
            .await;
        let ServerFrame::ContactReleased { between, .. } = event else {
            unreachable!()
        };
        assert_eq!(between, ["u2".to_string(), "u1".to_string()]);
    }
    let to_u2 = released_to(&server, &room, "u2").await;
    assert_eq!(to_u2[0]["user"], "u1");
    assert_eq!(to_u2[0]["details"]["name"], "Clara Client");
    let to_u1 = released_to(&server, &room, "u1").await;
    assert_eq!(to_u1[0]["details"]["phone"], "+44 20 7946 0958");

    // Asking again changes nothing and records nothing new.
    let (_, again) = release(&server, &room, "u1").await;
    assert_eq!(again["newly"], false);
    let actions = audit_actions(&server).await;
    assert_eq!(
        actions
            .iter()
            .filter(|(a, _)| a == "contact.released")
            .count(),
        1
    );

    // Readers always see the current details.
    put_contact(&server, "u1", details("Clara Renamed")).await;
    let to_u2 = released_to(&server, &room, "u2").await;
    assert_eq!(to_u2[0]["details"]["name"], "Clara Renamed");

    // Stored sealed: the database never holds the details in clear.
    let db = server.raw_db().await;
    use sea_orm::ConnectionTrait;
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT * FROM contacts",
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert!(!format!("{rows:?}").contains("Long Lane"));
}

#[tokio::test]
async fn contact_details_are_validated() {
    let server = TestServer::start().await;
    for (field, value) in [
        ("name", json!("")),
        ("name", json!("x".repeat(201))),
        ("phone", json!("call me")),
        ("phone", json!("12")),
        ("phone", json!("1".repeat(25))),
        ("address", json!("")),
        ("address", json!("y".repeat(501))),
        ("company", json!("bad\u{7}bell")),
    ] {
        let mut body = details("Ann");
        body[field] = value;
        let (status, reply) = put_contact(&server, "u1", body).await;
        assert_eq!(
            (status, reply["code"].clone()),
            (StatusCode::BAD_REQUEST, json!("invalid")),
            "{field}"
        );
    }
    let (status, _) = put_contact(
        &server,
        "u1",
        json!({"name": "Ann", "phone": "555 0100", "address": "x", "extra": 1}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(&server, "GET", "/v1/me/contact", &server.member("u1"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was stored");
}

#[tokio::test]
async fn a_requester_without_details_releases_nothing() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    put_contact(&server, "u1", details("Clara Client")).await;
    let (status, body) = release(&server, &room, "u2").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["message"].as_str().unwrap().contains("/v1/me/contact"));
    for user in ["u1", "u2"] {
        let seen = released_to(&server, &room, user).await;
        assert!(seen.is_empty(), "{user}: {seen:?}");
    }
}

#[tokio::test]
async fn a_failure_between_the_two_releases_releases_neither() {
    use sea_orm::ConnectionTrait;
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    put_contact(&server, "u1", details("Clara Client")).await;
    put_contact(&server, "u2", details("Cole Contractor")).await;
    // A real database fault on the second of the two inserts (they go in a fixed order:
    // u1→u2, then u2→u1).
    let db = server.raw_db().await;
    let sqlite = db.get_database_backend() == sea_orm::DbBackend::Sqlite;
    let fault: &[&str] = if sqlite {
        &[
            "CREATE TRIGGER fail_second BEFORE INSERT ON contact_releases WHEN NEW.to_user = 'u1' \
           BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
        ]
    } else {
        &[
            "CREATE FUNCTION fail_second() RETURNS trigger AS $$ BEGIN \
             IF NEW.to_user = 'u1' THEN RAISE EXCEPTION 'injected fault'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER fail_second BEFORE INSERT ON contact_releases FOR EACH ROW EXECUTE FUNCTION fail_second()",
        ]
    };
    for sql in fault {
        db.execute_unprepared(sql).await.unwrap();
    }
    let (status, _) = release(&server, &room, "u2").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    for user in ["u1", "u2"] {
        let seen = released_to(&server, &room, user).await;
        assert!(seen.is_empty(), "{user}: {seen:?}");
    }
    assert!(
        !audit_actions(&server)
            .await
            .iter()
            .any(|(a, _)| a == "contact.released")
    );
    // Once the fault is gone, the same request releases both.
    db.execute_unprepared("DROP TRIGGER fail_second").await.ok();
    if !sqlite {
        db.execute_unprepared("DROP TRIGGER IF EXISTS fail_second ON contact_releases")
            .await
            .unwrap();
    }
    let (status, _) = release(&server, &room, "u2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(released_to(&server, &room, "u1").await.len(), 1);
}

#[tokio::test]
async fn nothing_is_released_to_a_party_who_left_the_workroom() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    for user in ["u1", "u2"] {
        put_contact(&server, user, details(user)).await;
    }
    // The contractor leaves their account: they no longer see the workroom.
    server.remove_account_member("acct-u2", "u2").await;
    let (status, body) = release(&server, &room, "u1").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let seen = released_to(&server, &room, "u1").await;
    assert!(seen.is_empty(), "{seen:?}");
}

#[tokio::test]
async fn no_path_to_details_for_team_members_strangers_other_roles_or_past_retention() {
    let server = TestServer::start_with(Box::new(|c| c.retention.closed_room_secs = 1)).await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let elsewhere = server.open_room("b2", "p2", "u3", "u4").await.room;
    for user in ["u1", "u2", "u3", "v1"] {
        put_contact(&server, user, details(user)).await;
    }
    // A viewer of the client's account sees the room, but is not a contract party.
    server.put_account_member("acct-u1", "v1", "viewer").await;
    let release = format!("/v1/rooms/{room}/contacts/release");
    let read = format!("/v1/rooms/{room}/contacts");
    call(
        &server,
        "POST",
        &release,
        &server.member("u2"),
        Some(json!({})),
    )
    .await;
    let (status, _) = call(&server, "GET", &read, &server.member("v1"), None).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "team viewers do not see released details"
    );
    let (status, _) = call(
        &server,
        "POST",
        &release,
        &server.member("v1"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Strangers, and a party of another room: the room does not exist for them.
    for user in ["u3", "stranger"] {
        for (method, path) in [("GET", &read), ("POST", &release)] {
            let (status, _) =
                call(&server, method, path, &server.member(user), Some(json!({}))).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{user} {method} {path}");
        }
    }
    // Naming someone not on the other side is refused.
    let (_, bad) = call(
        &server,
        "POST",
        &release,
        &server.member("u2"),
        Some(json!({"with": "u3"})),
    )
    .await;
    assert_eq!(bad["code"], "invalid");
    // Other roles have no path.
    for token in [
        server.token("mod1", Role::Moderator, None),
        server.token("bot1", Role::Bot, None),
        server.token("aud", Role::Auditor, None),
        server.service(),
    ] {
        for (method, path) in [
            ("GET", read.as_str()),
            ("POST", release.as_str()),
            ("GET", "/v1/me/contact"),
        ] {
            let (status, _) = call(&server, method, path, &token, Some(json!({}))).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
        }
    }
    // Another workroom of the same two people is another path: nothing released there.
    let second = server.open_room("b3", "p3", "u1", "u2").await.room;
    for user in ["u1", "u2"] {
        let (status, none) = call(
            &server,
            "GET",
            &format!("/v1/rooms/{second}/contacts"),
            &server.member(user),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(none["contacts"].as_array().unwrap().is_empty(), "{user}");
    }
    let (status, there) = call(&server, "GET", &read, &server.member("u1"), None).await;
    assert_eq!(status, StatusCode::OK, "released in the first room");
    assert_eq!(there["contacts"].as_array().unwrap().len(), 1, "{there}");
    let (_, none) = call(
        &server,
        "GET",
        &format!("/v1/rooms/{elsewhere}/contacts"),
        &server.member("u3"),
        None,
    )
    .await;
    assert!(none["contacts"].as_array().unwrap().is_empty());
    // Closed past its retention: no path any more.
    let (status, _) = call(&server, "GET", &read, &server.member("u1"), None).await;
    assert_eq!(status, StatusCode::OK);
    server.end_contract("b1").await;
    server.clock.advance(std::time::Duration::from_millis(1200));
    for (method, path) in [("GET", &read), ("POST", &release)] {
        let (status, body) =
            call(&server, method, path, &server.member("u1"), Some(json!({}))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method}: {body}");
        assert!(body["message"].as_str().unwrap().contains("retention"));
    }
}
