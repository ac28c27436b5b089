//! The pool never hands out a connection that is still inside a transaction.

use super::*;
use crate::audit::Actor;
use crate::clock::Clock;
use crate::db::pool::SQLITE_POOL_SIZE;
use crate::keyring::{MasterKey, MasterKeySet};
use crate::{AppendOutcome, NewEvent, NewEventKind, PartyInput};
use sea_orm::ConnectionTrait;

async fn sqlite_store(path: &std::path::Path, keyring: Arc<Keyring>) -> Store {
    Store::open(
        &DatabaseOptions {
            url: None,
            sqlite_path: path.to_path_buf(),
            sqlite_synchronous: SqliteSync::Full,
            max_connections: 4,
            acquire_timeout: Duration::from_secs(5),
        },
        keyring,
        Clock::system(),
    )
    .await
    .unwrap()
}

fn party(user: &str) -> PartyInput {
    PartyInput {
        user: user.into(),
        account: format!("acct-{user}"),
        name: user.into(),
        email: format!("{user}@example.com"),
    }
}

/// A dropped connection is returned to the pool by a spawned task; let it land, so
/// that the next acquire reuses it instead of opening a new one.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// SQLite ends a transaction by itself when a write fails with `SQLITE_FULL` or an I/O
/// error; the `ROLLBACK` the driver then sends fails, and its transaction depth stays at
/// 1. Reused as if clean, that connection opened every later "transaction" as a
/// savepoint: after one refused batch (`ROLLBACK TO` keeps the savepoint and the
/// transaction open) every acknowledged commit went into an outer transaction that
/// never committed. Here the database's own rollback is provoked directly.
#[tokio::test]
async fn a_connection_whose_transaction_ended_behind_its_back_is_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("workroom.db");
    let keyring = Arc::new(Keyring::new(
        MasterKeySet::new(vec![MasterKey::generate()]).unwrap(),
    ));
    let store = sqlite_store(&path, keyring.clone()).await;
    store.migrate().await.unwrap();
    let room = store
        .accept_bid(
            "b1",
            "p1",
            &party("u1"),
            &party("u2"),
            &Actor::new("svc", "service"),
        )
        .await
        .unwrap()
        .room_id;
    let room = workroom_protocol::RoomId::try_from(room).unwrap();
    settle().await;

    // Every connection of the pool in turn (they are handed out in order).
    for _ in 0..SQLITE_POOL_SIZE {
        let txn = store.begin_write().await.unwrap();
        txn.execute_unprepared("ROLLBACK").await.unwrap();
        drop(txn);
        settle().await;
    }
    // A transaction that fails (a refused batch) ...
    for _ in 0..SQLITE_POOL_SIZE {
        let txn = store.begin_write().await.unwrap();
        txn.execute_unprepared("UPDATE rooms SET last_seq = last_seq")
            .await
            .unwrap();
        drop(txn);
        settle().await;
    }
    // ... and then acknowledged appends.
    for n in 1..=SQLITE_POOL_SIZE as u64 {
        let results = store
            .append_batch(&[NewEvent {
                room_id: room.clone(),
                sender_id: "u1".into(),
                client_msg_id: Some(
                    workroom_protocol::ClientMsgId::try_from(format!("c{n}")).unwrap(),
                ),
                kind: NewEventKind::Message {
                    body: crate::MessageBody::new(format!("hello {n}"), 100).unwrap(),
                    attachments: Vec::new(),
                },
                notice: false,
            }])
            .await;
        assert!(
            matches!(&results[0], Ok(AppendOutcome::Stored(e)) if e.seq == n),
            "{results:?}"
        );
        settle().await;
    }

    assert!(store.discarded_connections() >= 1);

    // Acknowledged means committed: another connection sees it.
    let other = sqlite_store(&path, keyring).await;
    let read = other
        .take_mint()
        .expect("a fresh store's mint")
        .room_read(&room);
    let seen = other.events_after(&read, 0, 10).await.unwrap();
    assert_eq!(
        seen.len(),
        SQLITE_POOL_SIZE,
        "acknowledged messages were not committed"
    );
}

fn sqlite_options(path: &std::path::Path) -> DatabaseOptions {
    DatabaseOptions {
        url: None,
        sqlite_path: path.to_path_buf(),
        sqlite_synchronous: SqliteSync::Full,
        max_connections: 4,
        acquire_timeout: Duration::from_secs(5),
    }
}

#[tokio::test]
async fn the_write_probe_commits_nothing_that_stays_and_fails_fast_while_writes_are_held() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("workroom.db");
    let keyring = Arc::new(Keyring::new(
        MasterKeySet::new(vec![MasterKey::generate()]).unwrap(),
    ));
    let store = sqlite_store(&path, keyring).await;
    store.migrate().await.unwrap();
    let probe = DatabaseProbe::open(&sqlite_options(&path), Duration::from_millis(300)).unwrap();
    probe.ping().await.unwrap();
    probe.write().await.unwrap();
    probe.write().await.unwrap();
    let left = store
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "SELECT COUNT(*) AS n FROM write_probes",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(left, 0);

    // Another writer holds the lock: the probe gives up after its own short wait, not the
    // store's ten seconds.
    let held = store.begin_write().await.unwrap();
    held.execute_unprepared("UPDATE rooms SET last_seq = last_seq")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    assert!(probe.write().await.is_err());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    held.rollback().await.unwrap();
    probe.write().await.unwrap();
}

#[tokio::test]
async fn a_probe_of_a_database_that_is_down_fails_within_its_timeout() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let options = DatabaseOptions {
        url: Some(format!("postgres://workroom@127.0.0.1:{port}/workroom")),
        ..sqlite_options(std::path::Path::new("unused.db"))
    };
    // Made while the database is down: it connects on first use.
    let probe = DatabaseProbe::open(&options, Duration::from_millis(300)).unwrap();
    let started = std::time::Instant::now();
    assert!(probe.ping().await.is_err());
    assert!(probe.write().await.is_err());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}
