//! The S3 server under faults: stopped (killed; the port refuses connections) and hung
//! (`SIGSTOP`: connections are accepted by the kernel and never answered), under load, then
//! back. Messaging must not notice; every upload, of any size, gets an answer with a SPEC
//! body within `files.s3.timeout_secs` (and at once once the health check has seen the
//! store down); downloads end within the same bound; everything works again when the store
//! returns, without a restart.
//!
//! Each case runs its own s3s-fs (`WORKROOM_FAULT_S3S_BIN`; `.ci/run` builds and caches it),
//! so it can stop it at will.

use crate::ledger::{Ledger, assert_none};
use crate::load::{Load, Plan, What, describe};
use crate::node::{Node, free_port, signal};
use crate::scenario::{always, promises_kept, retry_and_settle, slower_than, tally, wait_for};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use workroom_server::config::Config;

/// `files.s3.timeout_secs` in these cases.
const S3_TIMEOUT_SECS: u64 = 3;

/// A real S3-compatible server of our own.
struct S3Server {
    bin: String,
    data: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl S3Server {
    const ACCESS: &'static str = "fault-access-key";
    const SECRET: &'static str = "fault-secret-key-0123456789";

    async fn start() -> S3Server {
        let bin = std::env::var("WORKROOM_FAULT_S3S_BIN").unwrap_or_else(|_| {
            panic!(
                "this case stops an S3 server: set WORKROOM_FAULT_S3S_BIN to an s3s-fs binary \
                 (.ci/run builds one)"
            )
        });
        let mut server = S3Server {
            bin,
            data: tempfile::tempdir().expect("S3 data dir"),
            port: free_port(),
            child: None,
        };
        server.run().await;
        server
    }

    /// Start the process (again) on the same port and data, and wait until it listens.
    async fn run(&mut self) {
        let child = Command::new(&self.bin)
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", Self::ACCESS, "--secret-key", Self::SECRET])
            .arg(self.data.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.bin));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "s3s-fs did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            signal(child.id(), "CONT");
        }
        self.kill();
    }
}

/// A node on SQLite whose files go to a fresh bucket on `s3`.
async fn node_on(s3: &S3Server, data: &std::path::Path, logs: &std::path::Path) -> Node {
    let mut config = Config::default();
    let target = workroom_tests::S3Target {
        endpoint: s3.endpoint(),
        access_key: S3Server::ACCESS.into(),
        secret_key: S3Server::SECRET.into(),
    };
    workroom_tests::use_s3(&mut config, &target).await;
    let timeout = S3_TIMEOUT_SECS.to_string();
    Node::start(
        data,
        logs,
        None,
        &[
            ("WORKROOM_FILES__BACKEND", "s3"),
            ("WORKROOM_FILES__S3__BUCKET", &config.files.s3.bucket),
            ("WORKROOM_FILES__S3__ENDPOINT", &target.endpoint),
            ("WORKROOM_FILES__S3__PATH_STYLE", "true"),
            ("WORKROOM_FILES__S3__ACCESS_KEY_ID", S3Server::ACCESS),
            ("WORKROOM_FILES__S3__SECRET_ACCESS_KEY", S3Server::SECRET),
            ("WORKROOM_FILES__S3__TIMEOUT_SECS", &timeout),
        ],
    )
    .await
}

#[tokio::test]
#[ignore = "fault injection: stops an S3 server; run by .ci/run"]
async fn the_s3_server_stopped_under_load_leaves_messaging_alone_and_uploads_answered() {
    store_fault(
        "stopped (killed)",
        false,
        |s3| s3.kill(),
        |s3| Box::pin(s3.run()),
    )
    .await;
}

#[tokio::test]
#[ignore = "fault injection: stops an S3 server; run by .ci/run"]
async fn the_s3_server_hung_under_load_leaves_messaging_alone_and_uploads_answered() {
    store_fault(
        "hung (SIGSTOP)",
        true,
        |s3| signal(s3.pid(), "STOP"),
        |s3| {
            signal(s3.pid(), "CONT");
            Box::pin(async {})
        },
    )
    .await;
}

type Resume<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + 'a>>;

/// `stalls`: the store may stop in the middle of a download's body, which is then cut off
/// (a store that refuses connections answers every download with `503`).
async fn store_fault(
    name: &str,
    stalls: bool,
    break_it: impl FnOnce(&mut S3Server),
    mend_it: impl for<'a> FnOnce(&'a mut S3Server) -> Resume<'a>,
) {
    let mut s3 = S3Server::start().await;
    let logs = tempfile::tempdir().expect("log dir");
    let data = tempfile::tempdir().expect("data dir");
    let node = node_on(&s3, data.path(), logs.path()).await;
    let room = node.accept_bid("s3-1").await.expect("a workroom");
    let rooms = vec![room];
    let ledger = Arc::new(Ledger::default());
    let load = Load::start(
        &node,
        &ledger,
        &Plan {
            rooms: rooms.clone(),
            senders: 2,
            send_every: Duration::from_millis(20),
            body_bytes: 1024,
            uploads: Some((Duration::from_millis(200), 64 * 1024)),
            large_uploads: Some((Duration::from_millis(700), 12 * 1024 * 1024)),
            bids: Some(Duration::from_millis(500)),
            connects: Some(Duration::from_millis(500)),
            downloads: Some(Duration::from_millis(300)),
        },
    );
    let seen = load.seen.clone();
    wait_for(
        &seen,
        Instant::now(),
        Duration::from_secs(30),
        &node,
        "a stored upload before the fault",
        |w| matches!(w, What::UploadStored),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let broken_at = Instant::now();
    break_it(&mut s3);
    let noticed = wait_for(
        &seen,
        broken_at,
        Duration::from_secs(10),
        &node,
        "/readyz naming the object store down",
        |w| matches!(w, What::Ready(_, store) if store == "down"),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(6)).await;

    let mended_at = Instant::now();
    mend_it(&mut s3).await;
    let recovered = wait_for(
        &seen,
        mended_at,
        Duration::from_secs(30),
        &node,
        "a stored upload after the store came back",
        |w| matches!(w, What::UploadStored),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ended_at = Instant::now();
    let seen = load.stop().await;

    let during = seen.between(broken_at, mended_at);
    println!(
        "FAULT S3 {name} for {} ms under load; clients saw:\n{}\n  /readyz named the store \
         down after {} ms (and stayed 200); recovery after the store came back: first stored \
         upload after {} ms",
        (mended_at - broken_at).as_millis(),
        describe(&during),
        (noticed.at - broken_at).as_millis(),
        (recovered.at - mended_at).as_millis(),
    );
    let mut problems = always(&seen.between(broken_at, ended_at), true);
    let answer_bound = Duration::from_secs(S3_TIMEOUT_SECS + 2);
    for o in &during {
        match &o.what {
            What::SendRefused(code) => problems.push(format!("a send was refused: {code}")),
            What::SendLost(why) => problems.push(format!("a send got no reply: {why}")),
            What::Ready(status, _) if *status != 200 => {
                problems.push(format!("/readyz said {status}: messaging still works"));
            }
            What::DownloadBroken(why) if !stalls => {
                problems.push(format!("a download broke off instead of a 503: {why}"));
            }
            _ => {}
        }
    }
    for (what, limit, matches) in [
        (
            "an acknowledged send",
            Duration::from_secs(1),
            (|w: &What| matches!(w, What::SendAcked)) as fn(&What) -> bool,
        ),
        ("a refused upload", answer_bound, |w: &What| {
            matches!(w, What::UploadRefused(..))
        }),
        ("a refused download", answer_bound, |w: &What| {
            matches!(w, What::DownloadRefused(_))
        }),
        ("a broken-off download", answer_bound, |w: &What| {
            matches!(w, What::DownloadBroken(_))
        }),
    ] {
        if let Some(slow) = slower_than(&during, limit, what, matches) {
            problems.push(slow);
        }
    }
    if !during
        .iter()
        .any(|o| matches!(&o.what, What::UploadRefused(503, code) if code == "unavailable"))
    {
        problems
            .push("no upload was refused with 503 `unavailable` while the store was down".into());
    }
    problems.extend(promises_kept(&ledger, &node, &rooms, false).await);
    assert_none(&format!("S3 {name}"), &problems, &node);
    let retried = retry_and_settle(&ledger, &node, &rooms, false).await;
    println!("{}", tally(&ledger, retried));
}
