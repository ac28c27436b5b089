//! Every bad frame gets a typed error and the connection stays usable; only an over-long
//! WebSocket message closes it (1009).

use serde_json::json;
use workroom_protocol::{ErrorCode, ServerFrame};
use workroom_tests::{TestServer, WAIT};

async fn expect_error(c: &mut workroom_tests::TestClient, raw: &str, code: ErrorCode) {
    c.conn.send_text(raw).await.unwrap();
    let frame = c.expect(|f| matches!(f, ServerFrame::Error { .. })).await;
    let ServerFrame::Error {
        code: got, message, ..
    } = frame
    else {
        unreachable!()
    };
    assert_eq!(got, code, "{raw} → {message}");
    // Still usable.
    let pong = c.request(json!({"type": "ping"})).await;
    assert!(
        matches!(pong, ServerFrame::Pong { .. }),
        "after {raw}: {pong:?}"
    );
}

#[tokio::test]
async fn bad_frames_get_typed_errors_and_the_connection_stays_open() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let other = server.open_room("b2", "p2", "x1", "x2").await.room;
    let mut c = server.client("u1").await;
    expect_error(&mut c, "{not json", ErrorCode::Invalid).await;
    expect_error(
        &mut c,
        r#"{"type":"teleport","id":"z"}"#,
        ErrorCode::Invalid,
    )
    .await;
    expect_error(&mut c, r#"{"id":"z"}"#, ErrorCode::Invalid).await;
    expect_error(
        &mut c,
        &json!({"type": "send", "room": room, "body": "no client id"}).to_string(),
        ErrorCode::Invalid,
    )
    .await;
    expect_error(
        &mut c,
        &json!({"type": "send", "room": room, "client_msg_id": 7, "body": "mistyped"}).to_string(),
        ErrorCode::Invalid,
    )
    .await;
    expect_error(
        &mut c,
        &json!({"type": "send", "room": room, "client_msg_id": "c", "body": "   "}).to_string(),
        ErrorCode::Invalid,
    )
    .await;
    expect_error(&mut c, &json!({"type": "send", "room": room, "client_msg_id": "c", "body": "x".repeat(16 * 1024 + 1)}).to_string(), ErrorCode::TooLarge).await;
    expect_error(
        &mut c,
        &json!({"type": "send", "room": "no-such-room", "client_msg_id": "c", "body": "hi"})
            .to_string(),
        ErrorCode::NotFound,
    )
    .await;
    expect_error(
        &mut c,
        &json!({"type": "send", "room": other, "client_msg_id": "c", "body": "hi"}).to_string(),
        ErrorCode::NotFound,
    )
    .await;
    expect_error(
        &mut c,
        &json!({"type": "auth", "token": "again"}).to_string(),
        ErrorCode::Invalid,
    )
    .await;

    // An error carries the request id when the frame had one.
    let reply = c
        .request(json!({"type": "send", "room": "nope", "client_msg_id": "c", "body": "hi"}))
        .await;
    assert!(matches!(
        reply,
        ServerFrame::Error {
            code: ErrorCode::NotFound,
            ..
        }
    ));

    c.conn.send_binary(vec![1, 2, 3]).await.unwrap();
    let frame = c.expect(|f| matches!(f, ServerFrame::Error { .. })).await;
    assert!(matches!(
        frame,
        ServerFrame::Error {
            code: ErrorCode::Invalid,
            ..
        }
    ));

    // A body exactly at the limit is accepted; nothing before was lost.
    let ok = c.send(&room, "at-limit", &"y".repeat(16 * 1024)).await;
    assert!(matches!(ok, ServerFrame::Ack { seq: 1, .. }), "{ok:?}");
}

#[tokio::test]
async fn an_over_long_websocket_message_closes_with_1009() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let mut c = server.client("u1").await;
    let ack = c.send(&room, "kept", "accepted before").await;
    assert!(matches!(ack, ServerFrame::Ack { .. }));
    let huge = json!({"type": "send", "room": room, "client_msg_id": "big", "body": "z".repeat(70 * 1024)});
    c.conn.send_text(&huge.to_string()).await.unwrap();
    let end = loop {
        match c.conn.next(WAIT).await {
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    match end {
        workroom_client::WsError::Closed(Some((code, _))) => assert_eq!(code, 1009),
        other => panic!("expected close 1009, got {other}"),
    }
    // What was acknowledged before is still there.
    let mut again = server.client("u1").await;
    let history = again
        .request(json!({"type": "history", "room": room}))
        .await;
    assert!(matches!(history, ServerFrame::History { ref messages, .. } if messages.len() == 1));
}
