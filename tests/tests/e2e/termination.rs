//! Termination (C10): a member's termination ends their access at once, erases their
//! personal data for good and leaves their messages readable as a former member's; a
//! violation leaves only the ban record; a team account's termination closes its
//! workrooms; a legal hold on the person defers the erasure, never the end of access.

use crate::cli::{ok, workroom};
use crate::retention::{admin, count, data_files_containing, legal, lifecycle_server, seeded_room};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use workroom_client::WsError;
use workroom_protocol::ServerFrame;
use workroom_tests::{TestClient, TestServer, eventually};

async fn terminate(server: &TestServer, user: &str, reason: &str) -> Value {
    let response = server
        .http
        .post(
            &format!("/v1/marketplace/users/{user}/terminate"),
            &server.service(),
        )
        .json(&json!({ "reason": reason }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Tables outside the audit trail that may name a user.
async fn rows_naming(server: &TestServer, user: &str) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for (table, column) in [
        ("messages", "sender_id"),
        ("files", "uploader_id"),
        ("screenshots", "contractor_id"),
        ("reports", "reporter_id"),
        ("room_parties", "user_id"),
        ("read_markers", "user_id"),
        ("account_members", "user_id"),
        ("contacts", "user_id"),
        ("connection_users", "user_id"),
        ("contact_releases", "from_user"),
        ("contact_releases", "to_user"),
        ("work_view", "user_id"),
        ("revoked_tokens", "user_id"),
    ] {
        let n = count(
            server,
            &format!("SELECT COUNT(*) FROM {table} WHERE {column} = '{user}'"),
        )
        .await;
        out.push((format!("{table}.{column}"), n));
    }
    out
}

#[tokio::test]
async fn a_terminated_member_leaves_as_a_former_member_with_nothing_personal_left() {
    let server = lifecycle_server().await;
    let (room, _) = seeded_room(&server, "b1", "tc1", "tk1", "coral-finch").await;
    // The contractor writes too, and is connected when the marketplace terminates them.
    let mut contractor = server.client("tk1").await;
    for i in 0..3 {
        let sent = contractor
            .send(&room, &format!("k{i}"), &format!("contractor words {i}"))
            .await;
        assert!(matches!(sent, ServerFrame::Ack { .. }));
    }
    let mut client = server.client("tc1").await;
    let before = server
        .get_json(&server.member("tc1"), &format!("/v1/rooms/{room}/members"))
        .await;
    assert!(before.to_string().contains("tk1@example.com"), "{before}");
    let old_token = server.member("tk1");

    let outcome = terminate(&server, "tk1", "closed").await;
    assert_eq!(outcome["terminated_now"], true, "{outcome}");
    assert_eq!(outcome["erasure"], "erased", "{outcome}");
    assert_eq!(
        outcome["closed_rooms"],
        json!([room]),
        "alone on their side: {outcome}"
    );

    // Their session closes at once; their tokens are refused everywhere.
    let closed = loop {
        match contractor.conn.next(Duration::from_secs(5)).await {
            Ok(ServerFrame::Error { message, .. }) => {
                assert!(message.contains("revoked"), "{message}")
            }
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    assert!(
        matches!(closed, WsError::Closed(Some((1008, _)))),
        "{closed:?}"
    );
    let refused = server
        .http
        .get("/v1/rooms", &old_token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let fresh = server.member("tk1");
    let refused = server.http.get("/v1/rooms", &fresh).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "new tokens too");
    assert!(
        TestClient::connect(&server, Some(fresh), None)
            .await
            .is_err()
    );
    // The other side is told the room closed.
    client
        .expect(|f| matches!(f, ServerFrame::RoomClosed { .. }))
        .await;

    // Their messages read as a former member's, bodies intact, same label everywhere.
    let page = server
        .get_json(&server.member("tc1"), &format!("/v1/rooms/{room}/messages"))
        .await;
    let from_former: Vec<&Value> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["sender"].as_str().unwrap().starts_with("former~"))
        .collect();
    assert_eq!(from_former.len(), 3, "{page}");
    assert!(
        from_former[0]["body"]
            .as_str()
            .unwrap()
            .starts_with("contractor words")
    );
    let label = from_former[0]["sender"].as_str().unwrap();
    assert!(from_former.iter().all(|m| m["sender"] == label));
    let members = server
        .get_json(&server.member("tc1"), &format!("/v1/rooms/{room}/members"))
        .await;
    let former: Vec<&Value> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["former"] == true)
        .collect();
    assert_eq!(former.len(), 1, "{members}");
    assert_eq!(former[0]["user"], label);
    assert!(former[0].get("name").is_none() && former[0].get("email").is_none());
    // Only their team account's id remains (an account is not a person).
    let text = members.to_string();
    assert!(
        !text.contains("\"tk1\"") && !text.contains("tk1@"),
        "{members}"
    );
    // What was released to the other side is gone with them.
    let released = server
        .get_json(&server.member("tc1"), &format!("/v1/rooms/{room}/contacts"))
        .await;
    assert!(
        !released.to_string().contains("coral-finch tk1"),
        "{released}"
    );

    // Nothing outside the audit trail names them; their key is destroyed.
    for (place, n) in rows_naming(&server, "tk1").await {
        assert_eq!(n, 0, "{place} still names tk1");
    }
    let live = count(
        &server,
        "SELECT COUNT(*) FROM data_keys WHERE id = 'person:tk1' AND wrapped IS NOT NULL",
    )
    .await;
    assert_eq!(live, 0);
    for needle in ["tk1@example.com", "Name tk1", "coral-finch tk1"] {
        assert!(
            data_files_containing(&server, needle).is_empty(),
            "{needle}"
        );
    }
    // The client's own data stays.
    let own = server
        .get_json(&server.member("tc1"), "/v1/me/contact")
        .await;
    assert!(own.to_string().contains("coral-finch tc1"), "{own}");
    // A repeat changes nothing; a new bid with them is refused.
    let again = terminate(&server, "tk1", "closed").await;
    assert_eq!(again["terminated_now"], false);
    let bid = server
        .http
        .post("/v1/marketplace/bids/b9/accept", &server.service())
        .json(&json!({
            "project": "p9",
            "client": {"user": "tc1", "account": "acct-tc1", "name": "C", "email": "tc1@example.com"},
            "contractor": {"user": "tk1", "account": "acct-tk9", "name": "K", "email": "tk1@example.com"},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(bid.status(), StatusCode::CONFLICT);
    // No ban for a member who left.
    let ban = server
        .get_json(&server.service(), "/v1/marketplace/bans/tk1")
        .await;
    assert_eq!(ban["banned"], false, "{ban}");
    for action in ["user.terminated", "user.erased"] {
        let n = count(
            &server,
            &format!("SELECT COUNT(*) FROM audit_entries WHERE action = '{action}'"),
        )
        .await;
        assert_eq!(n, 1, "{action}");
    }
    let (config, _dir) = server.stop().await;
    let out = ok(workroom(&config, &["audit", "verify"]));
    assert!(out.contains("audit trail intact"), "{out}");
}

#[tokio::test]
async fn a_violation_leaves_only_the_ban_record() {
    let server = lifecycle_server().await;
    server.open_room("b1", "p1", "vc1", "vk1").await;
    let outcome = terminate(&server, "vk1", "violation").await;
    assert_eq!(outcome["erasure"], "erased");
    let by_user = server
        .get_json(&server.service(), "/v1/marketplace/bans/vk1")
        .await;
    assert_eq!(by_user["banned"], true, "{by_user}");
    assert_eq!(by_user["reason"], "violation");
    assert!(by_user["banned_at"].is_string());
    // The email matches whatever its case and blanks; another does not.
    for (email, banned) in [
        ("vk1@example.com", true),
        (" VK1@Example.COM ", true),
        ("vc1@example.com", false),
    ] {
        let answer: Value = server
            .http
            .post("/v1/marketplace/bans/check", &server.service())
            .json(&json!({ "email": email.trim() }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["banned"], banned, "{email}: {answer}");
    }
    // The record: two keyed hashes, a reason code and a date, nothing else.
    let db = server.raw_db().await;
    use sea_orm::ConnectionTrait;
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT identity_hash, kind, reason_code, banned_at FROM bans ORDER BY kind",
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    for row in &rows {
        let hash: String = row.try_get_by_index(0).unwrap();
        assert_eq!(hash.len(), 64);
        assert!(!hash.contains("vk1"));
    }
    assert!(data_files_containing(&server, "vk1@example.com").is_empty());
    // The terminated user's tokens are refused; a service may not be refused the check.
    let refused = server
        .http
        .get("/v1/rooms", &server.member("vk1"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let ban_by_member = server
        .http
        .get("/v1/marketplace/bans/vk1", &server.member("vc1"))
        .send()
        .await
        .unwrap();
    assert_eq!(ban_by_member.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_terminated_account_closes_its_workrooms() {
    let server = lifecycle_server().await;
    let room = server.open_room("b1", "p1", "ac1", "ak1").await.room;
    server.put_account_member("acct-ak1", "ak2", "member").await;
    let mut other_side = server.client("ac1").await;
    let response = server
        .http
        .post(
            "/v1/marketplace/accounts/acct-ak1/terminate",
            &server.service(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let outcome: Value = response.json().await.unwrap();
    assert_eq!(outcome["closed_rooms"], json!([room]), "{outcome}");
    // Its members lose the room; the other side keeps it, read-only.
    for user in ["ak1", "ak2"] {
        let page = server
            .http
            .get(&format!("/v1/rooms/{room}/messages"), &server.member(user))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::NOT_FOUND, "{user}");
    }
    other_side
        .expect(|f| matches!(f, ServerFrame::RoomClosed { .. }))
        .await;
    let refused = other_side.send(&room, "late", "anyone there?").await;
    assert!(
        matches!(&refused, ServerFrame::Error { code, .. } if *code == workroom_protocol::ErrorCode::Conflict),
        "{refused:?}"
    );
    // The account takes no new members.
    let put = server
        .http
        .put(
            "/v1/marketplace/accounts/acct-ak1/members/ak3",
            &server.service(),
        )
        .json(&json!({"role": "member"}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::CONFLICT);
    let n = count(
        &server,
        "SELECT COUNT(*) FROM audit_entries WHERE action = 'account.terminated'",
    )
    .await;
    assert_eq!(n, 1);
}

#[tokio::test]
async fn a_hold_on_a_person_defers_their_erasure_but_not_the_end_of_their_access() {
    let server = lifecycle_server().await;
    let room = server.open_room("b1", "p1", "hc1", "hk1").await.room;
    let hold: Value = server
        .http
        .post("/v1/legal/holds", &legal(&server))
        .json(&json!({"request_id": "LR-7", "scope": "user", "target": "hk1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let outcome = terminate(&server, "hk1", "violation").await;
    assert_eq!(outcome["erasure"], "deferred", "{outcome}");
    let refused = server
        .http
        .get("/v1/rooms", &server.member("hk1"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused.status(),
        StatusCode::UNAUTHORIZED,
        "access ends at once"
    );
    // Their data is kept while held, and the deferral is visible.
    let live = count(
        &server,
        "SELECT COUNT(*) FROM data_keys WHERE id = 'person:hk1' AND wrapped IS NOT NULL",
    )
    .await;
    assert_eq!(live, 1);
    let erasures = server.get_json(&admin(&server), "/v1/admin/erasures").await;
    assert_eq!(erasures["erasures"][0]["key"], "person:hk1", "{erasures}");
    assert_eq!(erasures["erasures"][0]["why"], "termination");
    // The operator's view, and `keys destroy` deferred the same way (run on the stopped
    // server's data, as the other key tests do: a CLI write beside a running SQLite server
    // can wait on its write lock; see the issue 13 note).
    let (config, dir) = server.stop().await;
    let listed = ok(workroom(&config, &["erasures"]));
    assert!(listed.contains("person:hk1"), "{listed}");
    let destroy = ok(workroom(
        &config,
        &["keys", "destroy", "--room", &room, "--confirm"],
    ));
    assert!(destroy.contains("deferred"), "{destroy}");
    let server = TestServer::start_in(config, dir).await;

    let lifted = server
        .http
        .post(
            &format!("/v1/legal/holds/{}/lift", hold["id"].as_str().unwrap()),
            &legal(&server),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(lifted.status(), StatusCode::OK);
    eventually(Duration::from_secs(20), "the deferred erasure", || async {
        let live = count(
            &server,
            "SELECT COUNT(*) FROM data_keys WHERE id = 'person:hk1' AND wrapped IS NOT NULL",
        )
        .await;
        (live == 0).then_some(())
    })
    .await;
    eventually(Duration::from_secs(20), "the relabelling", || async {
        let members = server
            .get_json(&server.member("hc1"), &format!("/v1/rooms/{room}/members"))
            .await;
        members.to_string().contains("former~").then_some(())
    })
    .await;
    eventually(Duration::from_secs(20), "the deferred key destruction", || async {
        let live = count(
            &server,
            &format!("SELECT COUNT(*) FROM data_keys WHERE id = 'room:{room}' AND wrapped IS NOT NULL"),
        )
        .await;
        (live == 0).then_some(())
    })
    .await;
    eventually(
        Duration::from_secs(20),
        "no erasure left deferred",
        || async {
            let list = server.get_json(&admin(&server), "/v1/admin/erasures").await;
            list["erasures"].as_array()?.is_empty().then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn a_terminated_team_member_is_relabelled_in_their_accounts_workrooms() {
    let server = lifecycle_server().await;
    let room = server.open_room("b1", "p1", "xc1", "xk1").await.room;
    server.put_account_member("acct-xk1", "xk2", "member").await;
    let mut member = server.client("xk2").await;
    for i in 0..2 {
        let sent = member
            .send(&room, &format!("t{i}"), &format!("team words {i}"))
            .await;
        assert!(matches!(sent, ServerFrame::Ack { .. }), "{sent:?}");
    }
    let outcome = terminate(&server, "xk2", "closed").await;
    assert_eq!(outcome["erasure"], "erased", "{outcome}");
    assert_eq!(
        outcome["closed_rooms"],
        json!([]),
        "the contractor is still there: {outcome}"
    );
    let page = server
        .get_json(&server.member("xc1"), &format!("/v1/rooms/{room}/messages"))
        .await;
    let senders: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["sender"].as_str().unwrap())
        .collect();
    assert_eq!(senders.len(), 2, "{page}");
    assert!(senders.iter().all(|s| s.starts_with("former~")), "{page}");
    for (place, n) in rows_naming(&server, "xk2").await {
        assert_eq!(n, 0, "{place} still names xk2");
    }
    let erasures = server.get_json(&admin(&server), "/v1/admin/erasures").await;
    assert_eq!(
        erasures["erasures"].as_array().unwrap().len(),
        0,
        "{erasures}"
    );
}
