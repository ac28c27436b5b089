//! The audit trail (C7) so far: acts recorded in the same transaction as the act, the hash
//! chain and signed checkpoints, and `workroom audit verify` catching each kind of
//! tampering done directly in the database, on SQLite and PostgreSQL.

use crate::cli::{ok, workroom};
use sea_orm::ConnectionTrait;
use serde_json::json;
use workroom_tests::TestServer;
use workroom_tests::workroom_server::config::Config;

/// A server that recorded some acts and stopped (its shutdown signs a checkpoint).
async fn seeded_trail() -> (Config, tempfile::TempDir) {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    server.open_room("b2", "p1", "u1", "u3").await; // + the shared room's membership change
    server.put_account_member("acct-u1", "v1", "viewer").await;
    server.end_contract("b1").await;
    assert!(!room.is_empty());
    server.stop().await
}

fn verify_fails(config: &Config) -> String {
    let out = workroom(config, &["audit", "verify"]);
    assert!(!out.status.success(), "tampering went unnoticed");
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[tokio::test]
async fn acts_are_recorded_and_an_untouched_trail_verifies() {
    let (config, _dir) = seeded_trail().await;
    let out = ok(workroom(&config, &["audit", "verify"]));
    assert!(out.contains("audit trail intact"), "{out}");
    let db = workroom_tests::raw_db(&config).await;
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT seq, action, actor, actor_role, target FROM audit_entries ORDER BY seq",
        ))
        .await
        .unwrap();
    let actions: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<String>("", "action").unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "room.opened",
            "room.opened",
            "room.members_changed",
            "account.member_put",
            "room.closed"
        ]
    );
    assert_eq!(
        rows[0].try_get::<String>("", "actor").unwrap(),
        "marketplace"
    );
    assert_eq!(
        rows[0].try_get::<String>("", "actor_role").unwrap(),
        "service"
    );
    // The shutdown signed a checkpoint of the head.
    let checkpoints = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT MAX(seq) AS seq FROM audit_checkpoints",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(checkpoints.try_get::<i64>("", "seq").unwrap(), 5);
}

async fn tamper(config: &Config, statements: &[&str]) {
    let db = workroom_tests::raw_db(config).await;
    for sql in statements {
        db.execute_unprepared(sql).await.unwrap();
    }
    db.close().await.unwrap();
}

#[tokio::test]
async fn an_altered_field_is_caught_at_its_entry() {
    let (config, _dir) = seeded_trail().await;
    tamper(
        &config,
        &["UPDATE audit_entries SET actor = 'mallory' WHERE seq = 3"],
    )
    .await;
    let err = verify_fails(&config);
    assert!(err.contains("entry 3 was altered"), "{err}");
}

#[tokio::test]
async fn a_deleted_entry_is_caught() {
    let (config, _dir) = seeded_trail().await;
    tamper(&config, &["DELETE FROM audit_entries WHERE seq = 2"]).await;
    let err = verify_fails(&config);
    assert!(err.contains("entry 2 is missing"), "{err}");
}

#[tokio::test]
async fn two_swapped_entries_are_caught() {
    let (config, _dir) = seeded_trail().await;
    tamper(
        &config,
        &[
            "UPDATE audit_entries SET seq = -1 WHERE seq = 2",
            "UPDATE audit_entries SET seq = 2 WHERE seq = 3",
            "UPDATE audit_entries SET seq = 3 WHERE seq = -1",
        ],
    )
    .await;
    let err = verify_fails(&config);
    assert!(err.contains("entry 2 does not follow entry 1"), "{err}");
}

#[tokio::test]
async fn a_truncated_tail_is_caught_by_the_signed_checkpoint() {
    let (config, _dir) = seeded_trail().await;
    tamper(&config, &["DELETE FROM audit_entries WHERE seq > 3"]).await;
    let err = verify_fails(&config);
    assert!(err.contains("entries after 3 were removed"), "{err}");
}

#[tokio::test]
async fn a_forged_checkpoint_is_caught_by_its_signature() {
    let (config, _dir) = seeded_trail().await;
    // A checkpoint rewritten to match an altered chain: without the signing key its
    // signature cannot match. (A chain rewritten consistently is caught the same way; see
    // the storage unit tests.)
    tamper(
        &config,
        &["UPDATE audit_checkpoints SET hash = 'ffff' || substr(hash, 5)"],
    )
    .await;
    let err = verify_fails(&config);
    assert!(err.contains("invalid signature"), "{err}");
}

#[tokio::test]
async fn the_chain_stays_linear_with_concurrent_writers_in_two_processes() {
    // The 40 writers below serialise on the chain; in a debug build on two cores, with two
    // processes on one PostgreSQL, the burst takes ~2.5 s, longer than the default wait for
    // a pooled connection (database.acquire_timeout_ms), which would shed part of it with
    // `unavailable`. This test is about the chain, so it waits.
    let a = TestServer::start_with(Box::new(|c| c.database.acquire_timeout_ms = 20_000)).await;
    let b = a.start_sibling().await;

    const EACH: usize = 20;
    let mut tasks = Vec::new();
    for (name, server) in [("a", &a), ("b", &b)] {
        for i in 0..EACH {
            let request = server
                .http
                .put(
                    &format!("/v1/marketplace/accounts/acct-{name}/members/{name}{i}"),
                    &server.service(),
                )
                .json(&json!({"role": "member"}));
            tasks.push(tokio::spawn(async move {
                let response = request.send().await.unwrap();
                assert!(response.status().is_success(), "{}", response.status());
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    let b_config = b.stop().await.0;
    let (a_config, _dir) = a.stop().await;
    let out = ok(workroom(&a_config, &["audit", "verify"]));
    assert!(
        out.contains(&format!("intact: {} entries", 2 * EACH)),
        "{out}"
    );
    drop(b_config);
}

#[tokio::test]
async fn auditors_page_and_filter_the_trail_and_nobody_else_reads_it() {
    use workroom_tests::workroom_protocol::Role;
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    server.open_room("b2", "p2", "u3", "u4").await;
    server.end_contract("b1").await;

    let auditor = server.token("aud1", Role::Auditor, None);
    let all = server.get_json(&auditor, "/v1/audit").await;
    let entries = all["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0]["seq"], 1);
    assert_eq!(entries[0]["prev_hash"], "0".repeat(64));
    assert_eq!(entries[1]["prev_hash"], entries[0]["hash"]);
    assert_eq!(entries[2]["action"], "room.closed");
    assert_eq!(entries[2]["details"]["bid"], "b1");

    // By workroom, by action, paged.
    let by_room = server
        .get_json(&auditor, &format!("/v1/audit?room={room}"))
        .await;
    let actions: Vec<&str> = by_room["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["room.opened", "room.closed"]);
    let opened = server
        .get_json(&auditor, "/v1/audit?action=room.opened&limit=1")
        .await;
    assert_eq!(opened["entries"].as_array().unwrap().len(), 1);
    let next = opened["next_after_seq"].as_u64().unwrap();
    let rest = server
        .get_json(
            &auditor,
            &format!("/v1/audit?action=room.opened&limit=1&after_seq={next}"),
        )
        .await;
    assert_eq!(rest["entries"][0]["seq"], 2);
    let future = server
        .get_json(&auditor, "/v1/audit?from=2999-01-01T00:00:00Z")
        .await;
    assert!(future["entries"].as_array().unwrap().is_empty());
    let bad = server.get_json(&auditor, "/v1/audit?from=yesterday").await;
    assert_eq!(bad["code"], "invalid");

    // Everyone else: forbidden.
    for role in [
        Role::Member,
        Role::Moderator,
        Role::Bot,
        Role::Service,
        Role::Admin,
    ] {
        let token = server.token("x", role, None);
        let response = server.http.get("/v1/audit", &token).send().await.unwrap();
        assert_eq!(
            response.status(),
            reqwest::StatusCode::FORBIDDEN,
            "{role:?}"
        );
    }
}

/// `POST /v1/audit/verify`: the check `workroom audit verify` makes, for an auditor's page.
async fn verify_over_http(server: &TestServer, token: &str) -> (u16, serde_json::Value) {
    let response = server
        .http
        .post("/v1/audit/verify", token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

#[tokio::test]
async fn auditors_verify_the_trail_over_https_and_see_where_it_was_altered() {
    let (config, dir) = seeded_trail().await;
    let server = TestServer::start_in(config, dir).await;
    let auditor = server.token("aud", workroom_protocol::Role::Auditor, None);
    let (status, result) = verify_over_http(&server, &auditor).await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["intact"], true, "{result}");
    assert!(result["entries"].as_u64().unwrap() >= 5, "{result}");
    assert!(result["checkpoints"].as_u64().unwrap() >= 1, "{result}");

    for token in [
        server.member("u1"),
        server.token("mod1", workroom_protocol::Role::Moderator, None),
        server.service(),
        server.token("adm", workroom_protocol::Role::Admin, None),
    ] {
        let (status, body) = verify_over_http(&server, &token).await;
        assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    }

    tamper(
        &server.config,
        &["UPDATE audit_entries SET actor = 'mallory' WHERE seq = 3"],
    )
    .await;
    let (status, result) = verify_over_http(&server, &auditor).await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["intact"], false, "{result}");
    assert!(
        result["problem"]
            .as_str()
            .unwrap()
            .contains("entry 3 was altered"),
        "{result}"
    );
}
