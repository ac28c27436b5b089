//! A real NATS server for the multi-node tests (C15): `nats-server` (Debian's package) in a
//! process of its own on a free loopback port, which a test can stop (SIGTERM, or SIGKILL
//! for an abrupt outage) and start again on the same port, and which is killed when the
//! handle is dropped.
//!
//! Where it comes from:
//! - `WORKROOM_TEST_NATS_BIN` names the binary; else `nats-server` on `PATH`, else
//!   `/usr/sbin/nats-server` or `/usr/bin/nats-server` (where Debian puts it). `.ci/nats.sh`
//!   installs it when missing.
//! - `WORKROOM_TEST_NATS_URL` points the tests that only *use* NATS at one that is already
//!   running (`nats://host:port`); each cluster uses its own subject prefix, so tests do not
//!   hear each other. Tests that stop NATS always run their own.
//!
//! Missing NATS, like missing PostgreSQL or S3 elsewhere in the harness: with `CI` set the
//! test fails; without it, [`NatsServer::start`] returns `None` after printing why, and the
//! test skips.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a start may take before the test fails.
const START_LIMIT: Duration = Duration::from_secs(20);

/// A NATS server the tests talk to.
pub struct NatsServer {
    port: u16,
    host: String,
    /// `None` for an external server (`WORKROOM_TEST_NATS_URL`).
    own: Option<Own>,
}

struct Own {
    bin: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
    child: Option<Child>,
}

/// Whether the tests run in CI, where a missing service fails instead of skipping.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// Fail under CI, else print why the test skips. Returns `None` for the caller to pass on.
pub fn missing<T>(what: &str) -> Option<T> {
    if in_ci() {
        panic!("{what} (CI is set: a missing service fails the test instead of skipping it)");
    }
    eprintln!("SKIPPED: {what}");
    None
}

/// The `nats-server` binary, if there is one.
pub fn nats_bin() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("WORKROOM_TEST_NATS_BIN") {
        return Some(PathBuf::from(bin));
    }
    let on_path = std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("nats-server"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(["/usr/sbin/nats-server", "/usr/bin/nats-server"].map(PathBuf::from))
        .find(|candidate| candidate.is_file())
}

/// A free TCP port on loopback.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl NatsServer {
    /// The NATS server for a test that only uses it: the external one named by
    /// `WORKROOM_TEST_NATS_URL`, else a new process. `None`: not available, test skipped
    /// (never under CI, where it panics).
    pub async fn start() -> Option<NatsServer> {
        if let Ok(url) = std::env::var("WORKROOM_TEST_NATS_URL") {
            let rest = url
                .strip_prefix("nats://")
                .unwrap_or_else(|| panic!("WORKROOM_TEST_NATS_URL must be nats://host:port"));
            let (host, port) = rest
                .rsplit_once(':')
                .unwrap_or_else(|| panic!("WORKROOM_TEST_NATS_URL must name a port: {url}"));
            let port: u16 = port
                .parse()
                .unwrap_or_else(|_| panic!("WORKROOM_TEST_NATS_URL: bad port in {url}"));
            let server = NatsServer {
                port,
                host: host.to_string(),
                own: None,
            };
            if !server.accepts() {
                return missing(&format!("no NATS answers at WORKROOM_TEST_NATS_URL={url}"));
            }
            return Some(server);
        }
        Self::start_own().await
    }

    /// A new `nats-server` process of this test's own (which it may stop and start).
    pub async fn start_own() -> Option<NatsServer> {
        let Some(bin) = nats_bin() else {
            return missing(
                "this test needs a real NATS server: install Debian's nats-server (`.ci/nats.sh` \
                 does) or set WORKROOM_TEST_NATS_BIN or WORKROOM_TEST_NATS_URL",
            );
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("nats.log");
        let mut server = NatsServer {
            port: free_port(),
            host: "127.0.0.1".into(),
            own: Some(Own {
                bin,
                log,
                _dir: dir,
                child: None,
            }),
        };
        server.start_again().await;
        Some(server)
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://{}:{}", self.host, self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether something accepts connections on the port.
    pub fn accepts(&self) -> bool {
        let addr = format!("{}:{}", self.host, self.port);
        match addr.parse() {
            Ok(addr) => TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok(),
            Err(_) => TcpStream::connect(&addr).is_ok(),
        }
    }

    fn own(&mut self) -> &mut Own {
        self.own
            .as_mut()
            .expect("an external NATS server (WORKROOM_TEST_NATS_URL) cannot be stopped or started")
    }

    /// Whether this test's own process is running.
    pub fn is_running(&mut self) -> bool {
        let own = self.own();
        match own.child.as_mut() {
            Some(child) => child.try_wait().ok().flatten().is_none(),
            None => false,
        }
    }

    /// Start the process (again) on the same port and wait until the port accepts.
    pub async fn start_again(&mut self) {
        let port = self.port;
        let (bin, log) = {
            let own = self.own();
            assert!(own.child.is_none(), "NATS is already running");
            (own.bin.clone(), own.log.clone())
        };
        let deadline = Instant::now() + START_LIMIT;
        loop {
            let log_file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
                .expect("NATS log file");
            let mut child = Command::new(&bin)
                .args(["-a", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(log_file)
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
            // Up once the port accepts and our process is the one alive on it.
            let exited = loop {
                if let Ok(Some(status)) = child.try_wait() {
                    break Some(status);
                }
                if self.accepts() {
                    break None;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "nats-server did not accept connections on port {port} within {START_LIMIT:?}:\n{}",
                        self.log_tail(20)
                    );
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            // Another process may hold the port (a stop's leftovers, a stranger): ours must
            // still be alive once the port answers.
            let exited = match exited {
                None => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    child.try_wait().ok().flatten()
                }
                some => some,
            };
            match exited {
                None => {
                    self.own().child = Some(child);
                    return;
                }
                // The port may still be held for a moment after a stop: try again.
                Some(status) => {
                    assert!(
                        Instant::now() < deadline,
                        "nats-server exited ({status}) instead of starting on port {port}:\n{}",
                        self.log_tail(20)
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    /// Stop gracefully (SIGTERM) and wait for the process to exit and the port to close.
    pub async fn stop(&mut self) {
        let pid = self.own().child.as_ref().map(Child::id);
        if let Some(pid) = pid {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        self.reap(Duration::from_secs(10)).await;
    }

    /// `kill -9`: an abrupt outage (connections cut, nothing said to clients).
    pub async fn kill(&mut self) {
        if let Some(child) = self.own().child.as_mut() {
            let _ = child.kill();
        }
        self.reap(Duration::from_secs(10)).await;
    }

    async fn reap(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        if let Some(mut child) = self.own().child.take() {
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let _ = child.wait();
        }
        while self.accepts() {
            assert!(
                Instant::now() < deadline,
                "port {} still accepts after NATS stopped",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The last `lines` lines of the server's log (empty for an external server).
    pub fn log_tail(&self, lines: usize) -> String {
        let Some(own) = &self.own else {
            return String::new();
        };
        let text = std::fs::read_to_string(&own.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(own) = self.own.as_mut()
            && let Some(mut child) = own.child.take()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
