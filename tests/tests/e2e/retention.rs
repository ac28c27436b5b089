//! Retention and purge of closed workrooms (C10), through the real server on the
//! controllable clock: the global period and a room's own, what a purge leaves (a
//! tombstone, audit entries) and removes (rows, stored objects, the room key), members
//! told it is gone, legal holds deferring it, typed refusals, and the audit chain intact.

use crate::cli::{ok, workroom};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use std::time::Duration;
use workroom_protocol::http::FileInfo;
use workroom_protocol::{Role, ServerFrame};
use workroom_tests::{TestServer, eventually};

pub(crate) const DAY: u64 = 86_400;

/// A server whose lifecycle task looks for work every second, with 1-day retention.
pub(crate) async fn lifecycle_server() -> TestServer {
    TestServer::start_with(Box::new(|config| {
        config.retention.check_secs = 1;
        config.retention.closed_room_secs = DAY;
        config.retention.purge_batch = 7;
    }))
    .await
}

pub(crate) fn legal(server: &TestServer) -> String {
    server.token("officer-1", Role::Legal, None)
}

pub(crate) fn admin(server: &TestServer) -> String {
    server.token("admin-1", Role::Admin, None)
}

/// One value from the raw database.
pub(crate) async fn count(server: &TestServer, sql: &str) -> i64 {
    let db = server.raw_db().await;
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    let value = row.try_get_by_index::<i64>(0).unwrap();
    db.close().await.unwrap();
    value
}

/// Every file of the server's SQLite data dir containing `needle` (none on PostgreSQL,
/// whose files the test cannot read: there the row checks stand alone).
pub(crate) fn data_files_containing(server: &TestServer, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![server.data_dir.path().to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
        } else if let Ok(bytes) = std::fs::read(&path)
            && bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        {
            hits.push(path.display().to_string());
        }
    }
    hits
}

/// The keys of every stored object.
pub(crate) async fn object_keys(server: &TestServer) -> Vec<String> {
    let store = server.blob_store().await;
    store
        .list("")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect()
}

/// A room with content in every table a purge clears: messages (one edited, so a prior
/// version), a file, a read marker, a report, released contact details. Returns the room
/// and the object key of its file.
pub(crate) async fn seeded_room(
    server: &TestServer,
    bid: &str,
    client: &str,
    contractor: &str,
    marker: &str,
) -> (String, String) {
    let room = server
        .open_room(bid, &format!("p-{bid}"), client, contractor)
        .await
        .room;
    let mut c = server.client(client).await;
    for i in 0..20 {
        let sent = c
            .send(&room, &format!("m{i}"), &format!("{marker} body {i}"))
            .await;
        assert!(matches!(sent, ServerFrame::Ack { .. }), "{sent:?}");
    }
    let edited = c
        .request(json!({"type": "edit", "room": room, "seq": 1, "body": format!("{marker} edited"), "client_msg_id": "e1"}))
        .await;
    assert!(matches!(edited, ServerFrame::Ack { .. }), "{edited:?}");
    let read = c
        .request(json!({"type": "read", "room": room, "seq": 3}))
        .await;
    assert!(!matches!(read, ServerFrame::Error { .. }), "{read:?}");
    let upload = server
        .upload(
            &server.member(client),
            &room,
            &format!("{marker}-name.txt"),
            Some("text/plain"),
            format!("{marker} file content ").repeat(3000).into_bytes(),
        )
        .await;
    assert_eq!(upload.status(), StatusCode::CREATED);
    let info: FileInfo = upload.json().await.unwrap();
    let attached = c
        .send_with_files(&room, "mf", "attached", &[&info.id])
        .await;
    assert!(matches!(attached, ServerFrame::Ack { .. }), "{attached:?}");
    let history = server
        .get_json(
            &server.member(client),
            &format!("/v1/rooms/{room}/messages"),
        )
        .await;
    let reported = history["messages"][0]["msg_id"].clone();
    let report = server
        .http
        .post(
            &format!("/v1/rooms/{room}/reports"),
            &server.member(contractor),
        )
        .json(&json!({"messages": [reported], "reason": format!("{marker} report reason")}))
        .send()
        .await
        .unwrap();
    assert!(report.status().is_success(), "{}", report.status());
    release_contacts(server, &room, client, contractor, marker).await;
    let object: String = {
        let db = server.raw_db().await;
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT object_key FROM files WHERE id = '{}'", info.id),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index(0).unwrap()
    };
    (room, object)
}

/// Both parties keep contact details (naming `marker`) and `client` releases them.
pub(crate) async fn release_contacts(
    server: &TestServer,
    room: &str,
    client: &str,
    contractor: &str,
    marker: &str,
) {
    for user in [client, contractor] {
        let put = server
            .http
            .put("/v1/me/contact", &server.member(user))
            .json(&json!({"name": format!("{marker} {user}"), "phone": "+1 555 0100", "address": format!("1 {marker} street")}))
            .send()
            .await
            .unwrap();
        assert!(put.status().is_success());
    }
    let released = server
        .http
        .post(
            &format!("/v1/rooms/{room}/contacts/release"),
            &server.member(client),
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(released.status().is_success(), "{}", released.status());
}

/// Rows that name the room, table by table, outside the tombstone and the audit trail.
pub(crate) async fn rows_of_room(server: &TestServer, room: &str) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for table in [
        "messages",
        "prior_versions",
        "files",
        "screenshots",
        "read_markers",
        "grants",
        "reports",
        "contact_releases",
        "room_parties",
    ] {
        let n = count(
            server,
            &format!("SELECT COUNT(*) FROM {table} WHERE room_id = '{room}'"),
        )
        .await;
        out.push((table.to_string(), n));
    }
    out
}

async fn purged_at(server: &TestServer, room: &str) -> Option<String> {
    let view = server
        .get_json(
            &server.service(),
            &format!("/v1/marketplace/rooms/{room}/retention"),
        )
        .await;
    view["purged_at"].as_str().map(str::to_string)
}

pub(crate) async fn wait_purged(server: &TestServer, room: &str) -> Value {
    eventually(Duration::from_secs(30), "the purge", || async {
        purged_at(server, room).await?;
        Some(
            server
                .get_json(
                    &server.service(),
                    &format!("/v1/marketplace/rooms/{room}/retention"),
                )
                .await,
        )
    })
    .await
}

/// Long enough for several lifecycle rounds.
async fn a_few_rounds() {
    tokio::time::sleep(Duration::from_millis(2500)).await;
}

#[tokio::test]
async fn a_closed_workroom_is_purged_when_its_retention_passes_and_nothing_of_it_remains() {
    let server = lifecycle_server().await;
    let (global, global_object) = seeded_room(&server, "b1", "rc1", "rk1", "purple-walrus").await;
    let (own, own_object) = seeded_room(&server, "b2", "rc2", "rk2", "amber-heron").await;
    // The marketplace gives the second room one hour.
    let put = server
        .http
        .put(
            &format!("/v1/marketplace/rooms/{own}/retention"),
            &server.service(),
        )
        .json(&json!({"retention_secs": 3600}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    let view: Value = put.json().await.unwrap();
    assert_eq!(view["effective_secs"], 3600);
    assert!(
        view.get("purge_at").is_none(),
        "open rooms have no purge date: {view}"
    );
    server.end_contract("b1").await;
    server.end_contract("b2").await;

    // Members see when each will be purged.
    let c1 = server.client("rc1").await;
    let purge_at = c1
        .room(&global)
        .unwrap()
        .purge_at
        .clone()
        .expect("purge date shown");
    let listed = server.get_json(&server.member("rc2"), "/v1/rooms").await;
    assert!(listed["rooms"][0]["purge_at"].is_string(), "{listed}");

    // Nothing happens before its time.
    server.clock.advance(Duration::from_secs(3590));
    a_few_rounds().await;
    assert!(purged_at(&server, &own).await.is_none());

    // Past the room's own hour it goes; the global day still keeps the other.
    server.clock.advance(Duration::from_secs(20));
    let tombstone = wait_purged(&server, &own).await;
    assert_eq!(tombstone["purged"]["messages"], 22, "{tombstone}");
    assert_eq!(tombstone["purged"]["files"], 1, "{tombstone}");
    let page = server
        .get_json(
            &server.member("rc1"),
            &format!("/v1/rooms/{global}/messages"),
        )
        .await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 21, "{page}");

    server.clock.advance(Duration::from_secs(DAY));
    wait_purged(&server, &global).await;
    assert!(!purge_at.is_empty());

    for (room, object, marker, client, contractor) in [
        (&own, &own_object, "amber-heron", "rc2", "rk2"),
        (&global, &global_object, "purple-walrus", "rc1", "rk1"),
    ] {
        // Every member read says it is gone.
        for user in [client, contractor] {
            let token = server.member(user);
            for path in [
                format!("/v1/rooms/{room}/messages"),
                format!("/v1/rooms/{room}/members"),
                format!("/v1/rooms/{room}/contacts"),
                format!("/v1/rooms/{room}/screenshots"),
            ] {
                let response = server.http.get(&path, &token).send().await.unwrap();
                assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
                let body: Value = response.json().await.unwrap();
                assert!(
                    body["message"].as_str().unwrap().contains("purged"),
                    "{path}: {body}"
                );
            }
            let rooms = server.get_json(&token, "/v1/rooms").await;
            assert!(
                rooms["rooms"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|r| r["id"] != *room),
                "{rooms}"
            );
        }
        let mut ws = server.client(client).await;
        let history = ws
            .request(json!({"type": "history", "room": room, "limit": 10}))
            .await;
        assert!(
            matches!(&history, ServerFrame::Error { message, .. } if message.contains("purged")),
            "{history:?}"
        );
        // Nothing of it is left but the tombstone and the audit trail.
        for (table, n) in rows_of_room(&server, room).await {
            assert_eq!(n, 0, "{table} still holds rows of {room}");
        }
        let live_keys = count(
            &server,
            &format!(
                "SELECT COUNT(*) FROM data_keys WHERE id = 'room:{room}' AND wrapped IS NOT NULL"
            ),
        )
        .await;
        assert_eq!(live_keys, 0, "the room key is destroyed");
        assert!(
            !object_keys(&server).await.contains(object),
            "object {object} remains"
        );
        for needle in [marker.to_string(), format!("{marker}-name")] {
            assert!(
                data_files_containing(&server, &needle).is_empty(),
                "{needle}"
            );
        }
    }
    // The tombstone keeps ids, times and counts: the bid cannot open a second room.
    let again = server
        .http
        .post("/v1/marketplace/bids/b1/accept", &server.service())
        .json(&json!({
            "project": "p-b1",
            "client": {"user": "rc1", "account": "acct-rc1", "name": "x", "email": "rc1@example.com"},
            "contractor": {"user": "rk1", "account": "acct-rk1", "name": "y", "email": "rk1@example.com"},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let again: Value = again.json().await.unwrap();
    assert!(
        again["message"].as_str().unwrap().contains("purged"),
        "{again}"
    );
    // Running it again is harmless.
    let repeat = server
        .http
        .post(
            &format!("/v1/marketplace/rooms/{global}/purge"),
            &server.service(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(repeat.status(), StatusCode::OK);
    let repeat: Value = repeat.json().await.unwrap();
    assert_eq!(repeat["state"], "purged");
    // Each act is in the chain, which verifies.
    let purges = count(
        &server,
        "SELECT COUNT(*) FROM audit_entries WHERE action = 'retention.purged'",
    )
    .await;
    assert_eq!(purges, 2);
    let changes = count(
        &server,
        "SELECT COUNT(*) FROM audit_entries WHERE action = 'retention.changed'",
    )
    .await;
    assert_eq!(changes, 1);
    let (config, _dir) = server.stop().await;
    let out = ok(workroom(&config, &["audit", "verify"]));
    assert!(out.contains("audit trail intact"), "{out}");
}

#[tokio::test]
async fn a_held_workroom_is_purged_only_after_its_hold_lifts() {
    let server = lifecycle_server().await;
    let (room, object) = seeded_room(&server, "b1", "hc1", "hk1", "violet-otter").await;
    let hold = server
        .http
        .post("/v1/legal/holds", &legal(&server))
        .json(&json!({"request_id": "LR-2026-001", "scope": "room", "target": room}))
        .send()
        .await
        .unwrap();
    assert_eq!(hold.status(), StatusCode::CREATED);
    let hold: Value = hold.json().await.unwrap();
    server.end_contract("b1").await;
    // Asking for the purge now: accepted, deferred.
    let asked = server
        .http
        .post(
            &format!("/v1/marketplace/rooms/{room}/purge"),
            &server.service(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let asked: Value = asked.json().await.unwrap();
    assert_eq!(asked["state"], "deferred");
    server.clock.advance(Duration::from_secs(2 * DAY));
    // Deferred, visible to operators, recorded once; the room is still whole.
    let erasures = eventually(Duration::from_secs(10), "the deferral", || async {
        let list = server.get_json(&admin(&server), "/v1/admin/erasures").await;
        let found = list["erasures"]
            .as_array()?
            .iter()
            .any(|e| e["key"] == format!("room:{room}") && e["why"] == "retention");
        found.then_some(list)
    })
    .await;
    assert!(erasures["erasures"].is_array());
    let listed = ok(workroom(&server.config, &["erasures"]));
    assert!(listed.contains(&format!("room:{room}")), "{listed}");
    a_few_rounds().await;
    assert!(purged_at(&server, &room).await.is_none());
    let page = server
        .get_json(&server.member("hc1"), &format!("/v1/rooms/{room}/messages"))
        .await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 21, "{page}");
    assert!(object_keys(&server).await.contains(&object));
    let deferred = count(
        &server,
        "SELECT COUNT(*) FROM audit_entries WHERE action = 'erasure.deferred'",
    )
    .await;
    assert_eq!(deferred, 1);
    // Holds are listed for legal officers and admins.
    let holds = server
        .get_json(&admin(&server), "/v1/admin/holds?active=true")
        .await;
    assert_eq!(holds["holds"][0]["request_id"], "LR-2026-001", "{holds}");

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
    wait_purged(&server, &room).await;
    assert!(!object_keys(&server).await.contains(&object));
    let list = server.get_json(&admin(&server), "/v1/admin/erasures").await;
    assert_eq!(list["erasures"].as_array().unwrap().len(), 0, "{list}");
    // A purged room can no longer be held.
    let late = server
        .http
        .post("/v1/legal/holds", &legal(&server))
        .json(&json!({"request_id": "LR-2026-002", "scope": "room", "target": room}))
        .send()
        .await
        .unwrap();
    assert_eq!(late.status(), StatusCode::CONFLICT);
    for action in ["hold.placed", "hold.lifted", "retention.purged"] {
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
async fn lifecycle_refusals_are_typed_and_change_nothing() {
    let server = lifecycle_server().await;
    let room = server.open_room("b1", "p1", "fc1", "fk1").await.room;
    let service = server.service();
    let expect = |status: StatusCode, code: &'static str| {
        move |response: (StatusCode, Value)| {
            assert_eq!(response.0, status, "{}", response.1);
            assert_eq!(response.1["code"], code, "{}", response.1);
        }
    };
    async fn call(
        server: &TestServer,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = match method {
            "GET" => server.http.get(path, token),
            "PUT" => server.http.put(path, token),
            _ => server.http.post(path, token),
        };
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
    // Purging a room that is not closed.
    expect(StatusCode::CONFLICT, "conflict")(
        call(
            &server,
            "POST",
            &format!("/v1/marketplace/rooms/{room}/purge"),
            &service,
            None,
        )
        .await,
    );
    // Unknown room, user, account, hold.
    expect(StatusCode::NOT_FOUND, "not_found")(
        call(
            &server,
            "POST",
            "/v1/marketplace/rooms/rm_nope/purge",
            &service,
            None,
        )
        .await,
    );
    expect(StatusCode::NOT_FOUND, "not_found")(
        call(
            &server,
            "PUT",
            "/v1/marketplace/rooms/rm_nope/retention",
            &service,
            Some(json!({"retention_secs": 5})),
        )
        .await,
    );
    expect(StatusCode::NOT_FOUND, "not_found")(
        call(
            &server,
            "POST",
            "/v1/marketplace/users/nobody/terminate",
            &service,
            Some(json!({"reason": "closed"})),
        )
        .await,
    );
    expect(StatusCode::NOT_FOUND, "not_found")(
        call(
            &server,
            "POST",
            "/v1/marketplace/accounts/acct-nobody/terminate",
            &service,
            None,
        )
        .await,
    );
    expect(StatusCode::NOT_FOUND, "not_found")(
        call(
            &server,
            "POST",
            "/v1/legal/holds/hold_nope/lift",
            &legal(&server),
            None,
        )
        .await,
    );
    expect(StatusCode::NOT_FOUND, "not_found")(
        call(
            &server,
            "POST",
            "/v1/legal/holds",
            &legal(&server),
            Some(json!({"request_id": "LR-1", "scope": "user", "target": "nobody"})),
        )
        .await,
    );
    // Bad input.
    expect(StatusCode::BAD_REQUEST, "invalid")(
        call(
            &server,
            "POST",
            "/v1/marketplace/users/fk1/terminate",
            &service,
            Some(json!({"reason": "bored"})),
        )
        .await,
    );
    expect(StatusCode::BAD_REQUEST, "invalid")(
        call(
            &server,
            "PUT",
            &format!("/v1/marketplace/rooms/{room}/retention"),
            &service,
            Some(json!({"retention_secs": -4})),
        )
        .await,
    );
    expect(StatusCode::BAD_REQUEST, "invalid")(
        call(
            &server,
            "POST",
            "/v1/legal/holds",
            &legal(&server),
            Some(json!({"request_id": "LR-1", "scope": "planet", "target": room})),
        )
        .await,
    );
    expect(StatusCode::BAD_REQUEST, "invalid")(
        call(
            &server,
            "POST",
            "/v1/marketplace/bans/check",
            &service,
            Some(json!({})),
        )
        .await,
    );
    // The wrong tokens: only legal officers hold, only the marketplace terminates, admins
    // and the marketplace set retention, members none of it.
    for token in [
        service.clone(),
        admin(&server),
        server.member("fc1"),
        server.token("mod1", Role::Moderator, None),
        server.token("aud1", Role::Auditor, None),
    ] {
        expect(StatusCode::FORBIDDEN, "forbidden")(
            call(
                &server,
                "POST",
                "/v1/legal/holds",
                &token,
                Some(json!({"request_id": "LR-1", "scope": "room", "target": room})),
            )
            .await,
        );
    }
    for token in [legal(&server), admin(&server), server.member("fc1")] {
        expect(StatusCode::FORBIDDEN, "forbidden")(
            call(
                &server,
                "POST",
                "/v1/marketplace/users/fk1/terminate",
                &token,
                Some(json!({"reason": "closed"})),
            )
            .await,
        );
    }
    for token in [legal(&server), server.member("fc1")] {
        expect(StatusCode::FORBIDDEN, "forbidden")(
            call(
                &server,
                "PUT",
                &format!("/v1/marketplace/rooms/{room}/retention"),
                &token,
                Some(json!({"retention_secs": 5})),
            )
            .await,
        );
    }
    expect(StatusCode::FORBIDDEN, "forbidden")(
        call(&server, "GET", "/v1/admin/erasures", &legal(&server), None).await,
    );
    // Nothing changed: the room is open and whole, the user can still work.
    let mut c = server.client("fk1").await;
    assert!(matches!(
        c.send(&room, "after", "still here").await,
        ServerFrame::Ack { .. }
    ));
    // An admin may set retention (audited as an operations act).
    let (status, view) = call(
        &server,
        "PUT",
        &format!("/v1/marketplace/rooms/{room}/retention"),
        &admin(&server),
        Some(json!({"retention_secs": 7200})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let by_admin = count(
        &server,
        "SELECT COUNT(*) FROM audit_entries WHERE action = 'retention.changed' AND actor_role = 'admin' AND purpose = 'operations'",
    )
    .await;
    assert_eq!(by_admin, 1);
}

#[tokio::test]
async fn bounded_records_go_when_their_retention_ends_and_the_room_stays() {
    use crate::moderation::{call, moderator};
    const HOUR: u64 = 3600;
    let server = TestServer::start_with(Box::new(|config| {
        config.retention.check_secs = 1;
        config.retention.closed_room_secs = 30 * DAY;
        config.retention.connection_log_secs = HOUR;
        config.retention.prior_version_secs = HOUR;
        config.retention.moderation_record_secs = HOUR;
        config.retention.closed_room_screenshot_secs = HOUR;
    }))
    .await;
    // Prior versions, a report, connections (every request above made some).
    let (room, _) = seeded_room(&server, "b1", "sc1", "sk1", "teal-lynx").await;
    // A grant, revoked.
    let (status, grant) = call(
        &server,
        "POST",
        "/v1/moderation/grants",
        &moderator(&server, "mod1"),
        Some(json!({"room": room, "case_id": "case-9", "reason": "Checking that moderation records are kept for a bounded time.",
            "scope": ["history"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{grant}");
    let (status, _) = call(
        &server,
        "POST",
        &format!(
            "/v1/moderation/grants/{}/revoke",
            grant["id"].as_str().unwrap()
        ),
        &moderator(&server, "mod1"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // The report, closed.
    let reports = server
        .get_json(&moderator(&server, "mod1"), "/v1/moderation/reports")
        .await;
    let report = reports["reports"][0]["id"].as_str().unwrap().to_string();
    let (status, _) = call(
        &server,
        "POST",
        &format!("/v1/moderation/reports/{report}/close"),
        &moderator(&server, "mod1"),
        Some(json!({"outcome": "Handled."})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // A Tracker screenshot.
    let on = server
        .http
        .put("/v1/me/work-view", &server.member("sk1"))
        .json(&json!({"on": true}))
        .send()
        .await
        .unwrap();
    assert!(on.status().is_success());
    let mut bot = server.claims("sk-tracker");
    bot.role = Role::Bot;
    bot.acts_for = Some("sk1".into());
    let captured_at = (time::OffsetDateTime::now_utc() - time::Duration::minutes(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let shot = server
        .http
        .post(
            &format!("/v1/tracker/screenshots?room={room}&captured_at={captured_at}&activity=50"),
            &server.sign(&bot),
        )
        .body(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR teal-lynx image".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(shot.status(), StatusCode::CREATED);
    server.end_contract("b1").await;
    let before = [
        (
            "prior_versions",
            format!("SELECT COUNT(*) FROM prior_versions WHERE room_id = '{room}'"),
        ),
        (
            "grants",
            format!("SELECT COUNT(*) FROM grants WHERE room_id = '{room}'"),
        ),
        (
            "reports",
            format!("SELECT COUNT(*) FROM reports WHERE room_id = '{room}'"),
        ),
        (
            "screenshots",
            format!("SELECT COUNT(*) FROM screenshots WHERE room_id = '{room}'"),
        ),
        (
            "connections",
            "SELECT COUNT(*) FROM connections".to_string(),
        ),
    ];
    for (what, sql) in &before {
        assert!(count(&server, sql).await > 0, "{what} before");
    }
    // Nothing goes before its hour.
    server.clock.advance(Duration::from_secs(HOUR - 60));
    a_few_rounds().await;
    for (what, sql) in &before {
        assert!(count(&server, sql).await > 0, "{what} went early");
    }
    server.clock.advance(Duration::from_secs(120));
    for (what, sql) in &before {
        eventually(Duration::from_secs(15), what, || async {
            (count(&server, sql).await == 0).then_some(())
        })
        .await;
    }
    // The room and its messages stay for their own, longer retention.
    let page = server
        .get_json(&server.member("sc1"), &format!("/v1/rooms/{room}/messages"))
        .await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 21, "{page}");
    let swept = count(
        &server,
        "SELECT COUNT(DISTINCT target) FROM audit_entries WHERE action = 'retention.swept'",
    )
    .await;
    assert!(
        swept >= 4,
        "one retention.swept target per kind that removed rows: {swept}"
    );
}
