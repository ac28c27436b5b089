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
    #[error("bus: {0}")]
    Bus(String),
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

/// The listener's limits from the config, fitted to the process's file limit.
fn listener_limits(config: &Config) -> crate::listener::ListenerLimits {
    let c = &config.connections;
    let budget = crate::listener::file_budget();
    let wanted = config.limits.max_connections + c.max_unauthenticated;
    if wanted > budget {
        tracing::warn!(
            wanted,
            budget,
            "limits.max_connections + connections.max_unauthenticated exceed what the file \
             limit leaves room for; connections beyond it will be refused"
        );
    }
    let secs = Duration::from_secs;
    crate::listener::ListenerLimits {
        gate: crate::listener::GateLimits {
            max_per_address: c.max_per_address,
            new_per_address_per_sec: c.new_per_address_per_sec,
            max_unauthenticated: c.max_unauthenticated,
            max_total: budget,
        },
        tls_handshake_timeout: secs(c.tls_handshake_timeout_secs),
        idle_timeout: secs(c.idle_timeout_secs),
        body_progress: secs(c.body_progress_secs),
        body_min_bytes: c.body_min_bytes,
        send_stall: secs(c.send_stall_secs),
        http2_max_streams: c.http2_max_streams,
        proxies: crate::listener::Proxies {
            trusted: c.trusted_proxies.clone(),
            proxy_protocol_v2: c.proxy_protocol == crate::config::ProxyProtocol::V2,
        },
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
    crate::data_dir::make_private(&config)?;
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
    let audit_keys = Arc::new(crate::audit::verification_keys(&config, &audit_signer)?);
    let (legal_signer, _) = crate::bundle::LegalSigner::load_or_create(&config)?;
    let legal_signer = Arc::new(legal_signer);
    let (dev_key, dev_key_created) = if config.auth.dev_key_on() {
        let (key, created) = DevKey::load_or_create(&config.data_dir)?;
        let production_keys = !config.auth.keys.is_empty() || config.auth.jwks_file.is_some();
        if production_keys {
            tracing::warn!(
                "auth.dev_key is on beside production keys: anyone who can read the data \
                 directory can sign tokens for any user; turn it off in production"
            );
        } else {
            tracing::warn!(
                "auth.dev_key is on: tokens signed with the data directory's dev key are \
                 accepted (development only)"
            );
        }
        (Some(key), created)
    } else {
        (None, false)
    };
    let verifier = Arc::new(TokenVerifier::new(&config.auth, dev_key, clock.clone())?);
    let (tls_config, tls_cert, tls) = crate::tls::server_config(&config)?;
    let listener_limits = listener_limits(&config);
    let metrics_listener = config
        .metrics_addr()
        .map(|addr| {
            std::net::TcpListener::bind(addr)
                .map_err(|e| std::io::Error::new(e.kind(), format!("metrics_listen {addr}: {e}")))
        })
        .transpose()?;

    let hub = Arc::new(Hub::new());
    let background = TaskTracker::new();
    let health = Arc::new(Health::new());
    let timing = CheckTiming {
        interval: Duration::from_millis(config.health.check_interval_ms),
        timeout: Duration::from_millis(config.health.check_timeout_ms),
        unanswered_before_down: config.health.unanswered_checks_before_down,
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
    background.spawn(crate::tasks::memory_trim::run(
        store.clone(),
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
        verifier: verifier.clone(),
        links,
        hub: hub.clone(),
        health: health.clone(),
        connlog: connlog.clone(),
        clock: clock.clone(),
        lifecycle,
        legal_signer,
        audit_keys,
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

    // With a bus, this node joins the cluster's fan-out (C15); it connects in the
    // background, so the node serves whether NATS is up or not.
    crate::bus::start(&state.config.bus, &state, &background, &shutdown)
        .await
        .map_err(|error| ServerError::Bus(error.to_string()))?;

    let verifier_reload = verifier;
    let app = crate::router::router(state.clone());
    let watcher = {
        let state = state.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            shutdown.cancelled().await;
            state.draining.store(true, Ordering::Relaxed);
            tracing::info!("shutting down: draining connections");
        })
    };
    let hangups = crate::tasks::reload::hangups(shutdown.clone());
    background.spawn(crate::tasks::reload::tls(
        tls_cert,
        Duration::from_secs(state.config.tls.reload_interval_secs),
        hangups.clone(),
        shutdown.clone(),
    ));
    background.spawn(crate::tasks::reload::keys(
        verifier_reload,
        Duration::from_secs(state.config.auth.reload_interval_secs),
        hangups,
        shutdown.clone(),
    ));
    if let Some(listener) = metrics_listener {
        let app = crate::router::metrics_router(state.clone());
        let private = crate::listener::serve_private(listener, app, shutdown.clone());
        background.spawn(private);
    }

    on_ready(
        &Prepared {
            tls,
            dev_key_created,
            master_key_created,
            migrations_applied,
        },
        local_addr,
    );
    let served = crate::listener::serve(
        listener,
        tokio_rustls::TlsAcceptor::from(tls_config),
        app,
        listener_limits,
        shutdown.clone(),
        drain,
    )
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
