//! The disk fills under SQLite and local files, the embedded default. This is the case that
//! lost acknowledged messages: after `SQLITE_FULL` a pooled connection was reused inside a
//! transaction that never committed, so later sends were acknowledged and delivered live
//! but were gone after a restart (see `storage/src/db/pool.rs`).
//!
//! The data dir sits on a 40 MB tmpfs; a member sends 2 KB messages every 5 ms while files
//! are uploaded and workrooms opened; a filler takes every free byte; once sends are
//! refused the disk stays full a few seconds; the filler is deleted. Then the server is
//! killed with SIGKILL and restarted, and stopped and started cleanly, and everything the
//! clients were told is checked after each.

use crate::ledger::{Ledger, assert_none, check_files, check_workrooms};
use crate::load::{Load, Plan, What, describe};
use crate::node::Node;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A size-limited tmpfs, unmounted on drop.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = std::env::temp_dir().join(format!("workroom-disk-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).expect("mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this case needs root to mount a size-limited tmpfs (CI runs as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs { dir }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Write zeros to `path` until the disk refuses; returns the bytes written.
fn fill(path: &Path) -> u64 {
    let mut file = std::fs::File::create(path).expect("filler");
    let mut written = 0u64;
    for block in [1 << 20, 4096, 512] {
        let buf = vec![0u8; block];
        while file.write_all(&buf).is_ok() {
            written += block as u64;
        }
    }
    let _ = file.sync_all();
    written
}

#[tokio::test]
#[ignore = "fault injection: needs root for a size-limited tmpfs; run by .ci/run"]
async fn a_full_disk_under_sqlite_loses_nothing_acknowledged_and_recovers_without_a_restart() {
    let disk = Tmpfs::mount("40m");
    let logs = tempfile::tempdir().expect("log dir");
    let data = disk.dir.join("data");
    let mut node = Node::start(&data, logs.path(), None, &[]).await;
    let room = node.accept_bid("disk-1").await.expect("a workroom");
    let ledger = Arc::new(Ledger::default());
    let load = Load::start(
        &node,
        &ledger,
        &Plan {
            rooms: vec![room.clone()],
            senders: 1,
            send_every: Duration::from_millis(5),
            body_bytes: 2048,
            uploads: Some((Duration::from_millis(200), 64 * 1024)),
            large_uploads: None,
            bids: Some(Duration::from_millis(300)),
        },
    );
    let seen = load.seen.clone();
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let filled_at = Instant::now();
    let filler = disk.dir.join("filler");
    let filled = fill(&filler);
    let refused = |w: &What| matches!(w, What::SendRefused(_));
    let deadline = Instant::now() + Duration::from_secs(30);
    let first_refusal = loop {
        if let Some(o) = seen.first_after(filled_at, refused) {
            break o;
        }
        assert!(
            Instant::now() < deadline,
            "the disk is full ({filled} bytes of filler) but no send was refused in 30 s:\n{}",
            node.log_tail(30)
        );
        // SQLite reuses its WAL; keep taking whatever it frees.
        let _ = std::fs::OpenOptions::new()
            .append(true)
            .open(&filler)
            .map(|mut f| f.write_all(&[0u8; 4096]));
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_secs(3)).await;

    let freed_at = Instant::now();
    std::fs::remove_file(&filler).expect("delete the filler");
    let deadline = freed_at + Duration::from_secs(20);
    let recovered = loop {
        if let Some(o) = seen.first_after(freed_at, |w| matches!(w, What::SendAcked)) {
            break o;
        }
        assert!(
            Instant::now() < deadline,
            "sends still fail 20 s after space was freed:\n{}",
            node.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stopped_at = Instant::now();
    let seen = load.stop().await;

    // What clients saw, and how long recovery took.
    let during = seen.between(first_refusal.at, freed_at);
    let ready_again = seen.first_after(freed_at, |w| matches!(w, What::Ready(200)));
    let not_ready = seen.first_after(first_refusal.at, |w| matches!(w, What::Ready(503)));
    println!(
        "FAULT disk full (SQLite, local files): the first refused send came {} ms after the \
         disk filled; for {} ms while it stayed full clients saw:\n{}\n  recovery after \
         the filler was deleted: first ack after {} ms, /readyz 200 after {} ms",
        (first_refusal.at - filled_at).as_millis(),
        (freed_at - first_refusal.at).as_millis(),
        describe(&during),
        (recovered.at - freed_at).as_millis(),
        ready_again
            .as_ref()
            .map_or(-1, |o| (o.at - freed_at).as_millis() as i64),
    );
    let whole = seen.between(filled_at - Duration::from_secs(2), stopped_at);
    let mut problems = ledger.violations();
    for o in &whole {
        match &o.what {
            What::ReadySilent(why) => problems.push(format!("/readyz did not answer: {why}")),
            What::UploadBroken(why) => problems.push(format!("an upload got no answer: {why}")),
            What::Disconnected(why) => problems.push(format!("a session was closed: {why}")),
            _ => {}
        }
    }
    match not_ready {
        Some(o) if o.at - first_refusal.at <= Duration::from_millis(1500) => {}
        other => problems.push(format!(
            "/readyz did not turn 503 within 1.5 s of the first refused send: {other:?}"
        )),
    }
    if ready_again.is_none() {
        problems.push("/readyz did not come back to 200 after space was freed".into());
    }
    if node.log_lines("storage refuses writes").is_empty() {
        problems.push("no log line says storage refuses writes".into());
    }
    assert!(ledger.acked_count() > 100, "the load ran");
    let rooms = vec![room];
    let (_, stored) = ledger.check_timeline(&node, "u2", &rooms, false).await;
    problems.extend(stored);
    problems.extend(check_files(&ledger, &node).await);
    assert_none("during and after the full disk", &problems, &node);

    node.kill9();
    node.restart().await;
    check_everything(&ledger, &node, &rooms, "after kill -9").await;
    node.terminate();
    node.restart().await;
    check_everything(&ledger, &node, &rooms, "after a clean restart").await;

    let retried = ledger.retry_unacknowledged(&node, "u1").await;
    let (stored, mut problems) = ledger.check_timeline(&node, "u2", &rooms, false).await;
    problems.extend(ledger.all_attempts_stored_once(&stored));
    problems.extend(check_workrooms(&ledger, &node).await);
    assert_none("after retrying what was refused", &problems, &node);
    println!(
        "  {} sends acknowledged in all, {retried} refused ones retried with their \
         client_msg_id and stored once each; {} files and {} workrooms checked",
        ledger.acked_count(),
        ledger.files().len(),
        ledger.acked_rooms().len()
    );
}

/// Messages and files as promised (on SQLite an `unavailable` means not stored).
async fn check_everything(ledger: &Ledger, node: &Node, rooms: &[String], when: &str) {
    let (_, mut problems) = ledger.check_timeline(node, "u2", rooms, false).await;
    problems.extend(check_files(ledger, node).await);
    assert_none(when, &problems, node);
}
