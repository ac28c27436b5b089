//! Legal disclosure (C12): a legal officer's export of a workroom is a signed bundle that
//! verifies offline with nothing but the public key; every kind of tampering is caught and
//! named; erased and purged data is reported as such, held data is exported; only legal
//! tokens may export; each export is in the audit chain.

use crate::cli::BIN;
use crate::retention::{DAY, legal, lifecycle_server, seeded_room, wait_purged};
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use workroom_protocol::Role;
use workroom_tests::{TestServer, eventually, sha256_hex};

/// Ask for an export and wait until it is ready; returns its view.
pub(crate) async fn export(server: &TestServer, request: Value) -> Value {
    let officer = legal(server);
    let response = server
        .http
        .post("/v1/legal/exports", &officer)
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    eventually(Duration::from_secs(60), "the export is ready", || async {
        let view = server
            .get_json(&officer, &format!("/v1/legal/exports/{id}"))
            .await;
        assert_ne!(view["state"], "failed", "{view}");
        (view["state"] == "ready").then_some(view)
    })
    .await
}

/// The bundle's bytes.
pub(crate) async fn download(server: &TestServer, id: &str) -> Vec<u8> {
    let response = server
        .http
        .get(&format!("/v1/legal/exports/{id}/content"), &legal(server))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/x-tar"
    );
    response.bytes().await.unwrap().to_vec()
}

/// `workroom legal verify` in an empty data dir (no server, no database, no key).
fn verify(dir: &Path, bundle: &[u8], public_key: &str) -> std::process::Output {
    let bundle_path = dir.join("bundle.tar");
    std::fs::write(&bundle_path, bundle).unwrap();
    let key_path = dir.join("public.key");
    std::fs::write(&key_path, public_key).unwrap();
    Command::new(BIN)
        .args(["legal", "verify"])
        .arg(&bundle_path)
        .arg("--public-key")
        .arg(&key_path)
        .arg("--data-dir")
        .arg(dir.join("empty"))
        .env("WORKROOM_LOG__FILTER", "warn")
        .output()
        .unwrap()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The bundle's entries by path, in archive order.
pub(crate) fn entries(bundle: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(bundle);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let path = e.path().unwrap().display().to_string();
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut bytes).unwrap();
            (path, bytes)
        })
        .collect()
}

/// A new archive of `entries`, in order, written the way the server writes a bundle (the
/// same header fields, `mtime` the bundle's).
fn rebuild(entries: &[(String, Vec<u8>)], mtime: u64) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, bytes) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(mtime);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, path, &bytes[..]).unwrap();
    }
    builder.into_inner().unwrap()
}

/// The time every entry of a bundle carries.
fn mtime(bundle: &[u8]) -> u64 {
    tar::Header::from_byte_slice(&bundle[..512])
        .mtime()
        .unwrap()
}

/// `bundle` with the last byte of the first occurrence of `needle` changed.
fn flip(bundle: &[u8], needle: &str) -> Vec<u8> {
    let mut out = bundle.to_vec();
    let at = out
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .unwrap_or_else(|| panic!("{needle} is in the bundle"));
    out[at + needle.len() - 1] ^= 0x01;
    out
}

fn text_of(entries: &[(String, Vec<u8>)], prefix: &str) -> String {
    entries
        .iter()
        .filter(|(p, _)| p.starts_with(prefix))
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .collect()
}

#[tokio::test]
async fn a_workroom_bundle_verifies_offline_and_every_tampering_is_named() {
    let server = TestServer::start().await;
    let (room, _) = seeded_room(&server, "b1", "dc1", "dk1", "amber-heron").await;
    let view = export(
        &server,
        json!({"request_id": "REQ-7", "scope": "room", "target": room}),
    )
    .await;
    let id = view["id"].as_str().unwrap();
    let bundle = download(&server, id).await;
    assert_eq!(view["size"], bundle.len() as u64);
    // The public key is public: no token.
    let key = server
        .http
        .inner
        .get(server.http.url("/v1/legal/public-key"))
        .send()
        .await
        .unwrap();
    assert_eq!(key.status(), StatusCode::OK);
    let key: Value = key.json().await.unwrap();
    let public = key["public_key"].as_str().unwrap().to_string();
    assert_eq!(key["algorithm"], "ed25519");
    // The server is not needed to check it: stop it first.
    let dir = tempfile::tempdir().unwrap();
    let (config, _data) = server.stop().await;

    let ok = verify(dir.path(), &bundle, &public);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let said = String::from_utf8_lossy(&ok.stdout).into_owned();
    assert!(said.contains("bundle verified"), "{said}");
    // Without --public-key: this installation's own key, never a generated one.
    let bundle_path = dir.path().join("bundle.tar");
    let path = bundle_path.to_str().unwrap();
    let own = crate::cli::ok(crate::cli::workroom(&config, &["legal", "verify", path]));
    assert!(own.contains("bundle verified"), "{own}");
    let none = Command::new(BIN)
        .args(["legal", "verify", path, "--data-dir"])
        .arg(dir.path().join("nothing"))
        .output()
        .unwrap();
    assert!(!none.status.success());
    assert!(
        stderr(&none).contains("no --public-key given and no signing key at"),
        "{}",
        stderr(&none)
    );
    assert!(
        !dir.path().join("nothing/keys").exists(),
        "verify generates no key"
    );
    assert!(
        said.contains(view["manifest_sha256"].as_str().unwrap()),
        "{said}"
    );

    // What it holds: the timeline with prior versions, the file as uploaded, the members.
    let all = entries(&bundle);
    let paths: Vec<&str> = all.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(&paths[paths.len() - 2..], ["manifest.json", "manifest.sig"]);
    let messages = text_of(&all, &format!("rooms/{room}/messages/"));
    assert!(messages.contains("amber-heron edited"), "{messages}");
    assert!(
        messages.contains("\"prior_versions\":[{\"version\":1,\"body\":\"amber-heron body 0\""),
        "the edited message keeps its first version: {messages}"
    );
    let index = text_of(&all, &format!("rooms/{room}/file-index/"));
    let file: Value = serde_json::from_str(index.lines().next().unwrap()).unwrap();
    assert_eq!(file["content"], "included");
    assert_eq!(file["name"], "amber-heron-name.txt");
    let content = &all
        .iter()
        .find(|(p, _)| Some(p.as_str()) == file["path"].as_str())
        .unwrap()
        .1;
    assert_eq!(
        content,
        &"amber-heron file content ".repeat(3000).into_bytes(),
        "the file as uploaded, decrypted"
    );
    assert_eq!(sha256_hex(content), file["sha256"].as_str().unwrap());
    let members = text_of(&all, &format!("rooms/{room}/members.json"));
    assert!(members.contains("dk1@example.com"), "{members}");
    let audit = text_of(&all, "audit/");
    assert!(audit.contains("legal.export_requested"), "{audit}");
    let manifest: Value = serde_json::from_slice(&all[all.len() - 2].1).unwrap();
    assert_eq!(manifest["request_id"], "REQ-7");
    assert_eq!(manifest["scope"], "room");
    assert!(manifest["audit_head"]["hash"].is_string(), "{manifest}");
    assert_eq!(manifest["key_id"], key["key_id"]);

    // A changed byte in a message.
    let page = format!("rooms/{room}/messages/000001.jsonl");
    let bad = verify(dir.path(), &flip(&bundle, "amber-heron body 5"), &public);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains(&format!("entry {page} was changed")),
        "{}",
        stderr(&bad)
    );
    // … in a file.
    let bad = verify(
        dir.path(),
        &flip(&bundle, "amber-heron file content"),
        &public,
    );
    assert!(
        stderr(&bad).contains(&format!(
            "entry {} was changed",
            file["path"].as_str().unwrap()
        )),
        "{}",
        stderr(&bad)
    );
    // … in the manifest.
    let bad = verify(
        dir.path(),
        &flip(&bundle, "\"request_id\": \"REQ-7"),
        &public,
    );
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("signature does not verify"),
        "{}",
        stderr(&bad)
    );
    // A byte outside every entry: the padding after the first one, and its header.
    let first_size = all[0].1.len();
    let mut padded = bundle.clone();
    padded[512 + first_size] = b'x';
    let bad = verify(dir.path(), &padded, &public);
    assert!(
        stderr(&bad).contains(&format!("the padding after entry {} was changed", all[0].0)),
        "{}",
        stderr(&bad)
    );
    let mut headed = bundle.clone();
    headed[0] ^= 0x01;
    let bad = verify(dir.path(), &headed, &public);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("tar header"), "{}", stderr(&bad));
    // An entry removed.
    let members_path = format!("rooms/{room}/members.json");
    let without: Vec<_> = all
        .iter()
        .filter(|(p, _)| *p != members_path)
        .cloned()
        .collect();
    let bad = verify(dir.path(), &rebuild(&without, mtime(&bundle)), &public);
    assert!(
        stderr(&bad).contains(&format!(
            "entry {members_path} is listed in the manifest but missing"
        )),
        "{}",
        stderr(&bad)
    );
    // An entry added.
    let mut with = all.clone();
    with.insert(1, (format!("rooms/{room}/notes.txt"), b"planted".to_vec()));
    let bad = verify(dir.path(), &rebuild(&with, mtime(&bundle)), &public);
    assert!(
        stderr(&bad).contains(&format!(
            "entry rooms/{room}/notes.txt is in the archive but not listed"
        )),
        "{}",
        stderr(&bad)
    );
    // The untouched rebuild verifies (the checks are about content, not tar details).
    assert!(
        verify(dir.path(), &rebuild(&all, mtime(&bundle)), &public)
            .status
            .success()
    );
    // A manifest re-signed by another key.
    let doc = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new()).unwrap();
    let other = Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap();
    let mut resigned = all.clone();
    let n = resigned.len();
    resigned[n - 1].1 = other.sign(&resigned[n - 2].1).as_ref().to_vec();
    let bad = verify(dir.path(), &rebuild(&resigned, mtime(&bundle)), &public);
    assert!(
        stderr(&bad).contains("signature does not verify with public key"),
        "{}",
        stderr(&bad)
    );
    let other_public: String = other
        .public_key()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(
        verify(
            dir.path(),
            &rebuild(&resigned, mtime(&bundle)),
            &other_public
        )
        .status
        .success(),
        "only the right public key tells a forged bundle apart"
    );
}

#[tokio::test]
async fn erased_and_purged_data_is_reported_never_resurrected_and_held_data_is_exported() {
    let server = lifecycle_server().await;
    // A: its contractor is terminated and erased; the room is held.
    let (held, _) = seeded_room(&server, "b1", "ec1", "ek1", "coral-finch").await;
    let mut contractor = server.client("ek1").await;
    let sent = contractor.send(&held, "k1", "contractor words").await;
    assert!(matches!(sent, workroom_protocol::ServerFrame::Ack { .. }));
    let hold = server
        .http
        .post("/v1/legal/holds", &legal(&server))
        .json(&json!({"request_id": "REQ-9", "scope": "room", "target": held}))
        .send()
        .await
        .unwrap();
    assert_eq!(hold.status(), StatusCode::CREATED);
    let terminated = server
        .http
        .post("/v1/marketplace/users/ek1/terminate", &server.service())
        .json(&json!({"reason": "closed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(terminated.status(), StatusCode::OK);
    // B: closed and purged under its retention.
    let (purged, _) = seeded_room(&server, "b2", "pc1", "pk1", "olive-stoat").await;
    server.end_contract("b2").await;
    server.clock.advance(Duration::from_secs(DAY + 60));
    wait_purged(&server, &purged).await;

    let view = export(
        &server,
        json!({"request_id": "REQ-9", "scope": "account", "target": "acct-ec1"}),
    )
    .await;
    let bundle = download(&server, view["id"].as_str().unwrap()).await;
    let all = entries(&bundle);

    // The held room is exported whole; the erased member (the hold covers the room, not
    // the person) is a former member, and nothing personal of theirs comes back.
    let room_record: Value = serde_json::from_slice(
        &all.iter()
            .find(|(p, _)| *p == format!("rooms/{held}/room.json"))
            .unwrap()
            .1,
    )
    .unwrap();
    assert_eq!(room_record["legal_hold"], true);
    assert_eq!(room_record["content"], "present");
    let messages = text_of(&all, &format!("rooms/{held}/messages/"));
    assert!(messages.contains("contractor words"), "{messages}");
    let members: Vec<Value> = serde_json::from_slice(
        &all.iter()
            .find(|(p, _)| *p == format!("rooms/{held}/members.json"))
            .unwrap()
            .1,
    )
    .unwrap();
    let former: Vec<&Value> = members.iter().filter(|m| m["former"] == true).collect();
    assert_eq!(former.len(), 1, "{members:?}");
    assert_eq!(former[0]["erased"], true);
    assert!(former[0]["name"].is_null() && former[0]["email"].is_null());
    let everything = String::from_utf8_lossy(&bundle).into_owned();
    assert!(
        !everything.contains("ek1@example.com"),
        "the erased email is gone"
    );
    assert!(!everything.contains("Name ek1"), "the erased name is gone");

    // B belongs to other accounts: not in this scope.
    assert!(!all.iter().any(|(p, _)| p.contains(&purged)));

    // Exported on its own, the purged room is its record only.
    let view = export(
        &server,
        json!({"request_id": "REQ-10", "scope": "room", "target": purged}),
    )
    .await;
    let bundle = download(&server, view["id"].as_str().unwrap()).await;
    let all = entries(&bundle);
    let paths: Vec<&str> = all.iter().map(|(p, _)| p.as_str()).collect();
    assert!(
        !paths
            .iter()
            .any(|p| p.contains("/messages/") || p.contains("/files/")),
        "{paths:?}"
    );
    let record: Value = serde_json::from_slice(&all[0].1).unwrap();
    assert_eq!(record["state"], "purged");
    assert_eq!(record["content"], "purged");
    assert!(record["purged_messages"].as_u64().unwrap() > 0);
    let manifest: Value = serde_json::from_slice(&all[all.len() - 2].1).unwrap();
    assert!(
        manifest["notes"].to_string().contains("purged"),
        "{manifest}"
    );
    assert!(!String::from_utf8_lossy(&bundle).contains("olive-stoat body"));
    let mut by_state: BTreeMap<String, u32> = BTreeMap::new();
    for export in server.get_json(&legal(&server), "/v1/legal/exports").await["exports"]
        .as_array()
        .unwrap()
    {
        *by_state
            .entry(export["state"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(by_state.get("ready"), Some(&2), "{by_state:?}");
}

#[tokio::test]
async fn only_legal_officers_export_and_every_export_is_in_the_audit_chain() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "oc1", "ok1").await.room;
    let request = json!({"request_id": "REQ-11", "scope": "room", "target": room});
    for token in [
        server.member("oc1"),
        server.token("mod-1", Role::Moderator, None),
        server.token("admin-1", Role::Admin, None),
        server.token("auditor-1", Role::Auditor, None),
        server.service(),
    ] {
        let response = server
            .http
            .post("/v1/legal/exports", &token)
            .json(&request)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "forbidden", "{body}");
        let listed = server
            .http
            .get("/v1/legal/exports", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(listed.status(), StatusCode::FORBIDDEN);
    }
    let unknown = server
        .http
        .post("/v1/legal/exports", &legal(&server))
        .json(&json!({"request_id": "REQ-11", "scope": "room", "target": "rm_nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let bad = server
        .http
        .post("/v1/legal/exports", &legal(&server))
        .json(&json!({"request_id": "REQ-11", "scope": "galaxy", "target": room}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    let view = export(&server, request).await;
    let id = view["id"].as_str().unwrap();
    // Nobody but a legal officer downloads it either.
    let refused = server
        .http
        .get(
            &format!("/v1/legal/exports/{id}/content"),
            &server.token("admin-1", Role::Admin, None),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let bundle = download(&server, id).await;
    assert!(!bundle.is_empty());

    let all = server
        .get_json(
            &server.token("auditor-1", Role::Auditor, None),
            "/v1/audit?action=legal.exported",
        )
        .await;
    let entries = all["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{all}");
    let entry = &entries[0];
    assert_eq!(entry["request_id"], "REQ-11");
    assert_eq!(entry["actor"], "officer-1");
    assert_eq!(entry["purpose"], "legal_disclosure");
    assert_eq!(entry["target"], format!("room:{room}"));
    assert_eq!(entry["details"]["scope"], "room");
    assert_eq!(entry["details"]["manifest_sha256"], view["manifest_sha256"]);
    for action in ["legal.export_requested", "legal.export_downloaded"] {
        let found = server
            .get_json(
                &server.token("auditor-1", Role::Auditor, None),
                &format!("/v1/audit?action={action}"),
            )
            .await;
        assert_eq!(
            found["entries"].as_array().unwrap().len(),
            1,
            "{action}: {found}"
        );
    }
    // And the chain with those entries verifies.
    let (config, _dir) = server.stop().await;
    let out = crate::cli::ok(crate::cli::workroom(&config, &["audit", "verify"]));
    assert!(out.contains("audit trail intact"), "{out}");
}
