//! C16: health, readiness, metrics, graceful shutdown.

use workroom_client::WsError;
use workroom_protocol::ServerFrame;
use workroom_tests::{TestServer, WAIT};

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let mut u1 = server.client("u1").await;
    u1.send(&room, "c1", "count me").await;
    u1.request(serde_json::json!({"type": "history", "room": "nope"}))
        .await;
    let get = |path: &'static str| server.http.inner.get(server.http.url(path)).send();
    assert_eq!(get("/healthz").await.unwrap().text().await.unwrap(), "ok");
    let ready = get("/readyz").await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(
        ready,
        serde_json::json!({"ready": true, "draining": false, "database": "up",
            "writes": "up", "object_store": "up"})
    );
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    for name in [
        "workroom_connections",
        "workroom_frames_received_total",
        "workroom_messages_committed_total",
        "workroom_ack_latency_seconds_bucket",
        "workroom_errors_total{code=\"not_found\"}",
        "workroom_dependency_up{dependency=\"database_writes\"}",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    assert!(!metrics.contains("u1"), "no user ids in metric labels");
}

#[tokio::test]
async fn shutdown_closes_sessions_with_1001() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let mut u1 = server.client("u1").await;
    u1.send(&room, "c1", "before shutdown").await;
    let stopping = tokio::spawn(server.stop());
    let end = loop {
        match u1.conn.next(WAIT).await {
            Ok(ServerFrame::Message(_)) => continue,
            Ok(other) => panic!("unexpected {other:?}"),
            Err(e) => break e,
        }
    };
    assert!(matches!(end, WsError::Closed(Some((1001, _)))), "{end}");
    let (config, dir) = stopping.await.unwrap();
    // Restart on the same data: the acknowledged message is there.
    let server = TestServer::start_in(config, dir).await;
    let mut again = server.client("u2").await;
    assert_eq!(again.room(&room).unwrap().last_seq, 1);
    let h = again
        .request(serde_json::json!({"type": "history", "room": room}))
        .await;
    assert!(
        matches!(h, ServerFrame::History { ref messages, .. } if messages[0].body == "before shutdown")
    );
}
