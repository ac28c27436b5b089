//! Assembling and running the server: `run(listener, config, shutdown)` is what `workroom
//! serve` calls and what the tests call on `127.0.0.1:0`.
//!
//! Shutdown is a small protocol: the token fires → `/readyz` says draining and the listener
//! stops accepting → every session acknowledges its queued sends and closes with 1001 →
//! committers commit what is queued and stop → the pool closes. Each step is bounded by
//! `shutdown.drain_timeout_secs`.

use crate::app::{AppState, Inner};
use crate::auth::{DevKey, DevKeyError, TokenVerifier, VerifierError};
use crate::committer::Committers;
use crate::config::Config;
use crate::health::Health;
use crate::hub::Hub;
use crate::service::Service;
use crate::tasks::health_checks::CheckTiming;
use crate::tls::{TlsError, TlsMaterial};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use workroom_storage::{Clock, DatabaseOptions, DatabaseProbe, StorageError, Store};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    DevKey(#[from] DevKeyError),
    #[error(transparent)]
    Verifier(#[from] VerifierError),
    #[error(transparent)]
    Keys(#[from] crate::keys::KeysError),
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    #[error(transparent)]
    LegalKey(#[from] crate::bundle::SignerError),
    #[error("file storage: {0}")]
    Blob(#[from] workroom_storage::blob::BlobError),
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

/// What the server prepared before accepting connections (for the startup banner).
#[derive(Debug, Clone)]
pub struct Prepared {
    pub tls: TlsMaterial,
    pub dev_key_created: bool,
    pub master_key_created: bool,
    pub migrations_applied: usize,
}

/// Open the database with the configured options and keyring, on `clock`. The flag says
/// whether the dev master key file was generated just now.
pub async fn open_store(config: &Config, clock: Clock) -> Result<(Store, bool), ServerError> {
    let (keyring, created) = crate::keys::load_keyring(config)?;
    let store = Store::open(&database_options(config), Arc::new(keyring), clock).await?;
    Ok((store, created))
}

/// Where the database is and how long a caller may wait for one of its connections.
fn database_options(config: &Config) -> DatabaseOptions {
    DatabaseOptions {
        url: config.database_url.clone(),
        sqlite_path: config.sqlite_path(),
        sqlite_synchronous: config.database.sqlite_synchronous,
        max_connections: config.database.max_connections,
        acquire_timeout: Duration::from_millis(config.database.acquire_timeout_ms),
    }
}

/// Serve until `shutdown` fires, then drain. Every time-driven rule reads `clock` (the
/// system's in production; tests move theirs). `on_ready` is called once the listener is
/// about to accept, with what was prepared.
pub async fn run(
    listener: std::net::TcpListener,
    config: Config,
    clock: Clock,
    shutdown: CancellationToken,
    on_ready: impl FnOnce(&Prepared, SocketAddr),
) -> Result<(), ServerError> {
    let local_addr = listener.local_addr()?;
    let (store, master_key_created) = open_store(&config, clock.clone()).await?;
    let migrations_applied = store.migrate().await?;
    let blobs = crate::blobs::open_blob_store(&config).await?;
    let links = crate::links::LinkSigner::new(store.keyring());
    let proofs = crate::policy::Proofs::new(
        store
            .take_mint()
            .expect("a freshly opened store still has its mint"),
    );
    let (audit_signer, _) = crate::audit::AuditSigner::load_or_create(&config)?;
    let (legal_signer, _) = crate::bundle::LegalSigner::load_or_create(&config)?;
    let legal_signer = Arc::new(legal_signer);
    let (dev_key, dev_key_created) = if config.auth.dev_key {
        let (key, created) = DevKey::load_or_create(&config.data_dir)?;
        (Some(key), created)
    } else {
        (None, false)
    };
    let verifier = TokenVerifier::new(&config.auth, dev_key.as_ref(), clock.clone())?;
    let (tls_config, tls) = crate::tls::server_config(&config)?;

    let hub = Arc::new(Hub::new());
    let background = TaskTracker::new();
    let health = Arc::new(Health::new());
    let timing = CheckTiming {
        interval: Duration::from_millis(config.health.check_interval_ms),
        timeout: Duration::from_millis(config.health.check_timeout_ms),
    };
    let probe = DatabaseProbe::open(&database_options(&config), timing.timeout)?;
    background.spawn(crate::tasks::health_checks::database(
        health.clone(),
        probe,
        store.clone(),
        timing,
        shutdown.clone(),
    ));
    background.spawn(crate::tasks::health_checks::object_store(
        health.clone(),
        blobs.clone(),
        timing,
        shutdown.clone(),
    ));
    let committers = Committers::start(
        config.database.committers,
        config.database.max_batch,
        store.clone(),
        hub.clone(),
        health.clone(),
        &background,
        shutdown.clone(),
    )?;
    let audit_signer = Arc::new(audit_signer);
    background.spawn(crate::tasks::checkpoints::run(
        store.clone(),
        audit_signer.clone(),
        config.audit.checkpoint_every_entries,
        Duration::from_secs(config.audit.checkpoint_interval_secs),
        shutdown.clone(),
    ));
    background.spawn(crate::tasks::orphan_sweep::run(
        store.clone(),
        blobs.clone(),
        Duration::from_secs(config.files.sweep_interval_secs),
        Duration::from_secs(config.files.orphan_grace_secs),
        shutdown.clone(),
    ));
    background.spawn(crate::tasks::grant_expiry::run(
        store.clone(),
        hub.clone(),
        Duration::from_secs(config.moderation.expiry_check_secs),
        shutdown.clone(),
    ));
    background.spawn(crate::tasks::revocations::run(
        store.clone(),
        hub.clone(),
        Duration::from_secs(1),
        shutdown.clone(),
    ));
    let lifecycle = Arc::new(tokio::sync::Notify::new());
    background.spawn(crate::tasks::lifecycle::run(
        store.clone(),
        blobs.clone(),
        hub.clone(),
        config.retention.clone(),
        config.legal.clone(),
        lifecycle.clone(),
        shutdown.clone(),
    ));
    let (connlog, queued) = crate::connlog::ConnLog::new(store.keyring(), clock.clone());
    background.spawn(crate::tasks::connection_log::run(
        store.clone(),
        queued,
        shutdown.clone(),
    ));
    let own_origins = vec![
        format!("https://{local_addr}"),
        format!("https://localhost:{}", local_addr.port()),
    ];
    let drain = Duration::from_secs(config.shutdown.drain_timeout_secs);
    let config = Arc::new(config);
    let connlog = Arc::new(connlog);
    let service = Service::new(crate::service::Parts {
        config: config.clone(),
        store: store.clone(),
        blobs,
        proofs,
        committers,
        verifier,
        links,
        hub: hub.clone(),
        health: health.clone(),
        connlog: connlog.clone(),
        clock: clock.clone(),
        lifecycle,
        legal_signer,
    });
    let state = AppState::new(Inner {
        config,
        service,
        clock,
        hub,
        health,
        connlog,
        metrics: crate::metrics::install(),
        shutdown: shutdown.clone(),
        sessions: TaskTracker::new(),
        draining: AtomicBool::new(false),
        open_sessions: AtomicUsize::new(0),
        own_origins,
    });

    let handle = axum_server::Handle::<SocketAddr>::new();
    // TCP_NODELAY: frames are small and latency-bound; without it Nagle's algorithm holds a
    // second small write until the peer's delayed ACK (~40 ms on Linux).
    let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(
        axum_server::tls_rustls::RustlsConfig::from_config(tls_config),
    )
    .acceptor(axum_server::accept::NoDelayAcceptor::new());
    let server = axum_server::from_tcp(listener)?
        .acceptor(acceptor)
        .handle(handle.clone());
    let app = crate::router::router(state.clone());

    let watcher = {
        let state = state.clone();
        let handle = handle.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            shutdown.cancelled().await;
            state.draining.store(true, Ordering::Relaxed);
            tracing::info!("shutting down: draining connections");
            handle.graceful_shutdown(Some(drain));
        })
    };

    on_ready(
        &Prepared {
            tls,
            dev_key_created,
            master_key_created,
            migrations_applied,
        },
        local_addr,
    );
    let served = server
        .serve(app.into_make_service_with_connect_info::<crate::connlog::ClientConn>())
        .await;
    shutdown.cancel();
    let _ = watcher.await;

    state.sessions.close();
    if tokio::time::timeout(drain, state.sessions.wait())
        .await
        .is_err()
    {
        tracing::warn!("some sessions did not close within the drain timeout");
    }
    background.close();
    if tokio::time::timeout(drain, background.wait())
        .await
        .is_err()
    {
        tracing::warn!("committers did not finish within the drain timeout");
    }
    drop(state);
    // The last signed checkpoint covers everything written during the drain (live views
    // ended at disconnect, records committed by the last batches).
    if let Err(error) = crate::audit::checkpoint_now(&store, &audit_signer).await {
        tracing::warn!(%error, "final audit checkpoint failed");
    }
    store.close().await.ok();
    tracing::info!("stopped");
    served.map_err(ServerError::from)
}
