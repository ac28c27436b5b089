//! Presence (C3): a member going online and offline is told to the other members of the
//! workroom and listed in `members`; nobody outside the workroom learns it (a member of
//! another room, a moderator watching the room under a grant), and a moderator watching is
//! never shown as present. Nothing of it is stored: the audit trail does not grow.

use crate::moderation::{audit_actions, moderator, open_grant, watcher};
use serde_json::json;
use workroom_protocol::ServerFrame;
use workroom_tests::{TestClient, TestServer};

/// Every frame until the timeline event of `room` that `client` expects next, so a frame
/// that should not have come is seen before that marker.
async fn frames_until_event(client: &mut TestClient, room: &str) -> Vec<ServerFrame> {
    let mut seen = Vec::new();
    loop {
        let frame = client
            .conn
            .next(std::time::Duration::from_secs(10))
            .await
            .expect("frame");
        let done = workroom_tests::event_seq(&frame, room).is_some();
        seen.push(frame);
        if done {
            return seen;
        }
    }
}

fn presence_of(frames: &[ServerFrame]) -> Vec<(String, bool)> {
    frames
        .iter()
        .filter_map(|f| match f {
            ServerFrame::Presence { user, online, .. } => Some((user.clone(), *online)),
            _ => None,
        })
        .collect()
}

fn online_in(members: &ServerFrame, user: &str) -> Option<bool> {
    let ServerFrame::Members { members, .. } = members else {
        panic!("{members:?}")
    };
    members.iter().find(|m| m.user == user)?.online
}

#[tokio::test]
async fn a_member_going_online_and_offline_is_seen_by_the_other_side_and_nobody_else() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "c1", "k1").await.room;
    let elsewhere = server.open_room("b2", "p2", "c2", "k2").await.room;
    let audit_before = audit_actions(&server).await.len();

    // The client is in; a moderator watches the room; a member of another room is online.
    let mut client = server.client("c1").await;
    let m1 = moderator(&server, "mod1");
    let grant = open_grant(&server, &m1, &room, &["history", "live"], 600).await;
    let mut watching = watcher(&server, "mod1").await;
    let reply = watching
        .request(json!({"type": "watch", "grant": grant["id"]}))
        .await;
    assert!(matches!(reply, ServerFrame::Watching { .. }), "{reply:?}");
    let mut outsider = server.client("c2").await;
    let mut outsider_partner = server.client("k2").await;

    let listed = client
        .request(json!({"type": "members", "room": room}))
        .await;
    assert_eq!(online_in(&listed, "c1"), Some(true), "{listed:?}");
    assert_eq!(
        online_in(&listed, "k1"),
        Some(false),
        "the contractor is not connected: {listed:?}"
    );

    // The contractor comes online (two tabs: told once).
    let mut contractor = server.client("k1").await;
    let contractor_tab = server.client("k1").await;
    let came = client
        .expect(|f| matches!(f, ServerFrame::Presence { .. }))
        .await;
    assert!(
        matches!(&came, ServerFrame::Presence { user, online: true, room: r } if user == "k1" && r.as_str() == room),
        "{came:?}"
    );
    let listed = contractor
        .request(json!({"type": "members", "room": room}))
        .await;
    assert_eq!(online_in(&listed, "k1"), Some(true), "{listed:?}");
    assert_eq!(online_in(&listed, "c1"), Some(true), "{listed:?}");
    let http = server
        .get_json(&server.member("c1"), &format!("/v1/rooms/{room}/members"))
        .await;
    let k1 = http["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["user"] == "k1")
        .cloned()
        .expect("k1 listed");
    assert_eq!(k1["online"], true, "{http}");

    // One tab closes: still online. The last closes: offline.
    drop(contractor_tab);
    drop(contractor);
    let went = client
        .expect(|f| matches!(f, ServerFrame::Presence { .. }))
        .await;
    assert!(
        matches!(&went, ServerFrame::Presence { user, online: false, .. } if user == "k1"),
        "{went:?}"
    );
    // Exactly one change each way reached the client: a message after them is the marker.
    let mut sender = server.client("k1").await;
    sender.send(&room, "m1", "back").await;
    let seen = frames_until_event(&mut client, &room).await;
    assert_eq!(
        presence_of(&seen),
        vec![("k1".to_string(), true)],
        "{seen:?}"
    );

    // The moderator watched all of it and learned nothing of presence; the outsider and
    // their partner neither.
    let seen = frames_until_event(&mut watching, &room).await;
    assert_eq!(presence_of(&seen), vec![], "moderator: {seen:?}");
    outsider_partner.send(&elsewhere, "x1", "ours").await;
    let seen = frames_until_event(&mut outsider, &elsewhere).await;
    assert!(
        presence_of(&seen).iter().all(|(user, _)| user == "k2"),
        "only their own room's members: {seen:?}"
    );

    // The moderator's live view made nobody present.
    let listed = client
        .request(json!({"type": "members", "room": room}))
        .await;
    let ServerFrame::Members { members, .. } = &listed else {
        panic!("{listed:?}")
    };
    assert!(members.iter().all(|m| m.user != "mod1"), "{listed:?}");

    // Presence is never recorded: the only new audit entries are the moderator's own.
    let actions = audit_actions(&server).await;
    let new: Vec<&str> = actions[audit_before..]
        .iter()
        .map(|(action, _)| action.as_str())
        .collect();
    assert_eq!(new, ["grant.opened", "moderation.live_view_started"]);
}
