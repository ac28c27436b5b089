//! The integration harness: a real server on an ephemeral port (TLS with a throwaway dev
//! certificate, SQLite in a temp dir or a fresh PostgreSQL database), and real WSS/HTTPS
//! clients that trust exactly that certificate.
//!
//! Backend choice: `WORKROOM_TEST_BACKEND=postgres` with `WORKROOM_TEST_POSTGRES_URL` (an
//! admin URL; each server gets its own new database). When `CI` is set and PostgreSQL was
//! asked for but is unreachable, tests fail rather than skip.
//!
//! File backend choice: `WORKROOM_TEST_FILES=s3` with `WORKROOM_TEST_S3_ENDPOINT`,
//! `WORKROOM_TEST_S3_ACCESS_KEY` and `WORKROOM_TEST_S3_SECRET_KEY` (a real S3-compatible
//! server; each test server gets its own new bucket). Tests that only make sense on S3 are
//! `#[ignore]`d with a reason and run by `.ci/run` with `--include-ignored`; asked for S3
//! without a reachable store, they fail.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use workroom_client::ws::ConnectOptions;
use workroom_client::{Connection, HttpClient};
use workroom_protocol::frames::RoomSummary;
use workroom_protocol::http::RoomCreated;
use workroom_protocol::{ClientFrame, ClientMsgId, Role, RoomId, ServerFrame};
use workroom_server::auth::DevKey;
use workroom_server::config::Config;
use workroom_storage::{Clock, ClockControl};

pub mod bench_target;
pub mod cluster;
pub mod nats;

pub use workroom_client;
pub use workroom_protocol;
pub use workroom_server;

/// How long a test waits for any one expected frame.
pub const WAIT: Duration = Duration::from_secs(10);

/// Which database the suite runs against.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("WORKROOM_TEST_BACKEND").as_deref() {
        Ok("postgres") => match std::env::var("WORKROOM_TEST_POSTGRES_URL") {
            Ok(url) => Some(url),
            Err(_) => panic!(
                "WORKROOM_TEST_BACKEND=postgres needs WORKROOM_TEST_POSTGRES_URL (an admin URL)"
            ),
        },
        _ => None,
    }
}

/// The shared secrets a process on PostgreSQL needs, as `WORKROOM_*` environment variables
/// naming files in `<data_dir>/keys/` (where the single-node defaults would be); made on the
/// first call for that data dir, reused after (restarts).
pub fn shared_secrets_env(data_dir: &std::path::Path) -> Vec<(&'static str, String)> {
    use workroom_server::secrets::{AUDIT_KEY_FILE, LEGAL_KEY_FILE, MASTER_KEYS_FILE};
    let keys = data_dir.join("keys");
    if !keys.join(MASTER_KEYS_FILE).exists() {
        workroom_server::secrets::init(&keys).expect("shared secrets");
    }
    let path = |name: &str| keys.join(name).display().to_string();
    vec![
        ("WORKROOM_KEYS__MASTER_KEY_FILE", path(MASTER_KEYS_FILE)),
        ("WORKROOM_AUDIT__SIGNING_KEY_FILE", path(AUDIT_KEY_FILE)),
        ("WORKROOM_LEGAL__SIGNING_KEY_FILE", path(LEGAL_KEY_FILE)),
    ]
}

/// Create a fresh database on the PostgreSQL server and return its URL.
pub async fn fresh_postgres_database(admin_url: &str) -> String {
    use sea_orm::ConnectionTrait;
    let name = format!("wr_{}", uuid::Uuid::now_v7().simple());
    let admin = sea_orm::Database::connect(admin_url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at WORKROOM_TEST_POSTGRES_URL is unreachable: {e}"));
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    admin.close().await.ok();
    let (base, _) = admin_url
        .rsplit_once('/')
        .expect("admin URL ends in /dbname");
    format!("{base}/{name}")
}

/// An S3-compatible server to run the file suite against.
#[derive(Debug, Clone)]
pub struct S3Target {
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
}

/// The S3 target when `WORKROOM_TEST_FILES=s3`; panics when it is asked for but not named.
pub fn s3_target() -> Option<S3Target> {
    if std::env::var("WORKROOM_TEST_FILES").as_deref() != Ok("s3") {
        return None;
    }
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| panic!("WORKROOM_TEST_FILES=s3 needs {name}"))
    };
    Some(S3Target {
        endpoint: var("WORKROOM_TEST_S3_ENDPOINT"),
        access_key: var("WORKROOM_TEST_S3_ACCESS_KEY"),
        secret_key: var("WORKROOM_TEST_S3_SECRET_KEY"),
    })
}

/// For tests that need S3 itself: the target, or a failure naming what is missing.
pub fn require_s3() -> S3Target {
    s3_target().unwrap_or_else(|| {
        panic!(
            "this test needs a real S3-compatible server: set WORKROOM_TEST_FILES=s3 and \
             WORKROOM_TEST_S3_ENDPOINT/ACCESS_KEY/SECRET_KEY (`.ci/run` starts s3s-fs)"
        )
    })
}

/// Point `config` at a fresh bucket on `target` (created here).
pub async fn use_s3(config: &mut Config, target: &S3Target) {
    use workroom_server::config::{FileBackend, Secret};
    config.files.backend = FileBackend::S3;
    let s3 = &mut config.files.s3;
    s3.bucket = format!("wr-{}", uuid::Uuid::now_v7().simple());
    s3.endpoint = Some(target.endpoint.clone());
    s3.path_style = true;
    s3.access_key_id = Some(target.access_key.clone());
    s3.secret_access_key = Some(Secret::new(target.secret_key.clone()));
    s3.timeout_secs = 10;
    let store = workroom_server::blobs::open_blob_store(config)
        .await
        .expect("S3 client");
    let workroom_storage::blob::BlobStore::S3(s3_store) = &store else {
        unreachable!("configured for S3")
    };
    s3_store
        .ensure_bucket()
        .await
        .unwrap_or_else(|e| panic!("S3 at {} is unusable: {e}", target.endpoint));
}

/// Environment that lifts the per-connection and per-user rate limits for tests whose
/// load is the point (durability under faults, a send stream cut by `kill -9`): a client
/// that floods is exactly what the limits refuse.
pub const UNLIMITED_RATES_ENV: &[(&str, &str)] = &[
    (
        "WORKROOM_RATE_LIMITS__FRAMES_PER_CONNECTION__PER_SEC",
        "1000000",
    ),
    (
        "WORKROOM_RATE_LIMITS__FRAMES_PER_CONNECTION__BURST",
        "1000000",
    ),
    (
        "WORKROOM_RATE_LIMITS__WRITES_PER_CONNECTION__PER_SEC",
        "1000000",
    ),
    (
        "WORKROOM_RATE_LIMITS__WRITES_PER_CONNECTION__BURST",
        "1000000",
    ),
    ("WORKROOM_RATE_LIMITS__WRITES_PER_USER__PER_SEC", "1000000"),
    ("WORKROOM_RATE_LIMITS__WRITES_PER_USER__BURST", "1000000"),
    (
        "WORKROOM_RATE_LIMITS__HTTP_UPLOADS_PER_USER__PER_SEC",
        "1000000",
    ),
    (
        "WORKROOM_RATE_LIMITS__HTTP_UPLOADS_PER_USER__BURST",
        "1000000",
    ),
    (
        "WORKROOM_RATE_LIMITS__HTTP_WRITES_PER_USER__PER_SEC",
        "1000000",
    ),
    (
        "WORKROOM_RATE_LIMITS__HTTP_WRITES_PER_USER__BURST",
        "1000000",
    ),
    (
        "WORKROOM_RATE_LIMITS__HTTP_READS_PER_USER__PER_SEC",
        "1000000",
    ),
    (
        "WORKROOM_RATE_LIMITS__HTTP_READS_PER_USER__BURST",
        "1000000",
    ),
];

/// [`UNLIMITED_RATES_ENV`] for a server in this process.
pub fn unlimited_rates(config: &mut Config) {
    let lifted = workroom_server::config::RateConfig {
        per_sec: 1_000_000,
        burst: 1_000_000,
    };
    let limits = &mut config.rate_limits;
    limits.frames_per_connection = lifted;
    limits.writes_per_connection = lifted;
    limits.writes_per_user = lifted;
    limits.http_uploads_per_user = lifted;
    limits.http_writes_per_user = lifted;
    limits.http_reads_per_user = lifted;
}

/// A running server plus what a test needs to talk to it.
pub struct TestServer {
    pub addr: SocketAddr,
    pub config: Config,
    pub data_dir: tempfile::TempDir,
    pub tls: Arc<rustls::ClientConfig>,
    pub http: HttpClient,
    /// The server's clock: move it forward to let tokens, grants, links and retention run
    /// out instead of sleeping.
    pub clock: ClockControl,
    dev_key: DevKey,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Adjust the configuration before the server starts.
pub type Tweak = Box<dyn FnOnce(&mut Config) + Send>;

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(Box::new(|_| {})).await
    }

    pub async fn start_with(tweak: Tweak) -> TestServer {
        let (config, data_dir) = Self::prepare(tweak).await;
        Self::start_in(config, data_dir).await
    }

    /// The configuration `start_with` would use (fresh data dir, database and bucket), for
    /// tests that prepare the database before the server first starts.
    pub async fn prepare(tweak: Tweak) -> (Config, tempfile::TempDir) {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config {
            data_dir: data_dir.path().to_path_buf(),
            listen: "127.0.0.1:0".into(),
            ..Config::default()
        };
        config.log.filter = "warn".into();
        if let Some(admin) = postgres_admin_url() {
            config.database_url = Some(fresh_postgres_database(&admin).await);
            config.database.committers = 4;
            // PostgreSQL refuses to start without the shared secrets: made once per server,
            // where the single-node defaults would be (`start_sibling` copies them).
            workroom_server::secrets::init(&data_dir.path().join("keys"))
                .expect("shared secrets")
                .configure(&mut config);
        }
        if let Some(target) = s3_target() {
            use_s3(&mut config, &target).await;
        }
        tweak(&mut config);
        (config, data_dir)
    }

    /// Start on an existing data dir and config (restart tests).
    pub async fn start_in(config: Config, data_dir: tempfile::TempDir) -> TestServer {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        // The servers' log on stderr, when a failing run needs it (`WORKROOM_TEST_LOG=warn`).
        if let Ok(filter) = std::env::var("WORKROOM_TEST_LOG") {
            workroom_server::logging::init(&filter, false);
        }
        config.validate().expect("test config is valid");
        let listener = std::net::TcpListener::bind(config.listen_addr()).expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shutdown = CancellationToken::new();
        let (clock, control) = Clock::adjustable();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let task = {
            let config = config.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                let result =
                    workroom_server::server::run(listener, config, clock, shutdown, |_, _| {
                        let _ = ready_tx.send(());
                    })
                    .await;
                if let Err(e) = result {
                    eprintln!("test server failed: {e}");
                }
            })
        };
        ready_rx.await.expect("server became ready");
        let cert =
            (config.tls.cert_file.clone()).unwrap_or_else(|| data_dir.path().join("tls/cert.pem"));
        let pem = std::fs::read(cert).expect("the server's certificate");
        let tls = workroom_client::client_config(&pem).expect("tls config");
        let http = HttpClient::new(&format!("https://localhost:{}", addr.port()), tls.clone())
            .expect("http client");
        // With the dev key off (production keys configured) there is none in the data dir:
        // a throwaway one stands in, and what it signs is refused, as it should be.
        let dev_key = if config.auth.dev_key_on() {
            DevKey::load(data_dir.path()).expect("dev key")
        } else {
            let elsewhere = tempfile::tempdir().expect("temp dir");
            DevKey::load_or_create(elsewhere.path())
                .expect("throwaway key")
                .0
        };
        TestServer {
            addr,
            config,
            data_dir,
            tls,
            http,
            clock: control,
            dev_key,
            shutdown,
            task: Some(task),
        }
    }

    /// A second server process on the same database, as another node of a cluster: its own
    /// data dir and port, the same TLS certificate and the same keys (every node needs the
    /// same master keys, dev JWT key and audit signing key). Files must be on a shared store
    /// for file tests across both; this is for database-level tests.
    pub async fn start_sibling(&self) -> TestServer {
        let mut config = self.config.clone();
        config.listen = "127.0.0.1:0".into();
        let dir = tempfile::tempdir().expect("temp dir");
        if config.database_url.is_none() {
            config.database_url = Some(format!("sqlite:{}", self.config.sqlite_path().display()));
        }
        for sub in ["tls", "keys"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("dirs");
        }
        for file in [
            "tls/cert.pem",
            "tls/key.pem",
            "keys/dev-jwt.key",
            "keys/master.keys",
            "keys/audit-ed25519.pk8",
            "keys/legal-ed25519.pk8",
        ] {
            std::fs::copy(self.data_dir.path().join(file), dir.path().join(file))
                .unwrap_or_else(|e| panic!("copy {file}: {e}"));
        }
        // Shared secrets configured in this server's data dir: the sibling's copies.
        for path in [
            &mut config.keys.master_key_file,
            &mut config.audit.signing_key_file,
            &mut config.legal.signing_key_file,
        ]
        .into_iter()
        .flatten()
        {
            if let Ok(rest) = path.strip_prefix(self.data_dir.path()) {
                *path = dir.path().join(rest);
            }
        }
        config.data_dir = dir.path().to_path_buf();
        Self::start_in(config, dir).await
    }

    /// A raw connection to this server's database (for tampering tests).
    pub async fn raw_db(&self) -> sea_orm::DatabaseConnection {
        raw_db(&self.config).await
    }

    /// The object store this server writes file contents to (for fault injection).
    pub async fn blob_store(&self) -> workroom_storage::blob::BlobStore {
        workroom_server::blobs::open_blob_store(&self.config)
            .await
            .expect("object store")
    }

    /// `GET path` with a bearer token, as JSON (any status).
    pub async fn get_json(&self, token: &str, path: &str) -> serde_json::Value {
        self.http
            .get(path, token)
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("a JSON body")
    }

    /// `POST path` (no body) with a bearer token, as JSON (any status).
    pub async fn post_json(&self, token: &str, path: &str) -> serde_json::Value {
        self.http
            .post(path, token)
            .send()
            .await
            .expect("POST")
            .json()
            .await
            .expect("a JSON body")
    }

    /// Upload `bytes` as a file named `name` into `room`.
    pub async fn upload(
        &self,
        token: &str,
        room: &str,
        name: &str,
        content_type: Option<&str>,
        bytes: Vec<u8>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .post(
                &format!("/v1/rooms/{room}/files?name={}", percent_encode(name)),
                token,
            )
            .body(bytes);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.send().await.expect("upload request")
    }

    pub fn ws_url(&self) -> String {
        format!("wss://localhost:{}/v1/ws", self.addr.port())
    }

    /// A token signed with this server's dev key.
    pub fn token(&self, sub: &str, role: Role, account: Option<&str>) -> String {
        self.token_ttl(sub, role, account, 3600)
    }

    /// A token signed with this server's dev key; bot tokens act for `u2` (the contractor of
    /// most test rooms).
    pub fn token_ttl(&self, sub: &str, role: Role, account: Option<&str>, ttl: u64) -> String {
        let acts_for = (role == Role::Bot).then_some("u2");
        self.dev_key
            .mint(
                &self.config.auth.issuer,
                &self.config.auth.audience,
                sub,
                role,
                account,
                acts_for,
                ttl,
                self.clock.clock().now_secs(),
            )
            .expect("mint")
    }

    /// Sign arbitrary claims with this server's dev key (for expired or foreign tokens).
    pub fn sign(&self, claims: &workroom_protocol::Claims) -> String {
        self.dev_key.sign(claims).expect("sign")
    }

    /// Claims a valid member token would carry.
    pub fn claims(&self, sub: &str) -> workroom_protocol::Claims {
        let now = self.clock.clock().now_secs();
        workroom_protocol::Claims {
            sub: sub.to_string(),
            role: Role::Member,
            account: None,
            exp: now + 3600,
            iat: now,
            nbf: Some(now),
            iss: self.config.auth.issuer.clone(),
            aud: self.config.auth.audience.clone(),
            jti: uuid::Uuid::now_v7().simple().to_string(),
            acts_for: None,
        }
    }

    pub fn member(&self, user: &str) -> String {
        self.token(user, Role::Member, None)
    }

    pub fn service(&self) -> String {
        self.token("marketplace", Role::Service, None)
    }

    /// Accept a bid between `client` and `contractor` (user ids; accounts are `acct-<user>`).
    pub async fn open_room(
        &self,
        bid: &str,
        project: &str,
        client: &str,
        contractor: &str,
    ) -> RoomCreated {
        let body = serde_json::json!({
            "project": project,
            "client": {"user": client, "account": format!("acct-{client}"), "name": format!("Name {client}"), "email": format!("{client}@example.com")},
            "contractor": {"user": contractor, "account": format!("acct-{contractor}"), "name": format!("Name {contractor}"), "email": format!("{contractor}@example.com")},
        });
        let response = self
            .http
            .post(
                &format!("/v1/marketplace/bids/{bid}/accept"),
                &self.service(),
            )
            .json(&body)
            .send()
            .await
            .expect("accept bid");
        assert!(
            response.status().is_success(),
            "accept failed: {}",
            response.status()
        );
        response.json().await.expect("room created body")
    }

    /// Put `user` into the team account `account` with `role` (as the marketplace does).
    pub async fn put_account_member(&self, account: &str, user: &str, role: &str) {
        let response = self
            .http
            .put(
                &format!("/v1/marketplace/accounts/{account}/members/{user}"),
                &self.service(),
            )
            .json(&serde_json::json!({ "role": role }))
            .send()
            .await
            .expect("put account member");
        assert!(response.status().is_success(), "{}", response.status());
    }

    /// Take `user` out of the team account `account`.
    pub async fn remove_account_member(&self, account: &str, user: &str) {
        let response = self
            .http
            .delete(
                &format!("/v1/marketplace/accounts/{account}/members/{user}"),
                &self.service(),
            )
            .send()
            .await
            .expect("remove account member");
        assert!(response.status().is_success(), "{}", response.status());
    }

    /// End the contract of `bid`: its workroom becomes read-only.
    pub async fn end_contract(&self, bid: &str) {
        let response = self
            .http
            .post(&format!("/v1/marketplace/bids/{bid}/end"), &self.service())
            .send()
            .await
            .expect("end contract");
        assert!(response.status().is_success(), "{}", response.status());
    }

    /// Connect with a bearer token and read `hello`.
    pub async fn client(&self, user: &str) -> TestClient {
        TestClient::connect(self, Some(self.member(user)), None)
            .await
            .expect("connect")
    }

    pub async fn connect_raw(
        &self,
        token: Option<String>,
        origin: Option<String>,
    ) -> Result<Connection, workroom_client::WsError> {
        Connection::connect(&ConnectOptions {
            url: self.ws_url(),
            tls: self.tls.clone(),
            token,
            origin,
        })
        .await
    }

    /// Stop gracefully and wait.
    pub async fn stop(mut self) -> (Config, tempfile::TempDir) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
        }
        (self.config.clone(), tempfile_take(&mut self))
    }
}

fn tempfile_take(server: &mut TestServer) -> tempfile::TempDir {
    std::mem::replace(&mut server.data_dir, tempfile::tempdir().expect("temp dir"))
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A connected member with a little bookkeeping.
pub struct TestClient {
    pub conn: Connection,
    pub user: String,
    pub rooms: Vec<RoomSummary>,
    next_id: u64,
}

impl TestClient {
    pub async fn connect(
        server: &TestServer,
        token: Option<String>,
        origin: Option<String>,
    ) -> Result<TestClient, workroom_client::WsError> {
        let mut conn = server.connect_raw(token, origin).await?;
        match conn.next(WAIT).await? {
            ServerFrame::Hello { user, rooms } => Ok(TestClient {
                conn,
                user,
                rooms,
                next_id: 0,
            }),
            other => panic!("expected hello, got {other:?}"),
        }
    }

    pub fn room(&self, id: &str) -> Option<&RoomSummary> {
        self.rooms.iter().find(|r| r.id.as_str() == id)
    }

    fn id(&mut self) -> String {
        self.next_id += 1;
        format!("q{}", self.next_id)
    }

    /// Send a message and wait for its ack; other frames met on the way are dropped.
    pub async fn send(&mut self, room: &str, client_msg_id: &str, body: &str) -> ServerFrame {
        let id = self.id();
        self.conn
            .send(&ClientFrame::Send {
                id: Some(id.clone()),
                room: RoomId::try_from(room).expect("room id"),
                client_msg_id: ClientMsgId::try_from(client_msg_id.to_string()).expect("cmid"),
                body: body.to_string(),
                attachments: Vec::new(),
            })
            .await
            .expect("send");
        self.reply(&id).await
    }

    /// Send a message carrying files and wait for the reply.
    pub async fn send_with_files(
        &mut self,
        room: &str,
        client_msg_id: &str,
        body: &str,
        files: &[&str],
    ) -> ServerFrame {
        self.request(serde_json::json!({
            "type": "send",
            "room": room,
            "client_msg_id": client_msg_id,
            "body": body,
            "attachments": files,
        }))
        .await
    }

    /// Send any frame with a fresh id and wait for the reply carrying that id.
    pub async fn request(&mut self, mut frame: serde_json::Value) -> ServerFrame {
        let id = self.id();
        frame["id"] = serde_json::Value::String(id.clone());
        self.conn.send_text(&frame.to_string()).await.expect("send");
        self.reply(&id).await
    }

    /// The next frame whose `id` is `id`.
    pub async fn reply(&mut self, id: &str) -> ServerFrame {
        loop {
            let frame = self.conn.next(WAIT).await.expect("reply");
            if frame_id(&frame) == Some(id) {
                return frame;
            }
        }
    }

    /// The next frame matching `pred`, dropping others.
    pub async fn expect<F: Fn(&ServerFrame) -> bool>(&mut self, pred: F) -> ServerFrame {
        loop {
            let frame = self.conn.next(WAIT).await.expect("frame");
            if pred(&frame) {
                return frame;
            }
        }
    }

    /// Timeline frames (message/edited/deleted) of `room` until `count` are collected.
    pub async fn collect_events(&mut self, room: &str, count: usize) -> Vec<ServerFrame> {
        let mut out = Vec::new();
        while out.len() < count {
            let frame = self.conn.next(WAIT).await.expect("event");
            if event_seq(&frame, room).is_some() {
                out.push(frame);
            }
        }
        out
    }

    /// Resume `room` from `after` and return the frames that come before `resumed`.
    pub async fn resume(&mut self, room: &str, after: u64) -> Vec<ServerFrame> {
        self.conn
            .send_text(
                &serde_json::json!({"type": "resume", "id": "r", "rooms": {room: after}})
                    .to_string(),
            )
            .await
            .unwrap();
        let mut before = Vec::new();
        loop {
            match self.conn.next(WAIT).await.unwrap() {
                ServerFrame::Resumed { .. } => return before,
                other => before.push(other),
            }
        }
    }
}

/// A raw connection to the database `config` names.
pub async fn raw_db(config: &Config) -> sea_orm::DatabaseConnection {
    let url = config
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite:{}", config.sqlite_path().display()));
    sea_orm::Database::connect(url)
        .await
        .expect("raw database connection")
}

/// Open the earlier versions of `room`'s messages on a store the test opened itself, the
/// way the compliance record is always opened: the read is recorded in the audit trail
/// first (the store hands out the proof only for that record).
pub async fn compliance_read(
    store: &workroom_storage::Store,
    room: &str,
) -> workroom_storage::proof::GrantHistory {
    let mint = store.take_mint().expect("the store's mint is taken once");
    let room_id = workroom_protocol::RoomId::try_from(room).expect("a room id");
    let unrecorded = mint.grant_history(&room_id);
    let entry = workroom_storage::audit::NewAuditEntry::new(
        "test-inspector",
        "moderator",
        workroom_storage::audit::AuditAction::ModerationHistoryRead,
        room,
        workroom_protocol::Purpose::Moderation,
        serde_json::json!({ "inspection": "test" }),
    );
    let mut receipts = store.append_audit(&[entry]).await.expect("audit record");
    unrecorded.redeem(receipts.pop().expect("one receipt per entry"))
}

/// Wait until `check` yields something: it runs at once and then every 20 ms, for at most
/// `limit`; past that the test fails naming `what`. The one way tests wait for the server to
/// get somewhere (a background task, a batched writer, a process starting); time itself is
/// moved with [`TestServer::clock`], never waited for.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The SHA-256 of `bytes` in lowercase hex, as the server records a file's.
pub fn sha256_hex(bytes: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Percent-encode a query value (everything but unreserved URL characters).
pub fn percent_encode(value: &str) -> String {
    const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(value, QUERY_VALUE).to_string()
}

/// The `id` of a reply frame.
pub fn frame_id(frame: &ServerFrame) -> Option<&str> {
    match frame {
        ServerFrame::Ack { id, .. }
        | ServerFrame::Resumed { id, .. }
        | ServerFrame::History { id, .. }
        | ServerFrame::Read { id, .. }
        | ServerFrame::Members { id, .. }
        | ServerFrame::Pong { id }
        | ServerFrame::Watching { id, .. }
        | ServerFrame::WatchEnded { id, .. }
        | ServerFrame::Error { id, .. } => id.as_deref(),
        _ => None,
    }
}

/// The seq of a timeline frame of `room`.
pub fn event_seq(frame: &ServerFrame, room: &str) -> Option<u64> {
    match frame {
        ServerFrame::Message(m) if m.room.as_str() == room => Some(m.seq),
        ServerFrame::Edited { room: r, seq, .. } | ServerFrame::Deleted { room: r, seq, .. }
            if r.as_str() == room =>
        {
            Some(*seq)
        }
        _ => None,
    }
}
