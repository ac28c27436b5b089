//! Reloading what an operator rotates without a restart: the TLS certificate and the token
//! verification keys. Each is re-read on SIGHUP and every `reload_interval_secs` of its
//! section; what fails to load is reported and the previous material stays in use, so a
//! half-copied file never takes the server down.

use crate::auth::TokenVerifier;
use crate::tls::ReloadingCert;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Ticks once per SIGHUP received (all reload tasks watch it).
pub type Hangups = watch::Receiver<u64>;

/// Listen for SIGHUP until shutdown. Installing the handler also stops SIGHUP from
/// terminating the process, as it would by default.
pub fn hangups(shutdown: CancellationToken) -> Hangups {
    let (tx, rx) = watch::channel(0u64);
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(mut signal) => {
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        received = signal.recv() => {
                            if received.is_none() {
                                return;
                            }
                            tx.send_modify(|n| *n += 1);
                        }
                    }
                }
            });
        }
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGHUP; reloads run on the timer only")
        }
    }
    rx
}

/// Wait for the next reload: a SIGHUP or the interval; `false` once shutting down. When
/// the signal listener has stopped (`signals_open` false) the timer alone goes on; shutdown
/// is looked at first, always.
async fn next(
    ticker: &mut tokio::time::Interval,
    hangups: &mut Hangups,
    signals_open: &mut bool,
    shutdown: &CancellationToken,
) -> bool {
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return false,
            _ = ticker.tick() => return true,
            changed = hangups.changed(), if *signals_open => match changed {
                Ok(()) => return true,
                Err(_) => *signals_open = false,
            },
        }
    }
}

fn ticker(every: Duration) -> tokio::time::Interval {
    let start = tokio::time::Instant::now() + every;
    let mut ticker = tokio::time::interval_at(start, every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker
}

/// Reload `what` with `reload` on every SIGHUP and every `every`, until shutdown:
/// `Ok(true)` when it found something new, an error when it kept the old material.
async fn reloading<E: std::fmt::Display>(
    what: &'static str,
    every: Duration,
    mut hangups: Hangups,
    shutdown: CancellationToken,
    reload: impl Fn() -> Result<bool, E>,
) {
    let mut ticker = ticker(every);
    let mut signals_open = true;
    while next(&mut ticker, &mut hangups, &mut signals_open, &shutdown).await {
        match reload() {
            Ok(true) => tracing::info!(what, "reloaded"),
            Ok(false) => {}
            Err(error) => {
                tracing::error!(what, %error, "not reloaded; the previous one stays in use")
            }
        }
    }
}

/// Reload the listener's certificate.
pub async fn tls(
    cert: Arc<ReloadingCert>,
    every: Duration,
    hangups: Hangups,
    shutdown: CancellationToken,
) {
    reloading("TLS certificate", every, hangups, shutdown, || {
        cert.reload()
    })
    .await;
}

/// Reload the token verification keys.
pub async fn keys(
    verifier: Arc<TokenVerifier>,
    every: Duration,
    hangups: Hangups,
    shutdown: CancellationToken,
) {
    reloading("token keys", every, hangups, shutdown, || {
        let reloaded = verifier.reload()?;
        if reloaded {
            tracing::info!(kids = ?verifier.kids(), "token keys in force");
        }
        Ok::<_, crate::auth::VerifierError>(reloaded)
    })
    .await;
}
