//! Connection logs (C11): every client connection is recorded as a session id, the time and
//! a keyed hash of the client's IP address, never the address itself. The key is derived
//! from the master keys (like the link-signing key), so the hashes cannot be reversed by
//! hashing the address space without it, and a master-key rotation starts a new series
//! (lookups try every key still configured).
//!
//! The address lives only in this process's memory for the life of the connection
//! ([`ClientConn`] prints no address). Which users authenticated on a connection is recorded
//! apart from the connection itself; the link is read only through a moderator act under a
//! grant (`GET /v1/moderation/grants/{grant}/connections`), which is audited.
//!
//! Recording never sits on the request path: records go through a bounded queue to one
//! writer task that commits them in batches. A full queue makes new connections wait
//! (backpressure) rather than drop security records; a batch the database refuses (it is
//! down, or its disk is full) is logged and dropped, not retried, and records still queued
//! when the process dies are lost.

use aws_lc_rs::hmac;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use workroom_storage::{Clock, ConnectionRecord, Keyring, SessionUser};

const PURPOSE: &str = "workroom/connection-addresses/v1";
/// Records queued before new connections wait.
const QUEUE: usize = 4096;
/// Records committed per transaction at most.
const BATCH: usize = 512;

/// One client connection, as handlers see it (axum `ConnectInfo`).
#[derive(Clone)]
pub struct ClientConn {
    addr: SocketAddr,
    session: Arc<SessionState>,
}

struct SessionState {
    id: String,
    recorded: AtomicBool,
    users: Mutex<Vec<String>>,
}

impl std::fmt::Debug for ClientConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the address: it must not reach a log line.
        f.debug_struct("ClientConn")
            .field("session", &self.session.id)
            .finish_non_exhaustive()
    }
}

impl ClientConn {
    pub fn session_id(&self) -> &str {
        &self.session.id
    }
}

impl ClientConn {
    /// A connection just accepted from `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        ClientConn {
            addr,
            session: Arc::new(SessionState {
                id: format!("s_{}", uuid::Uuid::now_v7().simple()),
                recorded: AtomicBool::new(false),
                users: Mutex::new(Vec::new()),
            }),
        }
    }
}

enum Item {
    Connection(ConnectionRecord),
    User(SessionUser),
}

/// The records waiting for the writer task, in arrival order.
pub struct Queued(mpsc::Receiver<Item>);

/// One batch for the database: connections, and users seen on connections.
pub type Batch = (Vec<ConnectionRecord>, Vec<SessionUser>);

impl Queued {
    /// The next batch (up to 512 records), waiting for at least one; once `shutdown` fired,
    /// what is still queued, then `None`.
    pub async fn next_batch(&mut self, shutdown: &CancellationToken) -> Option<Batch> {
        let mut items = Vec::with_capacity(BATCH);
        let received = tokio::select! {
            n = self.0.recv_many(&mut items, BATCH) => n,
            () = shutdown.cancelled() => {
                self.0.close();
                self.0.recv_many(&mut items, QUEUE).await
            }
        };
        if received == 0 {
            return None;
        }
        let mut connections = Vec::new();
        let mut users = Vec::new();
        for item in items {
            match item {
                Item::Connection(c) => connections.push(c),
                Item::User(u) => users.push(u),
            }
        }
        Some((connections, users))
    }
}

/// Hashes addresses and queues records for the writer.
pub struct ConnLog {
    /// Newest master key's derivation first: it hashes new records; all are tried on lookup.
    keys: Vec<hmac::Key>,
    tx: mpsc::Sender<Item>,
    /// Stamps the records (the store's clock).
    clock: workroom_storage::Clock,
}

impl std::fmt::Debug for ConnLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnLog").finish_non_exhaustive()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn canonical(ip: IpAddr) -> IpAddr {
    // An IPv4 client seen through a dual-stack socket is the same address.
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl ConnLog {
    /// The log, and the queue its writer task (`tasks::connection_log`) drains.
    pub fn new(keyring: &Keyring, clock: Clock) -> (ConnLog, Queued) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let log = ConnLog {
            clock,
            keys: keyring
                .derived_keys(PURPOSE)
                .iter()
                .map(|k| hmac::Key::new(hmac::HMAC_SHA256, k.as_ref()))
                .collect(),
            tx,
        };
        (log, Queued(rx))
    }

    /// The keyed hash of an address under the newest key (hex).
    pub fn hash(&self, ip: IpAddr) -> String {
        self.keys
            .first()
            .map(|k| hex(hmac::sign(k, canonical(ip).to_string().as_bytes()).as_ref()))
            .unwrap_or_default()
    }

    /// The hashes of an address under every configured key (for lookups).
    pub fn hashes(&self, ip: IpAddr) -> Vec<String> {
        let text = canonical(ip).to_string();
        self.keys
            .iter()
            .map(|k| hex(hmac::sign(k, text.as_bytes()).as_ref()))
            .collect()
    }

    /// Record the connection once, on its first request.
    pub async fn connection(&self, conn: &ClientConn) {
        if conn.session.recorded.swap(true, Ordering::Relaxed) {
            return;
        }
        let record = ConnectionRecord {
            session_id: conn.session.id.clone(),
            address_hash: self.hash(conn.addr.ip()),
            connected_at: self.clock.now_ms(),
        };
        let _ = self.tx.send(Item::Connection(record)).await;
    }

    /// Record that `user` authenticated on the connection (once per user).
    pub async fn user(&self, conn: &ClientConn, user: &str) {
        {
            let mut users = conn.session.users.lock().unwrap_or_else(|p| p.into_inner());
            if users.iter().any(|u| u == user) {
                return;
            }
            users.push(user.to_string());
        }
        self.connection(conn).await;
        let link = SessionUser {
            session_id: conn.session.id.clone(),
            user_id: user.to_string(),
            first_seen: self.clock.now_ms(),
        };
        let _ = self.tx.send(Item::User(link)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_mapped_addresses_hash_like_ipv4() {
        let v4: IpAddr = "203.0.113.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        assert_eq!(canonical(mapped), v4);
    }

    #[test]
    fn the_session_is_debug_printed_without_the_address() {
        let addr: SocketAddr = "203.0.113.7:5555".parse().unwrap();
        let conn = ClientConn::new(addr);
        let printed = format!("{conn:?}");
        assert!(!printed.contains("203.0.113.7"), "{printed}");
        assert!(printed.contains(conn.session_id()));
    }
}
