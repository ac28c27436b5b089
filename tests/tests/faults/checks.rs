//! The checks of files and workrooms against the store: every file row has its object,
//! whole, and no row exists that was not acknowledged (beyond what a refused-but-landed
//! commit allows); every acknowledged workroom is there with exactly one audit entry, and
//! the audit chain verifies.

use crate::ledger::{AckedFile, Ledger};
use crate::node::Node;
use std::collections::{HashMap, HashSet};
use workroom_protocol::Role;

/// Every file row of the rooms uploads went to has its object, whole (the bytes match the
/// row's SHA-256), every acknowledged upload is among them with the bytes that were sent,
/// and there is no row the server did not acknowledge: exactly the acknowledged ones, or,
/// where a refusal may have landed (`refused_may_be_stored`), at most that many more.
pub(crate) async fn check_files(
    ledger: &Ledger,
    node: &Node,
    refused_may_be_stored: bool,
) -> Vec<String> {
    use sea_orm::ConnectionTrait;
    let mut problems = Vec::new();
    let files = ledger.files();
    let refused = ledger.uploads_refused();
    let token = node.token("u1", Role::Member);
    let rooms: HashSet<&str> = files.iter().map(|f| f.room.as_str()).collect();
    let db = node.raw_db().await;
    let backend = db.get_database_backend();
    for room in rooms {
        let rows: Vec<String> = db
            .query_all_raw(sea_orm::Statement::from_sql_and_values(
                backend,
                match backend {
                    sea_orm::DbBackend::Postgres => "SELECT id FROM files WHERE room_id = $1",
                    _ => "SELECT id FROM files WHERE room_id = ?",
                },
                [room.into()],
            ))
            .await
            .expect("file rows")
            .iter()
            .filter_map(|row| row.try_get::<String>("", "id").ok())
            .collect();
        let acked: Vec<&AckedFile> = files.iter().filter(|f| f.room == room).collect();
        let too_many = if refused_may_be_stored {
            rows.len() > acked.len() + refused
        } else {
            rows.len() != acked.len()
        };
        if too_many || rows.len() < acked.len() {
            problems.push(format!(
                "{room}: {} uploads acknowledged ({refused} refused), {} file rows stored",
                acked.len(),
                rows.len()
            ));
        }
        for file in &acked {
            if !rows.contains(&file.id) {
                problems.push(format!("acknowledged file {} has no row", file.id));
            }
        }
        for id in &rows {
            let meta = format!("/v1/rooms/{room}/files/{id}");
            let recorded = match node.http.get(&meta, &token).send().await {
                Ok(r) if r.status() == 200 => r.json::<serde_json::Value>().await.ok(),
                _ => None,
            };
            let Some(sha256) = recorded.and_then(|m| m["sha256"].as_str().map(str::to_string))
            else {
                problems.push(format!("file {id}: its metadata cannot be read"));
                continue;
            };
            if let Some(file) = acked.iter().find(|f| f.id == *id)
                && file.sha256 != sha256
            {
                problems.push(format!("file {id} is recorded with another hash"));
            }
            match node
                .http
                .get(&format!("{meta}/content"), &token)
                .send()
                .await
            {
                Ok(response) if response.status() == 200 => {
                    let bytes = response.bytes().await.unwrap_or_default();
                    if workroom_tests::sha256_hex(&bytes) != sha256 {
                        problems.push(format!("file {id}: its object is not whole"));
                    }
                }
                Ok(response) => {
                    problems.push(format!("file {id} answers {}", response.status()));
                }
                Err(e) => problems.push(format!("file {id}: {e}")),
            }
        }
    }
    db.close().await.ok();
    problems
}

/// Every acknowledged workroom is still there (its bid answers with the same room), every
/// refused bid succeeds now, each room has exactly one `room.opened` audit entry, and
/// `workroom audit verify` passes.
pub(crate) async fn check_workrooms(ledger: &Ledger, node: &Node) -> Vec<String> {
    let mut problems = Vec::new();
    for bid in ledger.unacked_bids() {
        match node.accept_bid(&bid).await {
            Ok(room) => ledger.bid_ended(&bid, Some(room)),
            Err(why) => problems.push(format!("bid {bid} still refused: {why}")),
        }
    }
    let rooms = ledger.acked_rooms();
    for (bid, room) in &rooms {
        match node.accept_bid(bid).await {
            Ok(again) if again == *room => {}
            Ok(again) => problems.push(format!("bid {bid} was room {room}, now {again}")),
            Err(why) => problems.push(format!("bid {bid}: {why}")),
        }
    }
    let auditor = node.token("auditor", Role::Auditor);
    let mut opened: HashMap<String, usize> = HashMap::new();
    let mut after = 0u64;
    loop {
        let page: serde_json::Value = node
            .http
            .get(
                &format!("/v1/audit?action=room.opened&limit=1000&after_seq={after}"),
                &auditor,
            )
            .send()
            .await
            .expect("audit page")
            .json()
            .await
            .expect("audit JSON");
        for entry in page["entries"].as_array().cloned().unwrap_or_default() {
            let target = entry["target"].as_str().unwrap_or_default();
            let room = target.strip_prefix("room:").unwrap_or(target);
            *opened.entry(room.to_string()).or_default() += 1;
        }
        match page["next_after_seq"].as_u64() {
            Some(next) => after = next,
            None => break,
        }
    }
    for (bid, room) in &rooms {
        let entries = opened.get(room).copied().unwrap_or(0);
        if entries != 1 {
            problems.push(format!(
                "room {room} (bid {bid}) has {entries} room.opened entries"
            ));
        }
    }
    if let Err(why) = node.audit_verify() {
        problems.push(format!("audit verify failed: {why}"));
    }
    problems
}
