//! Anonymous analytics (C13): daily counts kept at commit time, small cells suppressed
//! (never shown as zero), exact counts for busy days, no identifier anywhere in the output
//! (the HTTP route and the CLI's CSV), only services and admins reading them, and the same
//! numbers after every workroom was purged and a member terminated: they read no content.

use crate::cli::{ok, workroom};
use crate::retention::{DAY, lifecycle_server, release_contacts, wait_purged};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use workroom_protocol::{Role, ServerFrame};
use workroom_tests::TestServer;

const BUSY_ROOMS: usize = 12;

fn day_of(server: &TestServer) -> String {
    workroom_storage::utc_day(server.clock.clock().now_ms())
}

async fn daily(server: &TestServer, token: &str, from: &str, until: &str) -> (StatusCode, Value) {
    let response = server
        .http
        .get(
            &format!("/v1/analytics/daily?from={from}&until={until}"),
            token,
        )
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn small_days_are_suppressed_busy_days_exact_and_nothing_identifies_anyone() {
    let server = lifecycle_server().await;
    // Start three days ago, so that both days of activity are over when read (by the
    // server's clock and by the CLI's, which is the system's).
    server.clock.rewind(Duration::from_secs(3 * DAY));
    let mut ids: Vec<String> = Vec::new();

    // Day one: twelve workrooms open; each sends two messages and uploads a file; one of
    // them also edits, deletes and releases contact details.
    let busy_day = day_of(&server);
    let mut rooms = Vec::new();
    for i in 0..BUSY_ROOMS {
        let (client, contractor) = (format!("anon-client-{i}"), format!("anon-contractor-{i}"));
        let created = server
            .open_room(
                &format!("anon-bid-{i}"),
                &format!("anon-project-{i}"),
                &client,
                &contractor,
            )
            .await;
        let room = created.room;
        let mut c = server.client(&client).await;
        for m in 0..2 {
            let sent = c.send(&room, &format!("m{m}"), "hello there").await;
            let ServerFrame::Ack { msg_id, .. } = sent else {
                panic!("{sent:?}")
            };
            ids.push(msg_id);
        }
        let upload = server
            .upload(
                &server.member(&client),
                &room,
                "notes.txt",
                Some("text/plain"),
                vec![b'x'; 1000],
            )
            .await;
        assert_eq!(upload.status(), StatusCode::CREATED);
        let file: Value = upload.json().await.unwrap();
        ids.push(file["id"].as_str().unwrap().to_string());
        ids.extend([
            client.clone(),
            contractor.clone(),
            format!("acct-{client}"),
            format!("acct-{contractor}"),
            format!("anon-bid-{i}"),
            format!("anon-project-{i}"),
            room.clone(),
        ]);
        rooms.push((room, client, c));
    }
    {
        let (room, client, c) = &mut rooms[0];
        let edited = c
            .request(json!({"type": "edit", "room": room, "seq": 1, "body": "edited"}))
            .await;
        assert!(matches!(edited, ServerFrame::Ack { .. }), "{edited:?}");
        let deleted = c
            .request(json!({"type": "delete", "room": room, "seq": 2}))
            .await;
        assert!(matches!(deleted, ServerFrame::Ack { .. }), "{deleted:?}");
        release_contacts(&server, room, client, "anon-contractor-0", "anon").await;
    }

    // Day two: two workrooms talk.
    server.clock.advance(Duration::from_secs(DAY));
    let quiet_day = day_of(&server);
    for (room, client, _) in rooms.iter().take(2) {
        // A fresh session: yesterday's tokens expired.
        let mut c = server.client(client).await;
        let sent = c.send(room, "later", "a quiet day").await;
        assert!(matches!(sent, ServerFrame::Ack { .. }), "{sent:?}");
    }
    server.clock.advance(Duration::from_secs(DAY));

    let (status, report) = daily(&server, &server.service(), &busy_day, &quiet_day).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["min_count"], 10);
    let days = report["days"].as_array().unwrap();
    assert_eq!(days.len(), 2, "{report}");
    let busy = &days[0];
    assert_eq!(busy["day"], busy_day.as_str());
    assert_eq!(
        busy["messages_sent"], 24,
        "edits and deletes are not messages: {busy}"
    );
    assert_eq!(busy["workrooms_active"], 12);
    assert_eq!(busy["workrooms_opened"], 12);
    assert_eq!(busy["files_uploaded"], 12);
    assert_eq!(busy["file_bytes"], 12_000);
    assert_eq!(
        busy["contact_releases"], "suppressed",
        "one workroom: {busy}"
    );
    assert_eq!(busy["workrooms_closed"], 0, "nothing closed: exact zero");
    assert_eq!(busy["moderator_grants_opened"], 0);
    let quiet = &days[1];
    assert_eq!(quiet["day"], quiet_day.as_str());
    assert_eq!(quiet["messages_sent"], "suppressed", "{quiet}");
    assert_eq!(quiet["workrooms_active"], "suppressed");
    assert_eq!(quiet["workrooms_opened"], 0);

    // Admins read them too; nobody else.
    let admin = server.token("admin-1", Role::Admin, None);
    let (status, as_admin) = daily(&server, &admin, &busy_day, &quiet_day).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(as_admin, report);
    for token in [
        server.member("anon-client-0"),
        server.token("mod-1", Role::Moderator, None),
        server.token("officer-1", Role::Legal, None),
        server.token("auditor-1", Role::Auditor, None),
    ] {
        let (status, body) = daily(&server, &token, &busy_day, &quiet_day).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }
    // Only days that are over, in fixed daily buckets.
    let today = day_of(&server);
    let (status, body) = daily(&server, &server.service(), &busy_day, &today).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let text = report.to_string();
    for id in &ids {
        assert!(!text.contains(id.as_str()), "{id} appears in {text}");
    }

    // Every workroom closes and is purged, a member is terminated: the numbers stay.
    for i in 0..BUSY_ROOMS {
        server.end_contract(&format!("anon-bid-{i}")).await;
    }
    let terminated = server
        .http
        .post(
            "/v1/marketplace/users/anon-contractor-1/terminate",
            &server.service(),
        )
        .json(&json!({"reason": "closed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(terminated.status(), StatusCode::OK);
    server.clock.advance(Duration::from_secs(DAY + 60));
    for (room, _, _) in &rooms {
        wait_purged(&server, room).await;
    }
    let (_, after) = daily(&server, &server.service(), &busy_day, &quiet_day).await;
    assert_eq!(
        after, report,
        "purges and terminations leave the analytics as they were"
    );

    // The CLI gives the same rows as CSV, from the database alone.
    drop(rooms);
    let (config, _dir) = server.stop().await;
    let csv = ok(workroom(
        &config,
        &[
            "analytics",
            "export",
            "--from",
            &busy_day,
            "--until",
            &quiet_day,
        ],
    ));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "day,messages_sent,workrooms_active,workrooms_opened,workrooms_closed,files_uploaded,\
         file_bytes,screenshots_posted,contact_releases,moderator_grants_opened"
    );
    assert_eq!(
        lines[1],
        format!("{busy_day},24,12,12,0,12,12000,0,suppressed,0")
    );
    assert_eq!(
        lines[2],
        format!("{quiet_day},suppressed,suppressed,0,0,0,0,0,0,0")
    );
    for id in &ids {
        assert!(!csv.contains(id.as_str()), "{id} appears in {csv}");
    }
}
