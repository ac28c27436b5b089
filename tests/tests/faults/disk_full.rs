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

use crate::ledger::{Ledger, assert_none};
use crate::load::{Load, Plan, What, describe};
use crate::node::Node;
use crate::scenario::{always, promises_kept, retry_and_settle, slower_than, tally, wait_for};
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
            connects: Some(Duration::from_millis(500)),
            downloads: None,
        },
    );
    let seen = load.seen.clone();
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let filled_at = Instant::now();
    let filler = disk.dir.join("filler");
    let filled = fill(&filler);
    let first_refusal = wait_for(
        &seen,
        filled_at,
        Duration::from_secs(30),
        &node,
        &format!("a refused send after the disk filled ({filled} bytes of filler)"),
        |w| matches!(w, What::SendRefused(_)),
    )
    .await;
    let metrics = node
        .http
        .inner
        .get(node.http.url("/metrics"))
        .send()
        .await
        .expect("/metrics")
        .text()
        .await
        .unwrap_or_default();
    tokio::time::sleep(Duration::from_secs(3)).await;

    let freed_at = Instant::now();
    std::fs::remove_file(&filler).expect("delete the filler");
    let recovered = wait_for(
        &seen,
        freed_at,
        Duration::from_secs(20),
        &node,
        "an acknowledged send after space was freed",
        |w| matches!(w, What::SendAcked),
    )
    .await;
    let ready_again = wait_for(
        &seen,
        freed_at,
        Duration::from_secs(20),
        &node,
        "/readyz 200 after space was freed",
        |w| matches!(w, What::Ready(200, _)),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stopped_at = Instant::now();
    let seen = load.stop().await;

    let during = seen.between(first_refusal.at, freed_at);
    println!(
        "FAULT disk full (SQLite, local files): the first refused send came {} ms after the \
         disk filled; for {} ms while it stayed full clients saw:\n{}\n  recovery after \
         the filler was deleted: first ack after {} ms, /readyz 200 after {} ms",
        (first_refusal.at - filled_at).as_millis(),
        (freed_at - first_refusal.at).as_millis(),
        describe(&during),
        (recovered.at - freed_at).as_millis(),
        (ready_again.at - freed_at).as_millis(),
    );
    let mut problems = always(&seen.between(filled_at, stopped_at), true);
    match seen.first_after(first_refusal.at, |w| matches!(w, What::Ready(503, _))) {
        Some(o) if o.at - first_refusal.at <= Duration::from_millis(1500) => {}
        other => problems.push(format!(
            "/readyz did not turn 503 within 1.5 s of the first refused send: {other:?}"
        )),
    }
    if let Some(slow) = slower_than(&during, Duration::from_secs(1), "a refused send", |w| {
        matches!(w, What::SendRefused(_))
    }) {
        problems.push(slow);
    }
    if node.log_lines("storage refuses writes").is_empty() {
        problems.push("no log line says storage refuses writes".into());
    }
    for line in [
        "workroom_dependency_up{dependency=\"database_writes\"} 0",
        "workroom_storage_write_failures_total",
    ] {
        if !metrics.contains(line) {
            problems.push(format!("/metrics while the disk was full lacks `{line}`"));
        }
    }
    assert!(ledger.acked_count() > 100, "the load ran");
    let rooms = vec![room];
    problems.extend(promises_kept(&ledger, &node, &rooms, false).await);
    assert_none("during and after the full disk", &problems, &node);

    node.kill9();
    node.restart().await;
    let problems = promises_kept(&ledger, &node, &rooms, false).await;
    assert_none("after kill -9", &problems, &node);
    node.terminate().await;
    node.restart().await;
    let problems = promises_kept(&ledger, &node, &rooms, false).await;
    assert_none("after a clean restart", &problems, &node);

    let retried = retry_and_settle(&ledger, &node, &rooms, false).await;
    println!("{}", tally(&ledger, retried));
}
