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
    let (store, _) = workroom_tests::workroom_server::server::open_store(&server.config)
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
        c.files.s3.timeout_secs = 1;
    }))
    .await;
    tokio::time::timeout(Duration::from_secs(30), assert_upload_unavailable(&server))
        .await
        .expect("the upload gave up within its timeouts");
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
