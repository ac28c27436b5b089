//! Files (C4) through the real server, on whichever object store the suite runs against
//! (local by default; S3 with `WORKROOM_TEST_FILES=s3`, see the harness).

use reqwest::StatusCode;
use sea_orm::ConnectionTrait;
use serde_json::Value;
use std::time::Duration;
use workroom_protocol::ServerFrame;
use workroom_protocol::http::{FileInfo, FileLink};
use workroom_protocol::{ErrorCode, Role};
use workroom_tests::{TestClient, TestServer, eventually, sha256_hex};

/// Deterministic bytes that are not text and carry a PDF signature.
fn pdf_bytes(len: usize) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut x: u32 = 0x1234_5678;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.push((x & 0xff) as u8);
    }
    out.truncate(len);
    out
}

async fn uploaded(response: reqwest::Response) -> FileInfo {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{text}");
    serde_json::from_str(&text).unwrap()
}

async fn error_code(response: reqwest::Response) -> (StatusCode, ErrorCode) {
    let status = response.status();
    let body: Value = response.json().await.expect("SPEC error body");
    let code = serde_json::from_value(body["code"].clone()).expect("a SPEC code");
    (status, code)
}

async fn get(server: &TestServer, token: &str, path: &str) -> reqwest::Response {
    server.http.get(path, token).send().await.unwrap()
}

/// Attach `file` to a new message from `client` and return the delivered message.
async fn attach(client: &mut TestClient, room: &str, cmid: &str, file: &str) {
    match client
        .send_with_files(room, cmid, "see attached", &[file])
        .await
    {
        ServerFrame::Ack { .. } => {}
        other => panic!("attach failed: {other:?}"),
    }
}

/// Upload `bytes` as `uploader` and attach it to a new message; returns the file.
async fn attached_file(
    server: &TestServer,
    room: &str,
    uploader: &str,
    bytes: Vec<u8>,
) -> FileInfo {
    let token = server.member(uploader);
    let info = uploaded(server.upload(&token, room, "a.pdf", None, bytes).await).await;
    let mut client = server.client(uploader).await;
    attach(&mut client, room, "m1", &info.id).await;
    info
}

async fn open_link(server: &TestServer, url: &str) -> reqwest::Response {
    server.http.inner.get(url).send().await.unwrap()
}

async fn mint_link(server: &TestServer, token: &str, room: &str, file: &str) -> String {
    let link = server
        .post_json(token, &format!("/v1/rooms/{room}/files/{file}/link"))
        .await;
    let link: FileLink = serde_json::from_value(link).expect("a link");
    server.http.url(&link.url)
}

#[tokio::test]
async fn upload_records_hash_sniffed_type_and_a_safe_name_and_downloads_with_safe_headers() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let (u1, u2) = (server.member("u1"), server.member("u2"));
    let bytes = pdf_bytes(300 * 1024 + 17); // several 64 KiB chunks and a short last one
    let info = uploaded(
        server
            .upload(
                &u1,
                &room,
                "../../etc/\u{7}report\u{202e}.pdf",
                Some("image/png"),
                bytes.clone(),
            )
            .await,
    )
    .await;
    assert_eq!(info.name.as_deref(), Some("report.pdf"));
    assert_eq!(info.size, bytes.len() as u64);
    assert_eq!(info.sha256, sha256_hex(&bytes));
    assert_eq!(
        info.content_type, "application/pdf",
        "sniffed from the bytes"
    );
    assert_eq!(info.declared_type.as_deref(), Some("image/png"));
    assert_eq!(info.uploader, "u1");

    let content = format!("/v1/rooms/{room}/files/{}/content", info.id);
    let response = get(&server, &u1, &content).await;
    assert_eq!(response.status(), StatusCode::OK);
    let h = response.headers().clone();
    assert_eq!(h["content-type"], "application/pdf");
    assert_eq!(
        h["content-disposition"],
        "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["content-security-policy"], "default-src 'none'; sandbox");
    assert_eq!(h["accept-ranges"], "bytes");
    assert_eq!(response.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // Not attached yet: only the uploader sees it.
    let (status, code) = error_code(get(&server, &u2, &content).await).await;
    assert_eq!((status, code), (StatusCode::NOT_FOUND, ErrorCode::NotFound));

    let mut c1 = server.client("u1").await;
    let mut c2 = server.client("u2").await;
    attach(&mut c1, &room, "m1", &info.id).await;
    let delivered = c2
        .expect(|f| matches!(f, ServerFrame::Message(m) if m.attachments.len() == 1))
        .await;
    let ServerFrame::Message(message) = delivered else {
        unreachable!()
    };
    assert_eq!(message.attachments, vec![info.id.clone()]);
    let meta: FileInfo = get(&server, &u2, &format!("/v1/rooms/{room}/files/{}", info.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(meta.msg_id.as_deref(), Some(message.msg_id.as_str()));
    let full = get(&server, &u2, &content).await.bytes().await.unwrap();
    assert_eq!(full.as_ref(), bytes.as_slice());

    // History carries the attachment too.
    let history: Value = get(&server, &u2, &format!("/v1/rooms/{room}/messages"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(history["messages"][0]["attachments"][0], info.id.as_str());
}

#[tokio::test]
async fn range_requests_return_exactly_the_asked_bytes() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let u1 = server.member("u1");
    let bytes = pdf_bytes(200_000);
    let info = uploaded(
        server
            .upload(&u1, &room, "a.pdf", None, bytes.clone())
            .await,
    )
    .await;
    let content = format!("/v1/rooms/{room}/files/{}/content", info.id);
    let size = bytes.len();
    // Across a chunk boundary (65,536), the tail, a suffix, and one byte.
    for (range, start, end) in [
        ("bytes=65000-70999", 65_000, 71_000),
        ("bytes=199990-", 199_990, size),
        ("bytes=-100", size - 100, size),
        ("bytes=0-0", 0, 1),
        ("bytes=131072-131072", 131_072, 131_073),
    ] {
        let response = server
            .http
            .get(&content, &u1)
            .header("range", range)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(
            response.headers()["content-range"],
            format!("bytes {start}-{}/{size}", end - 1).as_str()
        );
        assert_eq!(
            response.bytes().await.unwrap().as_ref(),
            &bytes[start..end],
            "{range}"
        );
    }
    let response = server
        .http
        .get(&content, &u1)
        .header("range", "bytes=500000-")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        response.headers()["content-range"],
        format!("bytes */{size}").as_str()
    );
}

#[tokio::test]
async fn large_uploads_stream_through_in_many_parts() {
    // 12 MiB with 5 MiB parts: a multipart upload on S3, many chunks everywhere.
    let server = TestServer::start_with(Box::new(|c| {
        c.files.s3.part_size_bytes = 5 * 1024 * 1024;
    }))
    .await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let u1 = server.member("u1");
    let bytes = pdf_bytes(12 * 1024 * 1024 + 3);
    let info = uploaded(
        server
            .upload(&u1, &room, "big.bin", None, bytes.clone())
            .await,
    )
    .await;
    assert_eq!(info.sha256, sha256_hex(&bytes));
    let response = get(
        &server,
        &u1,
        &format!("/v1/rooms/{room}/files/{}/content", info.id),
    )
    .await;
    let status = response.status();
    let body = response.bytes().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(sha256_hex(&body), info.sha256);
}

async fn stored_objects(server: &TestServer) -> usize {
    server
        .blob_store()
        .await
        .list("files/")
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn over_a_limit_is_413_with_the_spec_body_and_nothing_is_kept() {
    let server = TestServer::start_with(Box::new(|c| {
        c.files.max_file_bytes = 1024 * 1024;
        c.files.room_quota_bytes = 2 * 1024 * 1024 + 1024 * 1024 / 2;
    }))
    .await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let u1 = server.member("u1");

    let (status, code) = error_code(
        server
            .upload(&u1, &room, "big", None, pdf_bytes(2 * 1024 * 1024))
            .await,
    )
    .await;
    assert_eq!(
        (status, code),
        (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::TooLarge)
    );
    assert_eq!(stored_objects(&server).await, 0, "nothing kept");

    let mut kept = Vec::new();
    for name in ["one", "two"] {
        let info = uploaded(
            server
                .upload(&u1, &room, name, None, pdf_bytes(1024 * 1024))
                .await,
        )
        .await;
        kept.push(info.id);
    }
    let (status, code) = error_code(
        server
            .upload(&u1, &room, "three", None, pdf_bytes(1024 * 1024))
            .await,
    )
    .await;
    assert_eq!(
        (status, code),
        (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::TooLarge)
    );
    assert_eq!(
        stored_objects(&server).await,
        2,
        "the refused file left nothing"
    );

    // Deleting the message a file is attached to gives its bytes back to the quota.
    let mut c1 = server.client("u1").await;
    assert!(matches!(
        c1.send_with_files(&room, "m1", "the first", &[&kept[0]])
            .await,
        ServerFrame::Ack { seq: 1, .. }
    ));
    assert!(matches!(
        c1.request(
            serde_json::json!({"type": "delete", "room": room, "client_msg_id": "d1", "seq": 1})
        )
        .await,
        ServerFrame::Ack { .. }
    ));
    uploaded(
        server
            .upload(&u1, &room, "three", None, pdf_bytes(1024 * 1024))
            .await,
    )
    .await;

    // Racing uploads cannot overshoot: with room for one more half-megabyte file, of four
    // sent at once exactly one is kept.
    let racing = (0..4).map(|i| {
        let (server, u1, room) = (&server, &u1, &room);
        async move {
            server
                .upload(u1, room, &format!("race-{i}"), None, pdf_bytes(512 * 1024))
                .await
                .status()
        }
    });
    let statuses = futures_util::future::join_all(racing).await;
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::PAYLOAD_TOO_LARGE)
            .count(),
        3,
        "{statuses:?}"
    );
}

/// Upload `chunks` × 64 KiB of `byte` with chunked transfer encoding (no length).
async fn upload_chunked(
    server: &TestServer,
    token: &str,
    room: &str,
    chunks: usize,
    byte: u8,
) -> reqwest::Response {
    let body = (0..chunks)
        .map(move |_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![byte; 64 * 1024])));
    server
        .http
        .post(&format!("/v1/rooms/{room}/files?name=stream"), token)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(body)))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_streamed_body_without_length_is_cut_off_at_the_limit_and_nothing_is_kept() {
    let server = TestServer::start_with(Box::new(|c| c.files.max_file_bytes = 1024 * 1024)).await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let u1 = server.member("u1");
    // Chunked transfer encoding: the server only learns the size by counting.
    let response = upload_chunked(&server, &u1, &room, 40, 1).await;
    let (status, code) = error_code(response).await;
    assert_eq!(
        (status, code),
        (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::TooLarge)
    );
    assert_eq!(stored_objects(&server).await, 0, "nothing kept");
    // Within the limit, the same streamed form is stored whole.
    let response = upload_chunked(&server, &u1, &room, 8, 2).await;
    assert_eq!(uploaded(response).await.size, 8 * 64 * 1024);
}

#[tokio::test]
async fn only_readers_of_the_room_can_see_its_files() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let other_room = server.open_room("b2", "p2", "u3", "u4").await.room;
    // A viewer of the client's team account.
    server.put_account_member("acct-u1", "v1", "viewer").await;
    let info = attached_file(&server, &room, "u1", pdf_bytes(1000)).await;

    let meta = format!("/v1/rooms/{room}/files/{}", info.id);
    let content = format!("{meta}/content");
    let link = format!("{meta}/link");
    // The viewer reads.
    let viewer = server.member("v1");
    assert_eq!(
        get(&server, &viewer, &content).await.status(),
        StatusCode::OK
    );
    // Viewers cannot upload.
    let (status, _) = error_code(server.upload(&viewer, &room, "v", None, vec![1]).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // An outsider, and a member of another room, see nothing: not even that it exists.
    for outsider in [server.member("u3"), server.member("stranger")] {
        for path in [&meta, &content] {
            let (status, code) = error_code(get(&server, &outsider, path).await).await;
            assert_eq!(
                (status, code),
                (StatusCode::NOT_FOUND, ErrorCode::NotFound),
                "{path}"
            );
        }
        let response = server.http.post(&link, &outsider).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let (status, _) =
            error_code(server.upload(&outsider, &room, "x", None, vec![1]).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    // The file is not reachable through another room's path either.
    let (status, _) = error_code(
        get(
            &server,
            &server.member("u3"),
            &format!("/v1/rooms/{other_room}/files/{}/content", info.id),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Bots and moderators read nothing.
    for role in [Role::Bot, Role::Moderator] {
        let token = server.token("x", role, None);
        assert_eq!(
            get(&server, &token, &content).await.status(),
            StatusCode::FORBIDDEN
        );
    }
}

#[tokio::test]
async fn attachments_must_be_the_senders_own_unattached_files_of_that_room() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let other_room = server.open_room("b2", "p2", "u1", "u5").await.room;
    let (u1, u2) = (server.member("u1"), server.member("u2"));
    let mine = uploaded(server.upload(&u1, &room, "mine", None, vec![7; 10]).await).await;
    let theirs = uploaded(server.upload(&u2, &room, "theirs", None, vec![8; 10]).await).await;
    let elsewhere = uploaded(
        server
            .upload(&u1, &other_room, "elsewhere", None, vec![9; 10])
            .await,
    )
    .await;
    let mut c1 = server.client("u1").await;
    for (cmid, file) in [
        ("a", theirs.id.as_str()),
        ("b", elsewhere.id.as_str()),
        ("c", "f_missing"),
    ] {
        match c1.send_with_files(&room, cmid, "x", &[file]).await {
            ServerFrame::Error { code, .. } => assert_eq!(code, ErrorCode::Invalid, "{file}"),
            other => panic!("{file}: {other:?}"),
        }
    }
    attach(&mut c1, &room, "d", &mine.id).await;
    match c1.send_with_files(&room, "e", "again", &[&mine.id]).await {
        ServerFrame::Error { code, .. } => assert_eq!(code, ErrorCode::Invalid),
        other => panic!("{other:?}"),
    }
    // A repeated send is idempotent: the original ack, not an "already attached" error.
    match c1
        .send_with_files(&room, "d", "see attached", &[&mine.id])
        .await
    {
        ServerFrame::Ack { seq, .. } => assert_eq!(seq, 1),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn deleting_the_message_withdraws_its_files_and_their_links() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let (u1, u2) = (server.member("u1"), server.member("u2"));
    let info = attached_file(&server, &room, "u1", pdf_bytes(5000)).await;
    let mut c1 = server.client("u1").await;
    let content = format!("/v1/rooms/{room}/files/{}/content", info.id);
    let link_url = mint_link(&server, &u2, &room, &info.id).await;
    assert_eq!(open_link(&server, &link_url).await.status(), StatusCode::OK);
    match c1
        .request(
            serde_json::json!({"type": "delete", "room": room, "client_msg_id": "d1", "seq": 1}),
        )
        .await
    {
        ServerFrame::Ack { .. } => {}
        other => panic!("{other:?}"),
    }
    for token in [&u1, &u2] {
        let (status, _) = error_code(get(&server, token, &content).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (status, code) = error_code(open_link(&server, &link_url).await).await;
    assert_eq!(
        (status, code),
        (StatusCode::FORBIDDEN, ErrorCode::Forbidden)
    );
}

#[tokio::test]
async fn signed_links_work_without_a_token_until_they_expire_or_access_ends() {
    let server = TestServer::start_with(Box::new(|c| c.files.link_ttl_secs = 2)).await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let (u1, u2) = (server.member("u1"), server.member("u2"));
    let bytes = pdf_bytes(70_000);
    let info = uploaded(
        server
            .upload(&u1, &room, "a.pdf", None, bytes.clone())
            .await,
    )
    .await;
    let mut c1 = server.client("u1").await;
    attach(&mut c1, &room, "m1", &info.id).await;
    // Works without a token, with Range too.
    let url = mint_link(&server, &u2, &room, &info.id).await;
    let response = open_link(&server, &url).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap().as_ref(), bytes.as_slice());
    let partial = server
        .http
        .inner
        .get(&url)
        .header("range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(partial.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(partial.bytes().await.unwrap().as_ref(), &bytes[10..20]);

    // Tampering with any part breaks it.
    for tampered in [
        url.replace("user=u2", "user=u1"),
        url.replace(&info.id, "f_other"),
        url.replacen("expires=", "expires=9", 1),
        format!("{}A", url),
    ] {
        let (status, code) = error_code(open_link(&server, &tampered).await).await;
        assert_eq!(
            (status, code),
            (StatusCode::FORBIDDEN, ErrorCode::Forbidden)
        );
    }

    // Access ends (the contractor's team drops u2's membership... u2 is the party, so end
    // their membership of the account): the link stops at once.
    server.remove_account_member("acct-u2", "u2").await;
    let (status, _) = error_code(open_link(&server, &url).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Expiry: a fresh link for u1 works, then stops after its TTL.
    let url = mint_link(&server, &u1, &room, &info.id).await;
    assert_eq!(open_link(&server, &url).await.status(), StatusCode::OK);
    server.clock.advance(Duration::from_millis(3100));
    let (status, _) = error_code(open_link(&server, &url).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_missing_object_gives_a_clear_error_and_the_server_stays_up() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let u1 = server.member("u1");
    let info = uploaded(
        server
            .upload(&u1, &room, "a.pdf", None, pdf_bytes(1000))
            .await,
    )
    .await;
    let store = server.blob_store().await;
    for object in store.list("files/").await.unwrap() {
        store.delete(&object.key).await.unwrap();
    }
    let response = get(
        &server,
        &u1,
        &format!("/v1/rooms/{room}/files/{}/content", info.id),
    )
    .await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["code"], "internal");
    assert!(
        body["message"].as_str().unwrap().contains("missing"),
        "{body}"
    );
    assert_eq!(get(&server, "", "/healthz").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_sweeper_removes_orphaned_objects_and_keeps_referenced_ones() {
    let server = TestServer::start_with(Box::new(|c| {
        c.files.orphan_grace_secs = 1;
        c.files.sweep_interval_secs = 1;
    }))
    .await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let u1 = server.member("u1");
    let info = uploaded(
        server
            .upload(&u1, &room, "keep", None, pdf_bytes(1000))
            .await,
    )
    .await;
    // An object with no row, as a crash between object and row would leave.
    let store = server.blob_store().await;
    let mut orphan = store
        .begin(&format!("files/{room}/f_orphan"))
        .await
        .unwrap();
    orphan
        .write(bytes::Bytes::from_static(b"ciphertext"))
        .await
        .unwrap();
    orphan.finish().await.unwrap();
    assert_eq!(stored_objects(&server).await, 2);
    eventually(Duration::from_secs(15), "the orphan swept", || async {
        (stored_objects(&server).await <= 1).then_some(())
    })
    .await;
    let left = store.list("files/").await.unwrap();
    assert!(left[0].key.ends_with(&info.id), "{left:?}");
    assert_eq!(
        get(
            &server,
            &u1,
            &format!("/v1/rooms/{room}/files/{}/content", info.id)
        )
        .await
        .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_unwritable_store_makes_uploads_unavailable_and_leaves_no_row() {
    // Local: the files directory replaced by a plain file. (S3 faults: see `files_s3`.)
    if workroom_tests::s3_target().is_some() {
        return;
    }
    let server = TestServer::start_with(Box::new(|c| c.health.check_interval_ms = 100)).await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let files_dir = server.config.files_dir();
    std::fs::remove_dir_all(&files_dir).unwrap();
    std::fs::write(&files_dir, b"not a directory").unwrap();
    let u1 = server.member("u1");
    let (status, code) = error_code(server.upload(&u1, &room, "a", None, vec![1; 100]).await).await;
    assert_eq!(
        (status, code),
        (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable)
    );
    // The health check notices: `/readyz` names the store but stays ready (messaging is
    // unaffected), and a large upload is refused at once with its answer body, not a reset.
    let readiness = wait_for_readiness(&server, |r| r["object_store"] == "down").await;
    assert_eq!(readiness["ready"], true, "{readiness}");
    let (status, code) = error_code(
        server
            .upload(&u1, &room, "big", None, pdf_bytes(20 * 1024 * 1024))
            .await,
    )
    .await;
    assert_eq!(
        (status, code),
        (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable)
    );
    let (store, _) = workroom_tests::workroom_server::server::open_store(
        &server.config,
        workroom_storage::Clock::system(),
    )
    .await
    .unwrap();
    assert_eq!(store.room_file_usage(&room).await.unwrap(), 0, "no row");
    assert_eq!(get(&server, "", "/healthz").await.status(), StatusCode::OK);

    // Repaired: the check sees it, and uploads work again without a restart.
    std::fs::remove_file(&files_dir).unwrap();
    std::fs::create_dir_all(files_dir.join(".partial")).unwrap();
    wait_for_readiness(&server, |r| r["object_store"] == "up").await;
    uploaded(server.upload(&u1, &room, "b", None, vec![1; 100]).await).await;
}

/// `/readyz`'s body once `done` holds (within 10 s); each answer must come within a second.
async fn wait_for_readiness(server: &TestServer, done: impl Fn(&Value) -> bool) -> Value {
    eventually(
        Duration::from_secs(10),
        "the readiness looked for",
        || async {
            let response = tokio::time::timeout(
                Duration::from_secs(1),
                server.http.inner.get(server.http.url("/readyz")).send(),
            )
            .await
            .expect("/readyz answers within a second")
            .unwrap();
            let body: Value = response.json().await.unwrap();
            done(&body).then_some(body)
        },
    )
    .await
}

#[tokio::test]
async fn a_refused_upload_of_any_size_gets_its_answer_and_not_a_reset() {
    let server =
        TestServer::start_with(Box::new(|c| c.files.max_file_bytes = 64 * 1024 * 1024)).await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let head = |expect: &str| {
        format!(
            "POST /v1/rooms/{room}/files?name=big HTTP/1.1\r\nHost: localhost\r\n\
             Authorization: Bearer {}\r\nContent-Length: {}\r\n{expect}\r\n",
            server.member("u9"),
            40 << 20
        )
    };
    // Refused before the body is read (not a member of the room), by a client that sends
    // the whole 40 MiB before it reads, as many do: it still gets the JSON answer.
    let answer = raw_https_exchange(&server, head("").as_bytes(), 40 << 20).await;
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    assert!(answer.contains("\"code\":\"not_found\""), "{answer}");

    // Refused in the middle of the body (here: a chunked body that runs over the limit):
    // the same.
    let chunked = format!(
        "POST /v1/rooms/{room}/files?name=big HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: Bearer {}\r\nTransfer-Encoding: chunked\r\n\r\n",
        server.member("u1"),
    );
    let answer = raw_https_chunked(&server, chunked.as_bytes(), 80 << 20).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"code\":\"too_large\""), "{answer}");

    // With `Expect: 100-continue`, a refusal in the middle of the body (after `100
    // Continue`) is drained like any other.
    let expecting = format!(
        "POST /v1/rooms/{room}/files?name=big HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: Bearer {}\r\nTransfer-Encoding: chunked\r\n\
         Expect: 100-continue\r\n\r\n",
        server.member("u1"),
    );
    let answer = raw_https_send_after(
        &server,
        expecting.as_bytes(),
        Some("HTTP/1.1 100"),
        &chunked_body(80 << 20),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    // A stranger (no token) cannot make the server read 40 MiB: it reads a little, answers
    // and closes.
    let stranger = format!(
        "POST /v1/rooms/{room}/files?name=big HTTP/1.1\r\nHost: localhost\r\n\
         Content-Length: {}\r\n\r\n",
        40 << 20
    );
    let answer = raw_https_exchange(&server, stranger.as_bytes(), 40 << 20).await;
    assert!(answer.starts_with("the body could not be sent"), "{answer}");

    // A client that asks `Expect: 100-continue` gets the refusal instead of `100 Continue`,
    // and sends no body at all.
    let answer = raw_https_exchange(&server, head("Expect: 100-continue\r\n").as_bytes(), 0).await;
    assert!(
        answer.starts_with("HTTP/1.1 404"),
        "the first answer is the refusal: {answer}"
    );
    assert!(answer.contains("\"code\":\"not_found\""), "{answer}");
    // The member's own upload on the same server works.
    uploaded(
        server
            .upload(&server.member("u1"), &room, "ok", None, pdf_bytes(1024))
            .await,
    )
    .await;
}

const WAIT_FOR_INTERIM: Duration = Duration::from_secs(10);

/// Like [`raw_https_exchange`], the body sent in 64 KiB chunks of chunked encoding.
async fn raw_https_chunked(server: &TestServer, head: &[u8], body_len: usize) -> String {
    raw_https_send(server, head, &chunked_body(body_len)).await
}

/// `body_len` bytes in 64 KiB chunks of chunked encoding, with the final empty chunk.
fn chunked_body(body_len: usize) -> Vec<u8> {
    let chunk = [
        format!("{:x}\r\n", 64 * 1024).into_bytes(),
        vec![b'x'; 64 * 1024],
        b"\r\n".to_vec(),
    ]
    .concat();
    let mut body = Vec::with_capacity(body_len + body_len / 8);
    while body.len() < body_len {
        body.extend_from_slice(&chunk);
    }
    body.extend_from_slice(b"0\r\n\r\n");
    body
}

/// On a fresh TLS connection, write `head` and then `body_len` bytes before reading
/// anything (as a client that reads only after sending does), then read what comes back
/// until the server closes or a second passes without data.
async fn raw_https_exchange(server: &TestServer, head: &[u8], body_len: usize) -> String {
    raw_https_send(server, head, &vec![b'x'; body_len]).await
}

async fn raw_https_send(server: &TestServer, head: &[u8], body: &[u8]) -> String {
    raw_https_send_after(server, head, None, body).await
}

/// [`raw_https_send`], first waiting for `interim` (a `100 Continue`) when given; its
/// absence is the answer.
async fn raw_https_send_after(
    server: &TestServer,
    head: &[u8],
    interim: Option<&str>,
    body: &[u8],
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut config = (*server.tls).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(head).await.unwrap();
    if let Some(interim) = interim {
        let mut buf = [0u8; 256];
        let n = tokio::time::timeout(WAIT_FOR_INTERIM, tls.read(&mut buf))
            .await
            .expect("an interim answer")
            .unwrap();
        let got = String::from_utf8_lossy(&buf[..n]).into_owned();
        if !got.starts_with(interim) {
            return got;
        }
    }
    for chunk in body.chunks(64 * 1024) {
        // Like many clients (Python's requests among them), a failed write is the end:
        // the answer is never read.
        if let Err(e) = tls.write_all(chunk).await {
            return format!("the body could not be sent: {e}");
        }
    }
    let _ = tls.flush().await;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(1), tls.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn upgrading_counts_the_bytes_of_files_stored_before_the_room_total_existed() {
    let server = TestServer::start_with(Box::new(|c| {
        c.files.max_file_bytes = 3000;
        c.files.room_quota_bytes = 3000;
    }))
    .await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let (config, dir) = server.stop().await;
    // Back to the schema before `rooms.file_bytes`, with files written by that release:
    // 2,500 live bytes and a withdrawn 10,000-byte file.
    let db = workroom_tests::raw_db(&config).await;
    for sql in [
        "DELETE FROM seaql_migrations WHERE version = 'm0010_room_file_bytes'".to_string(),
        "ALTER TABLE rooms DROP COLUMN file_bytes".to_string(),
        format!(
            "INSERT INTO files (id, room_id, uploader_id, name_sealed, declared_type, sniffed_type, \
             size, sha256, key_wrapped, object_key, msg_id, purpose, created_at, deleted_at) VALUES \
             ('f_old1', '{room}', 'u1', '', NULL, 'application/pdf', 2000, '', '', 'files/old1', NULL, 'participation', 1, NULL), \
             ('f_old2', '{room}', 'u1', '', NULL, 'application/pdf', 500, '', '', 'files/old2', NULL, 'participation', 1, NULL), \
             ('f_old3', '{room}', 'u1', '', NULL, 'application/pdf', 10000, '', '', 'files/old3', NULL, 'participation', 1, 2)"
        ),
    ] {
        db.execute_unprepared(&sql).await.unwrap();
    }
    db.close().await.unwrap();

    let server = TestServer::start_in(config, dir).await;
    let u1 = server.member("u1");
    let (status, code) = error_code(
        server
            .upload(&u1, &room, "big", None, pdf_bytes(1000))
            .await,
    )
    .await;
    assert_eq!(
        (status, code),
        (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::TooLarge),
        "2,500 of 3,000 bytes are taken"
    );
    uploaded(
        server
            .upload(&u1, &room, "fits", None, pdf_bytes(400))
            .await,
    )
    .await;
}
