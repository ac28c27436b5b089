//! The health checks behind [`crate::health::Health`]: every `health.check_interval_ms`
//! the database is pinged on the probe's own connection (and, while commits are refused, a
//! probe write tells when they are accepted again) and the object store is pinged; each check
//! is bounded by `health.check_timeout_ms`.
//!
//! An error answer (connection refused or reset, an error from the server) counts as down at
//! once. No answer in time does not, by itself: a database in a checkpoint or a store under
//! a burst is slow for a few seconds, and declaring it down would refuse every request that
//! would have been served a moment later. A dependency counts as down once
//! `health.unanswered_checks_before_down` checks in a row went unanswered; by then requests
//! waiting on it would run out of their own timeouts anyway.

use crate::health::Health;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use workroom_storage::blob::BlobStore;
use workroom_storage::{DatabaseProbe, StorageError, Store};

/// How often and how patiently the checks run.
#[derive(Debug, Clone, Copy)]
pub struct CheckTiming {
    pub interval: Duration,
    pub timeout: Duration,
    /// Checks in a row without an answer before the dependency counts as down.
    pub unanswered_before_down: u32,
}

/// One check's outcome.
#[derive(Debug)]
enum Outcome {
    Answered,
    /// It answered with an error or refused the connection.
    Failed(String),
    /// No answer within the check's timeout.
    Unanswered(String),
}

/// Turns outcomes into verdicts, counting unanswered checks in a row.
#[derive(Debug)]
struct Patience {
    dependency: &'static str,
    unanswered_in_a_row: u32,
    limit: u32,
}

impl Patience {
    fn new(dependency: &'static str, timing: CheckTiming) -> Patience {
        Patience {
            dependency,
            unanswered_in_a_row: 0,
            limit: timing.unanswered_before_down.max(1),
        }
    }

    /// Up, down with a cause, or `None`: too early to tell, the state stays as it is.
    fn verdict(&mut self, outcome: Outcome) -> Option<Result<(), String>> {
        match outcome {
            Outcome::Answered => {
                self.unanswered_in_a_row = 0;
                Some(Ok(()))
            }
            Outcome::Failed(cause) => {
                self.unanswered_in_a_row = 0;
                Some(Err(cause))
            }
            Outcome::Unanswered(cause) => {
                self.unanswered_in_a_row = self.unanswered_in_a_row.saturating_add(1);
                metrics::counter!(
                    "workroom_health_checks_unanswered_total",
                    "dependency" => self.dependency
                )
                .increment(1);
                (self.unanswered_in_a_row >= self.limit).then(|| {
                    Err(format!(
                        "{cause} ({} checks in a row)",
                        self.unanswered_in_a_row
                    ))
                })
            }
        }
    }
}

/// Check the database every interval until `shutdown`: ping it, and while writes are
/// failing, probe whether it accepts a commit again. Also exports how many pooled
/// connections the store had to close (`workroom_db_connections_discarded_total`).
pub async fn database(
    health: Arc<Health>,
    probe: DatabaseProbe,
    store: Store,
    timing: CheckTiming,
    shutdown: CancellationToken,
) {
    let mut ticks = super::Ticks::new(timing.interval, shutdown);
    let mut patience = Patience::new("database", timing);
    while ticks.next().await {
        let outcome = match probe.ping().await {
            Ok(()) => Outcome::Answered,
            Err(error @ StorageError::ProbeTimedOut(_)) => Outcome::Unanswered(error.to_string()),
            Err(error) => Outcome::Failed(error.to_string()),
        };
        if let Some(pinged) = patience.verdict(outcome) {
            health.checked(
                &health.database,
                pinged,
                "the database does not answer: sends and new connections are refused as \
                 `unavailable` until it does",
            );
        }
        if !health.writes.is_up() && health.database.is_up() {
            let failures = health.write_failures();
            let written = probe.write().await;
            if written.is_ok() && health.write_failures() == failures {
                health.recovered(&health.writes);
            }
        }
        metrics::counter!("workroom_db_connections_discarded_total")
            .absolute(store.discarded_connections());
    }
    probe.close().await;
}

/// Check the object store every interval until `shutdown`.
pub async fn object_store(
    health: Arc<Health>,
    blobs: BlobStore,
    timing: CheckTiming,
    shutdown: CancellationToken,
) {
    let mut ticks = super::Ticks::new(timing.interval, shutdown);
    let mut patience = Patience::new("object_store", timing);
    while ticks.next().await {
        let outcome = bounded(timing.timeout, blobs.ping()).await;
        if let Some(pinged) = patience.verdict(outcome) {
            health.checked(
                &health.object_store,
                pinged,
                "the object store is unavailable: uploads and downloads are refused as \
                 `unavailable`; messaging is unaffected",
            );
        }
    }
}

/// `check`'s outcome within `timeout`.
async fn bounded<T, E: std::fmt::Display>(
    timeout: Duration,
    check: impl Future<Output = Result<T, E>>,
) -> Outcome {
    match tokio::time::timeout(timeout, check).await {
        Ok(Ok(_)) => Outcome::Answered,
        Ok(Err(error)) => Outcome::Failed(error.to_string()),
        Err(_) => Outcome::Unanswered(format!("no answer within {} ms", timeout.as_millis())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patience(limit: u32) -> Patience {
        Patience::new(
            "database",
            CheckTiming {
                interval: Duration::from_millis(500),
                timeout: Duration::from_millis(1000),
                unanswered_before_down: limit,
            },
        )
    }

    fn slow() -> Outcome {
        Outcome::Unanswered("no answer".into())
    }

    #[test]
    fn an_error_answer_is_down_at_once() {
        let mut p = patience(3);
        assert!(matches!(
            p.verdict(Outcome::Failed("refused".into())),
            Some(Err(_))
        ));
    }

    #[test]
    fn unanswered_checks_count_as_down_only_after_enough_in_a_row() {
        let mut p = patience(3);
        assert_eq!(p.verdict(slow()), None);
        assert_eq!(p.verdict(slow()), None);
        assert!(matches!(p.verdict(slow()), Some(Err(cause)) if cause.contains("3 checks")));
        assert!(matches!(p.verdict(slow()), Some(Err(_))), "still down");
        assert_eq!(p.verdict(Outcome::Answered), Some(Ok(())));
        // An answer in between starts the count again.
        assert_eq!(p.verdict(slow()), None);
        assert_eq!(p.verdict(Outcome::Answered), Some(Ok(())));
        assert_eq!(p.verdict(slow()), None);
        assert_eq!(p.verdict(slow()), None);
    }

    #[test]
    fn a_limit_of_one_is_the_old_behaviour() {
        let mut p = patience(1);
        assert!(matches!(p.verdict(slow()), Some(Err(_))));
    }
}
