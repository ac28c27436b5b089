//! Encryption at rest (C14) through the real server and the real binary: nothing readable
//! in the database files or the object store, legacy plaintext sealed by the migration,
//! master key rotation and retirement, data key destruction reported as erased, and
//! ciphertext moved between rows refused.

use crate::cli::{BIN, ok, workroom};
use reqwest::StatusCode;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use workroom_protocol::ServerFrame;
use workroom_protocol::http::FileInfo;
use workroom_tests::{TestServer, workroom_protocol, workroom_server};

/// Every file under `dir` that contains `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
        } else if let Ok(bytes) = std::fs::read(&path)
            && bytes.windows(needle.len()).any(|w| w == needle)
        {
            hits.push(path.display().to_string());
        }
    }
    hits
}

/// Every stored object whose raw bytes contain `needle`.
async fn objects_containing(server: &TestServer, needle: &[u8]) -> Vec<String> {
    use tokio::io::AsyncReadExt;
    let store = server.blob_store().await;
    let mut hits = Vec::new();
    for object in store.list("").await.unwrap() {
        let mut reader = store
            .read_range(&object.key, 0, u64::MAX / 2)
            .await
            .unwrap();
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).await.unwrap();
        if bytes.windows(needle.len()).any(|w| w == needle) {
            hits.push(object.key);
        }
    }
    hits
}

async fn open_room_with(server: &TestServer, bid: &str, client: &str, contractor: &str) -> String {
    let body = json!({
        "project": format!("p-{bid}"),
        "client": {"user": client, "account": format!("acct-{client}"), "name": format!("Name of {client}"), "email": format!("{client}@mail.example")},
        "contractor": {"user": contractor, "account": format!("acct-{contractor}"), "name": format!("Name of {contractor}"), "email": format!("{contractor}@mail.example")},
    });
    let response = server
        .http
        .post(
            &format!("/v1/marketplace/bids/{bid}/accept"),
            &server.service(),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let created: Value = response.json().await.unwrap();
    created["room"].as_str().unwrap().to_string()
}

async fn history(server: &TestServer, user: &str, room: &str) -> Vec<Value> {
    let path = format!("/v1/rooms/{room}/messages");
    let page = server.get_json(&server.member(user), &path).await;
    page["messages"].as_array().unwrap().clone()
}

async fn members(server: &TestServer, user: &str, room: &str) -> Vec<Value> {
    let path = format!("/v1/rooms/{room}/members");
    let list = server.get_json(&server.member(user), &path).await;
    list["members"].as_array().unwrap().clone()
}

fn member<'a>(list: &'a [Value], user: &str) -> &'a Value {
    list.iter().find(|m| m["user"] == user).unwrap()
}

/// A room with one edited message, one plain message carrying a file.
struct Seeded {
    room: String,
    file: String,
}

async fn seed(server: &TestServer, client: &str, contractor: &str) -> Seeded {
    let room = open_room_with(server, "b1", client, contractor).await;
    let mut c = server.client(client).await;
    assert!(matches!(
        c.send(&room, "m1", "first draft zebra-quartz-1").await,
        ServerFrame::Ack { .. }
    ));
    let edited = c
        .request(json!({"type": "edit", "room": room, "seq": 1, "body": "final words zebra-quartz-2", "client_msg_id": "e1"}))
        .await;
    assert!(matches!(edited, ServerFrame::Ack { .. }), "{edited:?}");
    let upload = server
        .upload(
            &server.member(client),
            &room,
            "zebra-quartz-name.txt",
            Some("text/plain"),
            b"file content zebra-quartz-3 ".repeat(5000),
        )
        .await;
    assert_eq!(upload.status(), StatusCode::CREATED);
    let info: FileInfo = upload.json().await.unwrap();
    assert!(matches!(
        c.send_with_files(&room, "m2", "attached", &[&info.id])
            .await,
        ServerFrame::Ack { .. }
    ));
    Seeded {
        room,
        file: info.id,
    }
}

const MARKERS: &[&str] = &[
    "zebra-quartz-1",
    "zebra-quartz-2",
    "zebra-quartz-3",
    "zebra-quartz-name",
    "zq-client@mail.example",
    "zq-contractor@mail.example",
    "Name of zq-client",
    "zebra-quartz-memo",
    "zebra-quartz-shot",
    "zebra-quartz-address",
];

#[tokio::test]
async fn nothing_readable_is_stored_in_the_database_files_or_the_object_store() {
    let server = TestServer::start().await;
    let seeded = seed(&server, "zq-client", "zq-contractor").await;
    // A Tracker screenshot (image and memo) and released contact details.
    let work_view = server
        .http
        .put("/v1/me/work-view", &server.member("zq-contractor"))
        .json(&json!({"on": true}))
        .send()
        .await
        .unwrap();
    assert!(work_view.status().is_success());
    let mut bot = server.claims("zq-tracker");
    bot.role = workroom_protocol::Role::Bot;
    bot.acts_for = Some("zq-contractor".into());
    let mut image = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    image.extend(b"zebra-quartz-shot ".repeat(200));
    let captured_at = (time::OffsetDateTime::now_utc() - time::Duration::minutes(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let shot = server
        .http
        .post(
            &format!(
                "/v1/tracker/screenshots?room={}&captured_at={captured_at}&activity=50",
                seeded.room
            ),
            &server.sign(&bot),
        )
        .header("workroom-memo", "zebra-quartz-memo")
        .body(image)
        .send()
        .await
        .unwrap();
    assert_eq!(shot.status(), StatusCode::CREATED);
    for user in ["zq-client", "zq-contractor"] {
        let put = server
            .http
            .put("/v1/me/contact", &server.member(user))
            .json(
                &json!({"name": "Zed Quartz", "company": "ZQ", "phone": "+44 20 7946 0000",
                "address": "1 zebra-quartz-address"}),
            )
            .send()
            .await
            .unwrap();
        assert!(put.status().is_success(), "{}", put.status());
    }
    let released = server
        .http
        .post(
            &format!("/v1/rooms/{}/contacts/release", seeded.room),
            &server.member("zq-client"),
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(released.status().is_success());
    // The server itself still reads it all back.
    let shots = server
        .get_json(
            &server.member("zq-client"),
            &format!("/v1/rooms/{}/screenshots", seeded.room),
        )
        .await;
    assert_eq!(shots["screenshots"][0]["memo"], "zebra-quartz-memo");
    let contacts = server
        .get_json(
            &server.member("zq-contractor"),
            &format!("/v1/rooms/{}/contacts", seeded.room),
        )
        .await;
    assert_eq!(
        contacts["contacts"][0]["details"]["address"],
        "1 zebra-quartz-address"
    );
    let messages = history(&server, "zq-contractor", &seeded.room).await;
    assert_eq!(messages[0]["body"], "final words zebra-quartz-2");
    let people = members(&server, "zq-contractor", &seeded.room).await;
    assert_eq!(
        member(&people, "zq-client")["email"],
        "zq-client@mail.example"
    );
    let file = server
        .http
        .get(
            &format!("/v1/rooms/{}/files/{}/content", seeded.room, seeded.file),
            &server.member("zq-contractor"),
        )
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(file.starts_with(b"file content zebra-quartz-3"));

    for marker in MARKERS {
        assert_eq!(
            objects_containing(&server, marker.as_bytes()).await,
            Vec::<String>::new(),
            "{marker} in the object store"
        );
    }
    let (config, dir) = server.stop().await;
    if config.database_url.is_none() {
        // Control: the search does read the database (user ids are stored as they are).
        assert!(!files_containing(dir.path(), b"zq-contractor").is_empty());
        // The SQLite database, its WAL, the local object store: every file of the data dir.
        for marker in MARKERS {
            assert_eq!(
                files_containing(dir.path(), marker.as_bytes()),
                Vec::<String>::new(),
                "{marker} stored in clear"
            );
        }
    }
}

#[tokio::test]
async fn a_database_written_in_clear_by_the_core_release_is_sealed_by_the_migration() {
    let (config, dir) = TestServer::prepare(Box::new(|_| {})).await;
    // The schema of the core release, with rows it wrote in clear.
    let (store, _) =
        workroom_server::server::open_store(&config, workroom_storage::Clock::system())
            .await
            .unwrap();
    store.migrate_to("m0001_core").await.unwrap();
    store.close().await.unwrap();
    let db = workroom_tests::raw_db(&config).await;
    for sql in [
        "INSERT INTO accounts (id, created_at) VALUES ('acct-a', 1), ('acct-b', 1)",
        "INSERT INTO users (id, name, email, created_at, updated_at) VALUES \
         ('ua', 'Legacy Alice', 'legacy-alice@mail.example', 1, 1), \
         ('ub', 'Legacy Bob', 'legacy-bob@mail.example', 1, 1)",
        "INSERT INTO account_members (account_id, user_id, role, created_at) VALUES \
         ('acct-a', 'ua', 'owner', 1), ('acct-b', 'ub', 'owner', 1)",
        "INSERT INTO rooms (id, kind, project_id, bid_id, last_seq, purpose, created_at) VALUES \
         ('rm_legacy', 'private', 'p1', 'bid-1', 3, 'participation', 1)",
        "INSERT INTO room_parties (room_id, account_id, user_id, side, created_at) VALUES \
         ('rm_legacy', 'acct-a', 'ua', 'client', 1), ('rm_legacy', 'acct-b', 'ub', 'contractor', 1)",
        "INSERT INTO messages (room_id, seq, msg_id, kind, sender_id, client_msg_id, body, \
         target_seq, version, purpose, created_at, edited_at) VALUES \
         ('rm_legacy', 1, 'm_legacy1', 'message', 'ua', 'c1', 'legacy edited plover', NULL, 2, 'participation', 1, 2), \
         ('rm_legacy', 2, 'm_legacy2', 'edit', 'ua', 'c2', 'legacy edited plover', 1, 1, 'participation', 2, NULL), \
         ('rm_legacy', 3, 'm_legacy3', 'message', 'ub', 'c3', 'legacy reply plover', NULL, 1, 'participation', 3, NULL)",
    ] {
        db.execute_unprepared(sql).await.unwrap();
    }
    // Replaced recently: prior versions are kept for `retention.prior_version_secs`.
    let now = workroom_storage::Clock::system().now_ms();
    db.execute_unprepared(&format!(
        "INSERT INTO message_versions (msg_id, version, room_id, body, created_at, replaced_at) \
         VALUES ('m_legacy1', 1, 'rm_legacy', 'legacy original plover', {now}, {now})"
    ))
    .await
    .unwrap();
    db.close().await.unwrap();

    let server = TestServer::start_in(config, dir).await;
    let messages = history(&server, "ub", "rm_legacy").await;
    let bodies: Vec<&str> = messages
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["legacy edited plover", "legacy reply plover"]);
    let people = members(&server, "ub", "rm_legacy").await;
    assert_eq!(member(&people, "ua")["email"], "legacy-alice@mail.example");
    assert_eq!(member(&people, "ua")["name"], "Legacy Alice");
    let (store, _) =
        workroom_server::server::open_store(&server.config, workroom_storage::Clock::system())
            .await
            .unwrap();
    let read = workroom_tests::compliance_read(&store, "rm_legacy").await;
    assert_eq!(
        store.message_versions(&read, "m_legacy1").await.unwrap(),
        vec![(1, Ok("legacy original plover".to_string()))]
    );
    store.close().await.unwrap();
    let (config, dir) = server.stop().await;
    if config.database_url.is_none() {
        assert!(
            !files_containing(dir.path(), b"m_legacy1").is_empty(),
            "control"
        );
        for marker in ["plover", "legacy-alice@mail.example", "Legacy Bob"] {
            assert_eq!(
                files_containing(dir.path(), marker.as_bytes()),
                Vec::<String>::new(),
                "{marker} left in clear"
            );
        }
    }
}

#[tokio::test]
async fn destroying_a_data_key_erases_what_it_protected_and_reads_report_erased() {
    let server = TestServer::start().await;
    let seeded = seed(&server, "ka", "kb").await;
    let other = open_room_with(&server, "b2", "kc", "kd").await;
    let mut c = server.client("kc").await;
    assert!(matches!(
        c.send(&other, "x", "unaffected").await,
        ServerFrame::Ack { .. }
    ));
    drop(c);
    let (config, dir) = server.stop().await;

    let refused = workroom(&config, &["keys", "destroy", "--room", &seeded.room]);
    assert!(!refused.status.success(), "needs --confirm");
    let out = ok(workroom(
        &config,
        &["keys", "destroy", "--room", &seeded.room, "--confirm"],
    ));
    assert!(out.contains("destroyed"), "{out}");
    ok(workroom(
        &config,
        &["keys", "destroy", "--person", "kb", "--confirm"],
    ));

    let server = TestServer::start_in(config, dir).await;
    // Both destructions are in the audit trail, by the operator.
    let actions = crate::moderation::audit_actions(&server).await;
    assert_eq!(
        actions
            .iter()
            .filter(|(a, _)| a == "keys.destroyed")
            .count(),
        2,
        "{actions:?}"
    );
    for message in history(&server, "ka", &seeded.room).await {
        assert_eq!(message["unreadable"], "erased", "{message}");
        assert_eq!(message["body"], "");
    }
    let meta = server
        .get_json(
            &server.member("kb"),
            &format!("/v1/rooms/{}/files/{}", seeded.room, seeded.file),
        )
        .await;
    assert_eq!(meta["erased"], true, "{meta}");
    assert!(meta.get("name").is_none());
    let download = server
        .http
        .get(
            &format!("/v1/rooms/{}/files/{}/content", seeded.room, seeded.file),
            &server.member("kb"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::NOT_FOUND);
    let people = members(&server, "ka", &seeded.room).await;
    assert_eq!(member(&people, "kb")["erased"], true);
    assert!(member(&people, "kb").get("email").is_none());
    assert_eq!(member(&people, "ka")["email"], "ka@mail.example");
    // Nothing new can be sealed for an erased room.
    let mut c = server.client("ka").await;
    match c.send(&seeded.room, "late", "hello?").await {
        ServerFrame::Error { code, message, .. } => {
            assert_eq!(code, workroom_protocol::ErrorCode::Conflict);
            assert!(message.contains("erased"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // Other rooms are untouched.
    assert_eq!(
        history(&server, "kd", &other).await[0]["body"],
        "unaffected"
    );
}

#[tokio::test]
async fn rotation_rewraps_data_keys_so_the_old_master_key_can_be_retired() {
    let server = TestServer::start().await;
    let seeded = seed(&server, "ra", "rb").await;
    let (config, dir) = server.stop().await;
    let key_file = config.data_dir.join("keys/master.keys");
    let old_id = std::fs::read_to_string(&key_file)
        .unwrap()
        .lines()
        .find(|l| !l.starts_with('#'))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();

    let out = ok(workroom(&config, &["keys", "rotate"]));
    assert!(out.contains("re-wrapped"), "{out}");
    let list = ok(workroom(&config, &["keys", "list"]));
    assert!(list.contains(&format!("{old_id}\t0 data key(s)")), "{list}");
    let newest = ok(workroom(&config, &["keys", "list"]))
        .lines()
        .last()
        .unwrap()
        .split('\t')
        .next()
        .unwrap()
        .to_string();
    assert_ne!(newest, old_id);
    assert!(
        !workroom(&config, &["keys", "retire", "--id", &newest])
            .status
            .success(),
        "the newest key cannot be retired"
    );
    ok(workroom(&config, &["keys", "retire", "--id", &old_id]));
    let text = std::fs::read_to_string(&key_file).unwrap();
    assert!(!text.contains(&old_id), "retired key still in the file");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Everything still opens with only the new master key.
    let server = TestServer::start_in(config, dir).await;
    // Rotation (its rewrap) and retirement are in the audit trail.
    let actions = crate::moderation::audit_actions(&server).await;
    for action in ["keys.rewrapped", "keys.retired"] {
        assert!(
            actions.iter().any(|(a, _)| a == action),
            "{action} in {actions:?}"
        );
    }
    assert_eq!(
        history(&server, "rb", &seeded.room).await[0]["body"],
        "final words zebra-quartz-2"
    );
    let people = members(&server, "rb", &seeded.room).await;
    assert_eq!(member(&people, "ra")["email"], "ra@mail.example");
    let download = server
        .http
        .get(
            &format!("/v1/rooms/{}/files/{}/content", seeded.room, seeded.file),
            &server.member("rb"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_ciphertext_moved_to_another_row_does_not_open_there() {
    let server = TestServer::start().await;
    let room = open_room_with(&server, "b1", "ma", "mb").await;
    let other_room = open_room_with(&server, "b2", "ma", "mc").await;
    let mut c = server.client("ma").await;
    assert!(matches!(
        c.send(&room, "1", "secret one").await,
        ServerFrame::Ack { .. }
    ));
    assert!(matches!(
        c.send(&room, "2", "public two").await,
        ServerFrame::Ack { .. }
    ));
    assert!(matches!(
        c.send(&other_room, "3", "other room").await,
        ServerFrame::Ack { .. }
    ));
    let db = server.raw_db().await;
    // Row 1's ciphertext copied over row 2 (same room), and over the other room's row.
    for (target_room, seq) in [(&room, 2), (&other_room, 1)] {
        db.execute_unprepared(&format!(
            "UPDATE messages SET body_sealed = (SELECT body_sealed FROM messages \
             WHERE room_id = '{room}' AND seq = 1) WHERE room_id = '{target_room}' AND seq = {seq}"
        ))
        .await
        .unwrap();
    }
    db.close().await.unwrap();
    let messages = history(&server, "mb", &room).await;
    assert_eq!(messages[0]["body"], "secret one");
    assert_eq!(messages[1]["body"], "");
    assert_eq!(messages[1]["unreadable"], "damaged");
    let moved = history(&server, "mc", &other_room).await;
    assert_eq!(moved[0]["body"], "");
    assert_eq!(moved[0]["unreadable"], "damaged");
}

#[test]
fn master_keys_can_come_from_the_environment_and_bad_ones_are_named_not_printed() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    let key = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
    let run = |keys: &str, args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .env("WORKROOM_KEYS__MASTER_KEYS", keys)
            .env("WORKROOM_LOG__FILTER", "warn")
            .output()
            .unwrap()
    };
    let list = ok(run(&format!("env-key-1 {key}"), &["keys", "list"]));
    assert!(list.starts_with("env-key-1\t"), "{list}");
    assert!(
        !dir.path().join("keys/master.keys").exists(),
        "no dev key file when keys are configured"
    );
    // Rotation edits a key file; with inline keys the operator is told what to do instead.
    let refused = run(&format!("env-key-1 {key}"), &["keys", "rotate"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("keys rewrap"));

    let secret_looking = "c2VjcmV0LXRoYXQtaXMtdG9vLXNob3J0";
    let bad = run(&format!("env-key-2 {secret_looking}"), &["migrate"]);
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("keys.master_keys") && stderr.contains("env-key-2"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(secret_looking),
        "key material printed: {stderr}"
    );
}
