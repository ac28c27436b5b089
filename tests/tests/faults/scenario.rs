//! The steps every case shares: waiting for what clients see, the rules that hold in any
//! window (readiness always answers within a second, no upload goes without an answer),
//! and the checks of every promise after the fault and after each restart.

use crate::checks::{check_files, check_workrooms};
use crate::ledger::{Ledger, assert_none};
use crate::load::{Observation, Seen, What};
use crate::node::Node;
use std::time::{Duration, Instant};

/// The first observation at or after `from` that `matches`, waiting up to `limit` for it.
pub(crate) async fn wait_for(
    seen: &Seen,
    from: Instant,
    limit: Duration,
    node: &Node,
    what: &str,
    matches: impl Fn(&What) -> bool,
) -> Observation {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(o) = seen.first_after(from, &matches) {
            return o;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not seen within {} s\n--- server log (tail) ---\n{}",
            limit.as_secs(),
            node.log_tail(40)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What must hold whatever the fault: `/readyz` answers within a second, every upload
/// gets an answer with a SPEC body, no delivery contradicts another. `sessions_kept`:
/// the server closed no session (true unless the server itself was killed).
pub(crate) fn always(observations: &[Observation], sessions_kept: bool) -> Vec<String> {
    let mut problems = Vec::new();
    for o in observations {
        match &o.what {
            What::ReadySilent(why) => problems.push(format!("/readyz did not answer: {why}")),
            What::UploadBroken(why) => problems.push(format!("an upload got no answer: {why}")),
            What::Disconnected(why) if sessions_kept => {
                problems.push(format!("a session was closed: {why}"));
            }
            _ => {}
        }
    }
    problems
}

/// The slowest observation in `observations` that `matches`, when slower than `limit`.
pub(crate) fn slower_than(
    observations: &[Observation],
    limit: Duration,
    what: &str,
    matches: impl Fn(&What) -> bool,
) -> Option<String> {
    observations
        .iter()
        .filter(|o| matches(&o.what))
        .max_by_key(|o| o.latency)
        .filter(|o| o.latency > limit)
        .map(|o| {
            format!(
                "{what} took {} ms (limit {} ms): {:?}",
                o.latency.as_millis(),
                limit.as_millis(),
                o.what
            )
        })
}

/// Messages and files as promised, now.
pub(crate) async fn promises_kept(
    ledger: &Ledger,
    node: &Node,
    rooms: &[String],
    refused_may_be_stored: bool,
) -> Vec<String> {
    let mut problems = ledger.violations();
    let (_, stored) = ledger
        .check_timeline(node, "u2", rooms, refused_may_be_stored)
        .await;
    problems.extend(stored);
    problems.extend(check_files(ledger, node, refused_may_be_stored).await);
    problems
}

/// The end of every case: retry every send that was not acknowledged, with its
/// `client_msg_id`; then each attempt is stored exactly once, every workroom the server
/// acknowledged is there with its audit entry, and the audit chain verifies. Returns how
/// many sends were retried.
pub(crate) async fn retry_and_settle(
    ledger: &Ledger,
    node: &Node,
    rooms: &[String],
    refused_may_be_stored: bool,
) -> usize {
    let retried = ledger.retry_unacknowledged(node, "u1").await;
    let (stored, mut problems) = ledger
        .check_timeline(node, "u2", rooms, refused_may_be_stored)
        .await;
    problems.extend(ledger.all_attempts_stored_once(&stored));
    problems.extend(check_workrooms(ledger, node).await);
    assert_none("after retrying what was not acknowledged", &problems, node);
    retried
}

/// One line for the suite's output: how much was checked.
pub(crate) fn tally(ledger: &Ledger, retried: usize) -> String {
    format!(
        "  checked: {} sends acknowledged, {retried} unacknowledged ones retried with their \
         client_msg_id and each stored once; {} files, {} workrooms and the audit chain",
        ledger.acked_count(),
        ledger.files().len(),
        ledger.acked_rooms().len()
    )
}
