//! Connection logs (C11): client addresses are stored only as keyed hashes, no log line or
//! ordinary query carries the address, and linking a connection to a user is a moderator act
//! under a grant with the `connections` scope, which is audited.
//!
//! Clients here connect from 127.0.0.2 (any 127/8 address is loopback on Linux), so the
//! address cannot be confused with the server's own listen address in logs.

use crate::moderation::{audit_actions, call, moderator, open_grant};
use crate::process::{Child, free_port, spawn_server_with, token};
use reqwest::StatusCode;
use serde_json::json;
use std::net::IpAddr;
use std::time::Duration;
use workroom_tests::{TestServer, eventually};

const CLIENT_ADDRESS: &str = "127.0.0.2";

/// An HTTPS client whose connections come from `CLIENT_ADDRESS`.
fn client_from_elsewhere(tls: &rustls::ClientConfig) -> reqwest::Client {
    let mut tls = tls.clone();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .local_address(CLIENT_ADDRESS.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

fn files_containing(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in walk(dir) {
        if let Ok(bytes) = std::fs::read(&entry)
            && bytes.windows(needle.len()).any(|w| w == needle)
        {
            found.push(entry);
        }
    }
    found
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn connections_are_pseudonymised_and_linked_to_users_only_under_a_grant() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let elsewhere = client_from_elsewhere(&server.tls);
    let response = elsewhere
        .get(server.http.url("/v1/rooms"))
        .bearer_auth(server.member("u1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // Without a grant (or with one lacking the scope) nobody links connections to users.
    let m1 = moderator(&server, "mod1");
    let history_only = open_grant(&server, &m1, &room, &["history"], 600).await;
    let path = format!(
        "/v1/moderation/grants/{}/connections",
        history_only["id"].as_str().unwrap()
    );
    let (status, _) = call(&server, "POST", &path, &m1, Some(json!({}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for token in [
        server.member("u2"),
        server.token("aud", workroom_protocol::Role::Auditor, None),
    ] {
        let (status, _) = call(&server, "POST", &path, &token, Some(json!({}))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }

    // Under a grant with the scope: "which accounts used this address".
    let grant = open_grant(&server, &m1, &room, &["connections"], 600).await;
    // The address goes in the body, never in a URL that proxies would log.
    let lookup_path = format!(
        "/v1/moderation/grants/{}/connections",
        grant["id"].as_str().unwrap()
    );
    let lookup = |address: &str| Some(json!({ "address": address }));
    // The log is written in batches.
    let found = eventually(
        Duration::from_secs(3),
        "the connection recorded",
        || async {
            let (status, body) =
                call(&server, "POST", &lookup_path, &m1, lookup(CLIENT_ADDRESS)).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            (!body["connections"].as_array().unwrap().is_empty()).then_some(body)
        },
    )
    .await;
    let connections = found["connections"].as_array().expect("recorded");
    assert!(connections.iter().all(|c| c["user"] == "u1"), "{found}");
    let hash = connections[0]["address_hash"].as_str().unwrap();
    assert_eq!(hash.len(), 64);
    let unkeyed = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, CLIENT_ADDRESS.as_bytes());
    let unkeyed: String = unkeyed
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_ne!(hash, unkeyed, "the hash is keyed");
    let (_, none) = call(&server, "POST", &lookup_path, &m1, lookup("127.0.0.3")).await;
    assert!(none["connections"].as_array().unwrap().is_empty());
    let (_, bad) = call(&server, "POST", &lookup_path, &m1, lookup("not-an-address")).await;
    assert_eq!(bad["code"], "invalid");
    let actions = audit_actions(&server).await;
    assert!(
        actions
            .iter()
            .any(|(a, _)| a == "moderation.connections_read")
    );

    // Ordinary queries carry neither the address nor its hash.
    let token = server.member("u1");
    for path in [format!("/v1/rooms/{room}/members"), "/v1/rooms".to_string()] {
        let text = server
            .http
            .get(&path, &token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            !text.contains(CLIENT_ADDRESS) && !text.contains(hash),
            "{path}: {text}"
        );
    }
    let trail = server
        .get_json(
            &server.token("aud", workroom_protocol::Role::Auditor, None),
            "/v1/audit?limit=1000",
        )
        .await
        .to_string();
    assert!(
        !trail.contains(CLIENT_ADDRESS),
        "the trail records the lookup, not the address"
    );

    // Nothing stored anywhere holds the address.
    let db = server.raw_db().await;
    use sea_orm::ConnectionTrait;
    for table in ["connections", "connection_users", "audit_entries"] {
        let rows = db
            .query_all_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                format!("SELECT * FROM {table}"),
            ))
            .await
            .unwrap();
        assert!(!rows.is_empty(), "{table} has rows");
        assert!(!format!("{rows:?}").contains(CLIENT_ADDRESS), "{table}");
    }
    db.close().await.unwrap();
    let (config, dir) = server.stop().await;
    if config.database_url.is_none() {
        assert!(files_containing(dir.path(), CLIENT_ADDRESS.as_bytes()).is_empty());
        assert!(
            !files_containing(dir.path(), b"u1").is_empty(),
            "control: the grep sees data"
        );
    }
}

#[tokio::test]
async fn no_log_line_carries_a_client_address_or_contact_details() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let log = dir.path().join("server.log");
    let out = std::fs::File::create(&log).unwrap();
    let err = out.try_clone().unwrap();
    let child: Child = spawn_server_with(dir.path(), port, move |command| {
        // As chatty as the server gets (third-party crates stay at their defaults).
        command
            .env("WORKROOM_LOG__FILTER", "trace")
            .stdout(out)
            .stderr(err);
    })
    .await;
    let pem = std::fs::read(dir.path().join("tls/cert.pem")).unwrap();
    let tls = workroom_client::client_config(&pem).unwrap();
    let client = client_from_elsewhere(&tls);
    let base = format!("https://127.0.0.1:{port}");
    let service = token(dir.path(), "marketplace", "service");
    let created = client
        .post(format!("{base}/v1/marketplace/bids/b1/accept"))
        .bearer_auth(&service)
        .json(&json!({
            "project": "p1",
            "client": {"user": "u1", "account": "a1", "name": "C", "email": "c@example.com"},
            "contractor": {"user": "u2", "account": "a2", "name": "K", "email": "k@example.com"},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: serde_json::Value = created.json().await.unwrap();
    let room = created["room"].as_str().expect("the room").to_string();
    let member = token(dir.path(), "u1", "member");
    for (path, bearer) in [
        ("/v1/rooms", member.as_str()),
        ("/v1/rooms", "not-a-token"),
        ("/v1/no-such-route", member.as_str()),
        ("/v1/audit", member.as_str()),
    ] {
        let _ = client
            .get(format!("{base}{path}"))
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap();
    }
    // Contact details (C8) are never logged: stored, refused, released, read.
    let contractor = token(dir.path(), "u2", "member");
    for (bearer, phone) in [
        (&member, "+44 20 7946 0958"),
        (&contractor, "+1 555 0100 321"),
        (&member, "phone ## 7946"),
    ] {
        let _ = client
            .put(format!("{base}/v1/me/contact"))
            .bearer_auth(bearer)
            .json(&json!({
                "name": "Quillon Marker", "company": "Marker Works",
                "phone": phone, "address": "7 Marker Lane\nLondon",
            }))
            .send()
            .await
            .unwrap();
    }
    let released = client
        .post(format!("{base}/v1/rooms/{room}/contacts/release"))
        .bearer_auth(&member)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(released.status(), StatusCode::OK);
    let seen = client
        .get(format!("{base}/v1/rooms/{room}/contacts"))
        .bearer_auth(&contractor)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(seen.contains("Marker Lane"), "control: released: {seen}");
    // A TLS handshake that fails (plain HTTP on the TLS port).
    let _ = reqwest::Client::builder()
        .local_address(CLIENT_ADDRESS.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await;
    child.terminate().await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.is_empty(), "control: the server logged");
    // The client address, and the contact details.
    for needle in [
        CLIENT_ADDRESS,
        "Quillon",
        "Marker Works",
        "Marker Lane",
        "20 7946 0958",
        "555 0100 321",
    ] {
        assert!(
            !text.contains(needle),
            "a log line carries {needle}:\n{}",
            text.lines()
                .filter(|l| l.contains(needle))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
