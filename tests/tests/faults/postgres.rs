//! PostgreSQL under faults: the database stopped under load (`immediate`: no shutdown
//! checkpoint, connections cut; `fast`: sessions terminated, then a clean shutdown) and
//! started again; and the server itself killed with SIGKILL under load.
//!
//! The cluster is the one `.ci/run` started: `WORKROOM_FAULT_PG_CTL` names how to control
//! it (`pg_ctlcluster 15 main`), `WORKROOM_TEST_POSTGRES_URL` how to reach it. Each case
//! gets a fresh database.

use crate::ledger::{Ledger, assert_none};
use crate::load::{Load, Plan, What, describe};
use crate::node::Node;
use crate::scenario::{always, promises_kept, retry_and_settle, slower_than, tally, wait_for};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::process::Command;

/// `WORKROOM_FAULT_PG_CTL` followed by `args`, e.g. `stop -m immediate`. Awaited, not
/// blocking: the load and its clocks keep running on the test's runtime meanwhile.
async fn pg_ctl(args: &[&str]) {
    let ctl = std::env::var("WORKROOM_FAULT_PG_CTL").unwrap_or_else(|_| {
        panic!(
            "this case stops and starts PostgreSQL: set WORKROOM_FAULT_PG_CTL (e.g. \
             `pg_ctlcluster 15 main`; .ci/run does)"
        )
    });
    let mut words = ctl.split_whitespace();
    let program = words.next().expect("a command");
    let status = Command::new(program)
        .args(words)
        .args(args)
        .status()
        .await
        .expect("run the PostgreSQL control command");
    assert!(status.success(), "`{ctl} {}` failed", args.join(" "));
}

/// A node on a fresh PostgreSQL database, and its workrooms.
async fn node_on_postgres(logs: &std::path::Path, data: &std::path::Path) -> Node {
    let admin = std::env::var("WORKROOM_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!("this case needs PostgreSQL: set WORKROOM_TEST_POSTGRES_URL (.ci/run does)")
    });
    let url = workroom_tests::fresh_postgres_database(&admin).await;
    Node::start(
        data,
        logs,
        Some(url),
        &[("WORKROOM_DATABASE__COMMITTERS", "4")],
    )
    .await
}

/// Open `count` workrooms between u1 and u2 through `node`.
pub(crate) async fn rooms(node: &Node, prefix: &str, count: usize) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..count {
        out.push(
            node.accept_bid(&format!("{prefix}-{i}"))
                .await
                .expect("a workroom"),
        );
    }
    out
}

fn plan(rooms: &[String]) -> Plan {
    Plan {
        rooms: rooms.to_vec(),
        senders: 8,
        send_every: Duration::ZERO,
        body_bytes: 512,
        uploads: Some((Duration::from_millis(200), 64 * 1024)),
        large_uploads: None,
        bids: Some(Duration::from_millis(300)),
        connects: Some(Duration::from_millis(300)),
        downloads: None,
    }
}

#[tokio::test]
#[ignore = "fault injection: stops the PostgreSQL cluster; run by .ci/run"]
async fn postgres_stopped_immediately_under_load_loses_nothing_and_recovers_by_itself() {
    database_stopped_under_load("immediate").await;
}

#[tokio::test]
#[ignore = "fault injection: stops the PostgreSQL cluster; run by .ci/run"]
async fn postgres_stopped_fast_under_load_loses_nothing_and_recovers_by_itself() {
    database_stopped_under_load("fast").await;
}

async fn database_stopped_under_load(mode: &str) {
    let logs = tempfile::tempdir().expect("log dir");
    let data = tempfile::tempdir().expect("data dir");
    let node = node_on_postgres(logs.path(), data.path()).await;
    let rooms = rooms(&node, &format!("pg-{mode}"), 4).await;
    let ledger = Arc::new(Ledger::default());
    let load = Load::start(&node, &ledger, &plan(&rooms));
    let seen = load.seen.clone();
    tokio::time::sleep(Duration::from_secs(2)).await;

    let stopped_at = Instant::now();
    pg_ctl(&["stop", "-m", mode]).await;
    let down_after = stopped_at.elapsed();
    let not_ready = wait_for(
        &seen,
        stopped_at,
        Duration::from_secs(5),
        &node,
        "/readyz 503 after PostgreSQL stopped",
        |w| matches!(w, What::Ready(503, _)),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;

    let starting_at = Instant::now();
    pg_ctl(&["start"]).await;
    let started_at = Instant::now();
    let up_after = started_at - starting_at;
    let recovered = wait_for(
        &seen,
        started_at,
        Duration::from_secs(30),
        &node,
        "an acknowledged send after PostgreSQL started",
        |w| matches!(w, What::SendAcked),
    )
    .await;
    let ready_again = wait_for(
        &seen,
        started_at,
        Duration::from_secs(30),
        &node,
        "/readyz 200 after PostgreSQL started",
        |w| matches!(w, What::Ready(200, _)),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ended_at = Instant::now();
    let seen = load.stop().await;

    // From a second after `pg_ctl stop` returned (the database is gone by then; a commit
    // that ended just before may still reach its client late on a loaded machine) until the
    // start: what a client sees while the database is down.
    let during = seen.between(
        stopped_at + down_after + Duration::from_secs(1),
        starting_at,
    );
    println!(
        "FAULT PostgreSQL stopped ({mode}; the stop took {} ms, the start {} ms), {} ms \
         down; clients saw:\n{}\n  /readyz 503 {} ms after the stop; recovery once the \
         database was up again: first ack after {} ms, /readyz 200 after {} ms",
        down_after.as_millis(),
        up_after.as_millis(),
        (starting_at - stopped_at).as_millis(),
        describe(&during),
        (not_ready.at - stopped_at).as_millis(),
        (recovered.at - started_at).as_millis(),
        (ready_again.at - started_at).as_millis(),
    );
    let mut problems = always(&seen.between(stopped_at, ended_at), true);
    if not_ready.at - stopped_at > down_after + Duration::from_millis(1500) {
        problems.push("/readyz took longer than 1.5 s to say 503".into());
    }
    for (what, limit, matches) in [
        (
            "a refused send",
            3000,
            (|w: &What| matches!(w, What::SendRefused(_))) as fn(&What) -> bool,
        ),
        ("a refused new connection", 3000, |w: &What| {
            matches!(w, What::ConnectRefused(_))
        }),
        ("a refused upload", 3000, |w: &What| {
            matches!(w, What::UploadRefused(..))
        }),
    ] {
        if let Some(slow) = slower_than(&during, Duration::from_millis(limit), what, matches) {
            problems.push(slow);
        }
    }
    if during
        .iter()
        .any(|o| matches!(o.what, What::SendAcked | What::Connected))
    {
        problems
            .push("a send was acknowledged or a session started while PostgreSQL was down".into());
    }
    problems.extend(promises_kept(&ledger, &node, &rooms, true).await);
    assert_none(&format!("PostgreSQL stopped ({mode})"), &problems, &node);
    let retried = retry_and_settle(&ledger, &node, &rooms, true).await;
    println!("{}", tally(&ledger, retried));
}

#[tokio::test]
#[ignore = "fault injection: kills the server on PostgreSQL; run by .ci/run"]
async fn the_server_killed_under_load_on_postgres_loses_nothing_acknowledged() {
    let logs = tempfile::tempdir().expect("log dir");
    let data = tempfile::tempdir().expect("data dir");
    let mut node = node_on_postgres(logs.path(), data.path()).await;
    let rooms = rooms(&node, "kill", 4).await;
    let ledger = Arc::new(Ledger::default());
    let load = Load::start(&node, &ledger, &plan(&rooms));
    let seen = load.seen.clone();
    tokio::time::sleep(Duration::from_secs(3)).await;

    let killed_at = Instant::now();
    node.kill9();
    tokio::time::sleep(Duration::from_secs(1)).await;
    node.restart().await;
    let restarted_at = Instant::now();
    let recovered = wait_for(
        &seen,
        restarted_at,
        Duration::from_secs(30),
        &node,
        "an acknowledged send after the restart",
        |w| matches!(w, What::SendAcked),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ended_at = Instant::now();
    let seen = load.stop().await;

    println!(
        "FAULT the server killed with SIGKILL on PostgreSQL under load, restarted after 1 s \
         (ready {} ms after the kill); clients saw:\n{}\n  recovery: first ack {} ms after \
         the restarted server was ready",
        (restarted_at - killed_at).as_millis(),
        describe(&seen.between(killed_at, restarted_at)),
        (recovered.at - restarted_at).as_millis(),
    );
    let mut problems = always(&seen.between(restarted_at, ended_at), false);
    problems.extend(promises_kept(&ledger, &node, &rooms, true).await);
    assert_none("after kill -9", &problems, &node);
    let retried = retry_and_settle(&ledger, &node, &rooms, true).await;
    println!("{}", tally(&ledger, retried));
}
