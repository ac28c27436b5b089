//! Faults only an S3 backend has: the store down, slow, or refusing our signature. These
//! need a real S3-compatible server (`.ci/run` starts s3s-fs, which verifies SigV4), so they
//! are ignored in the plain `cargo test` run and run by CI with `--include-ignored`, where a
//! missing store fails them.

use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;
use workroom_tests::workroom_server::config::Secret;
use workroom_tests::{TestServer, require_s3};

async fn assert_upload_unavailable(server: &TestServer) {
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let response = server
        .upload(&server.member("u1"), &room, "a", None, vec![5; 64 * 1024])
        .await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "unavailable");
    // The server is up, messaging works, and no row points at a missing object.
    let health = server
        .http
        .inner
        .get(server.http.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let mut client = server.client("u1").await;
    assert!(matches!(
        client.send(&room, "c1", "still here").await,
        workroom_tests::workroom_protocol::ServerFrame::Ack { .. }
    ));
    let (store, _) = workroom_tests::workroom_server::server::open_store(
        &server.config,
        workroom_storage::Clock::system(),
    )
    .await
    .unwrap();
    assert_eq!(store.room_file_usage(&room).await.unwrap(), 0);
}

#[tokio::test]
#[ignore = "needs a real S3-compatible server; run by .ci/run"]
async fn a_store_that_is_down_makes_uploads_unavailable() {
    require_s3();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let server = TestServer::start_with(Box::new(move |c| {
        c.files.s3.endpoint = Some(format!("http://127.0.0.1:{port}"));
    }))
    .await;
    assert_upload_unavailable(&server).await;
}

#[tokio::test]
#[ignore = "needs a real S3-compatible server; run by .ci/run"]
async fn a_store_that_never_answers_times_out_as_unavailable() {
    require_s3();
    // Accepts connections and never answers (no real store can be made this slow on demand).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let server = TestServer::start_with(Box::new(move |c| {
        c.files.s3.endpoint = Some(format!("http://127.0.0.1:{port}"));
        c.files.s3.timeout_secs = 2;
    }))
    .await;
    // `timeout_secs` bounds the whole call, its retry included (not 2 s per attempt).
    let started = std::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(30), assert_upload_unavailable(&server))
        .await
        .expect("the upload gave up within its timeouts");
    assert!(
        started.elapsed() < Duration::from_millis(3500),
        "refused after {:?}, more than the 2 s timeout allows",
        started.elapsed()
    );
}

#[tokio::test]
#[ignore = "needs a real S3-compatible server; run by .ci/run"]
async fn a_store_that_refuses_our_signature_makes_uploads_unavailable() {
    require_s3();
    let server = TestServer::start_with(Box::new(|c| {
        c.files.s3.secret_access_key = Some(Secret::new("not-the-secret"));
    }))
    .await;
    assert_upload_unavailable(&server).await;
}

#[tokio::test]
#[ignore = "needs a real S3-compatible server; run by .ci/run"]
async fn without_configured_keys_the_standard_aws_chain_supplies_credentials() {
    use std::process::{Command, Stdio};
    let target = require_s3();
    // A fresh bucket, made with the configured-keys path of the harness.
    let dir = tempfile::tempdir().unwrap();
    let mut config = workroom_tests::workroom_server::config::Config {
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    workroom_tests::use_s3(&mut config, &target).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The real binary, S3 configured without keys: credentials come from the standard
    // AWS environment variables.
    let mut child = Command::new(crate::cli::BIN)
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("WORKROOM_LOG__FILTER", "warn")
        .env("WORKROOM_FILES__BACKEND", "s3")
        .env("WORKROOM_FILES__S3__BUCKET", &config.files.s3.bucket)
        .env("WORKROOM_FILES__S3__ENDPOINT", &target.endpoint)
        .env("WORKROOM_FILES__S3__PATH_STYLE", "true")
        .env("AWS_ACCESS_KEY_ID", &target.access_key)
        .env("AWS_SECRET_ACCESS_KEY", &target.secret_key)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let token = |sub: &str, role: &str| {
        let out = crate::cli::ok(
            Command::new(crate::cli::BIN)
                .args(["token", "--data-dir"])
                .arg(dir.path())
                .args(["--sub", sub, "--role", role])
                .output()
                .unwrap(),
        );
        out.trim().to_string()
    };
    let cert = dir.path().join("tls/cert.pem");
    let http = workroom_tests::eventually(Duration::from_secs(30), "the server up", || async {
        let pem = std::fs::read(&cert).ok()?;
        let tls = workroom_tests::workroom_client::client_config(&pem).unwrap();
        let http = workroom_tests::workroom_client::HttpClient::new(
            &format!("https://localhost:{port}"),
            tls,
        )
        .unwrap();
        let up = http.inner.get(http.url("/healthz")).send().await.is_ok();
        up.then_some(http)
    })
    .await;
    let body = serde_json::json!({
        "project": "p1",
        "client": {"user": "u1", "account": "a1", "name": "C", "email": "c@example.com"},
        "contractor": {"user": "u2", "account": "a2", "name": "K", "email": "k@example.com"},
    });
    let created: Value = http
        .post("/v1/marketplace/bids/b1/accept", &token("svc", "service"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let room = created["room"].as_str().unwrap();
    let upload = http
        .post(
            &format!("/v1/rooms/{room}/files?name=a"),
            &token("u1", "member"),
        )
        .body(vec![3u8; 100_000])
        .send()
        .await
        .unwrap();
    let status = upload.status();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        upload.text().await.unwrap()
    );
    let objects = workroom_tests::workroom_server::blobs::open_blob_store(&config)
        .await
        .unwrap()
        .list("files/")
        .await
        .unwrap();
    assert_eq!(objects.len(), 1, "the object is in the bucket");
}
