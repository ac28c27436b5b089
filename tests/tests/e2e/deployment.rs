//! Start-up for many nodes (C15, C16): on PostgreSQL a node refuses to start without the
//! secrets every node shares, `workroom secrets init` makes them, migrations run under a
//! database lock so replicas starting together cannot race, and `workroom migrate` runs once
//! as a release step after which `serve` applies nothing.
//!
//! The refusal is checked on every backend (validation refuses before any connection, so an
//! unreachable PostgreSQL URL shows it); what needs a real database runs with
//! `WORKROOM_TEST_BACKEND=postgres` and is skipped, saying so, otherwise.

use crate::cli::{BIN, ok, workroom};
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use workroom_storage::Clock;
use workroom_tests::{TestServer, postgres_admin_url};

/// A PostgreSQL URL nothing listens on: enough for what validation decides.
const NOWHERE: &str = "postgres://workroom@127.0.0.1:1/nowhere";

/// The advisory lock key of `storage/src/db/migration_lock.rs` ("WRMIGRAT").
const MIGRATION_LOCK: i64 = 0x5752_4d49_4752_4154;

fn serve(dir: &std::path::Path, database_url: &str, port: u16) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--data-dir"])
        .arg(dir)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("WORKROOM_DATABASE_URL", database_url)
        .env("WORKROOM_LOG__FILTER", "warn");
    command
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn on_postgres_a_node_without_the_shared_secrets_refuses_to_start_naming_each() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["serve"][..], &["migrate"], &["audit", "verify"]] {
        let out = Command::new(BIN)
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .env("WORKROOM_DATABASE_URL", NOWHERE)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        for key in [
            "keys.master_key_file",
            "WORKROOM_KEYS__MASTER_KEYS",
            "audit.signing_key_file",
            "legal.signing_key_file",
            "workroom secrets init --dir DIR",
        ] {
            assert!(err.contains(key), "{args:?}: {key} not named in: {err}");
        }
    }
    assert!(
        !dir.path().join("keys").exists(),
        "no secret was generated for this node alone"
    );

    // One missing is named alone; the others given by file are accepted.
    let secrets = tempfile::tempdir().unwrap();
    let made = workroom_tests::workroom_server::secrets::init(secrets.path()).unwrap();
    let out = serve(dir.path(), NOWHERE, 0)
        .env("WORKROOM_KEYS__MASTER_KEY_FILE", &made.master_key_file)
        .env("WORKROOM_AUDIT__SIGNING_KEY_FILE", &made.audit_key_file)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("legal.signing_key_file: required"), "{err}");
    assert!(!err.contains("keys.master_key_file"), "{err}");
    assert!(!err.contains("audit.signing_key_file"), "{err}");

    // SQLite: one node, and it makes its own on first run, as before.
    let out = Command::new(BIN)
        .args(["migrate", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.path().join("keys/master.keys").exists());
}

/// `workroom secrets init` writes the files 0600, refuses to overwrite them, and what it
/// prints, used as the configuration, lets a PostgreSQL node start (and `audit verify` run
/// with the same key on the same database).
#[tokio::test]
async fn secrets_init_prints_the_configuration_that_lets_a_postgres_node_start() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let secrets = root.path().join("secrets");
    let printed = ok(Command::new(BIN)
        .args(["secrets", "init", "--dir"])
        .arg(&secrets)
        .output()
        .unwrap());
    for name in ["master.keys", "audit-ed25519.pk8", "legal-ed25519.pk8"] {
        let mode = std::fs::metadata(secrets.join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
        assert!(printed.contains(name), "{printed}");
    }
    let before = std::fs::read(secrets.join("master.keys")).unwrap();
    let again = Command::new(BIN)
        .args(["secrets", "init", "--dir"])
        .arg(&secrets)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    assert_eq!(std::fs::read(secrets.join("master.keys")).unwrap(), before);

    let config_file = root.path().join("node.toml");
    std::fs::write(&config_file, &printed).unwrap();
    let data = root.path().join("data");
    let Some(admin) = postgres_admin_url() else {
        // Without a database: validation accepts the printed lines, and the start fails
        // only where it tries to connect.
        let out = serve(&data, NOWHERE, 0)
            .arg("--config")
            .arg(&config_file)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert!(!out.status.success());
        assert!(!err.contains("required with PostgreSQL"), "{err}");
        assert!(err.contains("database"), "{err}");
        eprintln!("skipped starting on PostgreSQL: set WORKROOM_TEST_BACKEND=postgres");
        return;
    };
    let url = workroom_tests::fresh_postgres_database(&admin).await;
    let port = crate::process::free_port();
    let child = serve(&data, &url, port)
        .arg("--config")
        .arg(&config_file)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let child = crate::process::Child(child);
    let cert = data.join("tls/cert.pem");
    let http = workroom_tests::eventually(Duration::from_secs(30), "the node up", || async {
        let pem = std::fs::read(&cert).ok()?;
        let tls = workroom_tests::workroom_client::client_config(&pem).ok()?;
        let http = workroom_tests::workroom_client::HttpClient::new(
            &format!("https://localhost:{port}"),
            tls,
        )
        .ok()?;
        let ready = http.inner.get(http.url("/readyz")).send().await.ok()?;
        (ready.status() == 200).then_some(http)
    })
    .await;
    assert_eq!(
        http.inner
            .get(http.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    child.terminate().await;
    for name in ["master.keys", "audit-ed25519.pk8", "legal-ed25519.pk8"] {
        assert!(
            !data.join("keys").join(name).exists(),
            "{name} generated in the data dir although configured"
        );
    }
    // Another node's view of the same database with the same file: the trail verifies.
    let verified = ok(Command::new(BIN)
        .args(["audit", "verify", "--config"])
        .arg(&config_file)
        .arg("--data-dir")
        .arg(root.path().join("other-node"))
        .env("WORKROOM_DATABASE_URL", &url)
        .env("WORKROOM_LOG__FILTER", "warn")
        .output()
        .unwrap());
    assert!(verified.contains("audit trail intact"), "{verified}");
}

/// Four replicas migrating one fresh database at once: all succeed, one applies every
/// migration, the others wait for it and apply none, and each is recorded once.
#[tokio::test]
async fn replicas_starting_together_apply_the_schema_once() {
    use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
    if postgres_admin_url().is_none() {
        eprintln!("skipped: the migration lock is PostgreSQL's (WORKROOM_TEST_BACKEND=postgres)");
        return;
    }
    let (config, _dir) = TestServer::prepare(Box::new(|_| {})).await;
    let mut stores = Vec::new();
    for _ in 0..4 {
        let (store, _) =
            workroom_tests::workroom_server::server::open_store(&config, Clock::system())
                .await
                .unwrap();
        stores.push(store);
    }
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(stores.len()));
    let tasks: Vec<_> = stores
        .iter()
        .cloned()
        .map(|store| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                store.migrate().await
            })
        })
        .collect();
    let mut applied = Vec::new();
    for task in tasks {
        applied.push(
            task.await
                .unwrap()
                .expect("every replica's migration succeeds"),
        );
    }
    applied.sort_unstable();
    let db = workroom_tests::raw_db(&config).await;
    let recorded = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n, COUNT(DISTINCT version) AS d FROM seaql_migrations",
        ))
        .await
        .unwrap()
        .unwrap();
    let rows: i64 = recorded.try_get("", "n").unwrap();
    let distinct: i64 = recorded.try_get("", "d").unwrap();
    assert!(rows > 0);
    assert_eq!(rows, distinct);
    assert_eq!(
        applied,
        vec![0, 0, 0, rows as usize],
        "one replica applied everything"
    );

    // On a current schema a start takes no lock: it does not wait for another process that
    // holds it (a release-step `workroom migrate` of the next version, say).
    let held = db.begin().await.unwrap();
    held.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "SELECT pg_advisory_xact_lock($1)",
        [MIGRATION_LOCK.into()],
    ))
    .await
    .unwrap();
    let current = tokio::time::timeout(Duration::from_secs(5), stores[0].migrate())
        .await
        .expect("a current schema does not wait for the lock")
        .unwrap();
    assert_eq!(current, 0);
    held.rollback().await.unwrap();
    for store in stores {
        store.close().await.unwrap();
    }
    db.close().await.unwrap();
}

/// While another process holds the migration lock, a migration waits for it, then runs.
#[tokio::test]
async fn a_migration_waits_while_another_process_holds_the_lock() {
    use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
    if postgres_admin_url().is_none() {
        eprintln!("skipped: the migration lock is PostgreSQL's (WORKROOM_TEST_BACKEND=postgres)");
        return;
    }
    let (config, _dir) = TestServer::prepare(Box::new(|_| {})).await;
    let db = workroom_tests::raw_db(&config).await;
    let held = db.begin().await.unwrap();
    held.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "SELECT pg_advisory_xact_lock($1)",
        [MIGRATION_LOCK.into()],
    ))
    .await
    .unwrap();
    let (store, _) = workroom_tests::workroom_server::server::open_store(&config, Clock::system())
        .await
        .unwrap();
    let migrating = tokio::spawn({
        let store = store.clone();
        async move { store.migrate().await }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!migrating.is_finished(), "the migration waits for the lock");
    let untouched: bool = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT to_regclass('seaql_migrations') IS NULL AS untouched",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "untouched")
        .unwrap();
    assert!(
        untouched,
        "nothing was applied while another process held the lock"
    );
    held.commit().await.unwrap();
    let applied = tokio::time::timeout(Duration::from_secs(60), migrating)
        .await
        .expect("it runs once the lock is free")
        .unwrap()
        .unwrap();
    assert!(applied > 0);
    // The lock went with it: another migration takes it at once.
    let again = db.begin().await.unwrap();
    let free: bool = again
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT pg_try_advisory_xact_lock($1) AS free",
            [MIGRATION_LOCK.into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "free")
        .unwrap();
    assert!(free, "the lock was released");
    again.rollback().await.unwrap();
    store.close().await.unwrap();
    db.close().await.unwrap();
}

/// `workroom migrate` as a release step; the nodes that start after it apply nothing.
#[tokio::test]
async fn after_a_release_step_migrate_serve_applies_nothing() {
    let (config, dir) = TestServer::prepare(Box::new(|_| {})).await;
    let first = ok(workroom(&config, &["migrate"]));
    assert!(
        first.contains("applied ") && !first.contains("applied 0 "),
        "{first}"
    );
    let second = ok(workroom(&config, &["migrate"]));
    assert!(second.contains("applied 0 migration(s)"), "{second}");

    // A node started on the same configuration has nothing to apply.
    let mut config = config;
    config.listen = "127.0.0.1:0".into();
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let listener = std::net::TcpListener::bind(config.listen_addr()).unwrap();
    let shutdown = CancellationToken::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(workroom_tests::workroom_server::server::run(
        listener,
        config,
        Clock::system(),
        shutdown.clone(),
        move |prepared, _| {
            let _ = tx.send(prepared.migrations_applied);
        },
    ));
    let applied = tokio::time::timeout(Duration::from_secs(30), rx)
        .await
        .expect("the server became ready")
        .unwrap();
    assert_eq!(applied, 0);
    shutdown.cancel();
    task.await.unwrap().unwrap();
    drop(dir);
}
