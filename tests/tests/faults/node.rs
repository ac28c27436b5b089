//! The server under test as an operator runs it: the real binary in a process of its own,
//! so that it can be killed with SIGKILL and started again on the same data, with its log
//! in a file outside the data dir (which may be the disk being filled).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use workroom_client::HttpClient;
use workroom_client::ws::ConnectOptions;
use workroom_protocol::Role;
use workroom_server::auth::DevKey;

const BIN: &str = env!("CARGO_BIN_EXE_workroom-under-test");

/// A free TCP port on loopback.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One server process. Reaching it is its [`Endpoint`]'s job (`Deref`).
pub(crate) struct Node {
    pub(crate) data_dir: PathBuf,
    pub(crate) database_url: Option<String>,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
    endpoint: Endpoint,
}

/// How clients reach a node: its port, the certificate to trust, tokens from its dev key.
/// Cheap to clone into the load's tasks.
#[derive(Clone)]
pub(crate) struct Endpoint {
    pub(crate) port: u16,
    pub(crate) tls: Arc<rustls::ClientConfig>,
    pub(crate) http: HttpClient,
    dev_key: DevKey,
}

impl std::ops::Deref for Node {
    type Target = Endpoint;
    fn deref(&self) -> &Endpoint {
        &self.endpoint
    }
}

impl Node {
    /// Start the binary on `data_dir` (created on first run) and wait until it is ready.
    /// `env` adds `WORKROOM_*` settings; `log_dir` receives `server.log`.
    pub(crate) async fn start(
        data_dir: &Path,
        log_dir: &Path,
        database_url: Option<String>,
        env: &[(&str, &str)],
    ) -> Node {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let port = free_port();
        let log = log_dir.join("server.log");
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let child = spawn(data_dir, port, &database_url, &env, &log);
        let cert = data_dir.join("tls/cert.pem");
        let deadline = Instant::now() + Duration::from_secs(60);
        let pem = loop {
            if let Ok(pem) = std::fs::read(&cert) {
                break pem;
            }
            assert!(Instant::now() < deadline, "the server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let tls = workroom_client::client_config(&pem).expect("client TLS");
        let http =
            HttpClient::new(&format!("https://localhost:{port}"), tls.clone()).expect("http");
        let dev_key = DevKey::load(data_dir).expect("dev key");
        let node = Node {
            data_dir: data_dir.to_path_buf(),
            database_url,
            env,
            log,
            child: Some(child),
            endpoint: Endpoint {
                port,
                tls,
                http,
                dev_key,
            },
        };
        node.wait_ready().await;
        node
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, _)) = self.readyz().await {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not become ready:\n{}",
                self.log_tail(40)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `kill -9`: no drain, no final commit.
    pub(crate) fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait for the process to drain and exit.
    pub(crate) async fn terminate(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), "TERM");
            let deadline = Instant::now() + Duration::from_secs(60);
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = child.wait();
        }
    }

    /// Start the process again on the same data dir and port; wait until it is ready.
    pub(crate) async fn restart(&mut self) {
        assert!(self.child.is_none(), "stop the node first");
        self.child = Some(spawn(
            &self.data_dir,
            self.port,
            &self.database_url,
            &self.env,
            &self.log,
        ));
        self.wait_ready().await;
    }

    /// `workroom audit verify` against this node's data: its output, or why it failed.
    pub(crate) fn audit_verify(&self) -> Result<String, String> {
        let mut command = Command::new(BIN);
        command
            .args(["audit", "verify", "--data-dir"])
            .arg(&self.data_dir);
        if let Some(url) = &self.database_url {
            command.env("WORKROOM_DATABASE_URL", url);
            command.envs(workroom_tests::shared_secrets_env(&self.data_dir));
        }
        let out = command.output().map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            Ok(text)
        } else {
            Err(text)
        }
    }

    /// A raw connection to this node's database.
    pub(crate) async fn raw_db(&self) -> sea_orm::DatabaseConnection {
        let url = self
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite:{}", self.data_dir.join("workroom.db").display()));
        sea_orm::Database::connect(url)
            .await
            .expect("raw database connection")
    }

    /// The last `lines` lines of the server's log.
    pub(crate) fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Log lines containing `needle`.
    pub(crate) fn log_lines(&self, needle: &str) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_string)
            .collect()
    }
}

impl Endpoint {
    pub(crate) fn token(&self, sub: &str, role: Role) -> String {
        let acts_for = (role == Role::Bot).then_some(sub);
        self.dev_key
            .mint(
                "workroom-dev",
                "workroom",
                sub,
                role,
                None,
                acts_for,
                7200,
                workroom_storage::Clock::system().now_secs(),
            )
            .expect("mint")
    }

    pub(crate) fn ws(&self, user: &str) -> ConnectOptions {
        ConnectOptions {
            url: format!("wss://localhost:{}/v1/ws", self.port),
            tls: self.tls.clone(),
            token: Some(self.token(user, Role::Member)),
            origin: None,
        }
    }

    /// `/readyz`: status and body, or why it did not answer within a second.
    pub(crate) async fn readyz(&self) -> Result<(u16, Value), String> {
        let request = self.http.inner.get(self.http.url("/readyz")).send();
        match tokio::time::timeout(Duration::from_secs(1), request).await {
            Err(_) => Err("no answer within 1 s".into()),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(response)) => {
                let status = response.status().as_u16();
                let body = response.json().await.unwrap_or(Value::Null);
                Ok((status, body))
            }
        }
    }

    /// Accept bid `bid` between u1 and u2 (a new workroom per bid): the room id, or the
    /// status and body of the refusal.
    pub(crate) async fn accept_bid(&self, bid: &str) -> Result<String, String> {
        let body = serde_json::json!({
            "project": format!("p-{bid}"),
            "client": {"user": "u1", "account": "acct-u1", "name": "Client One", "email": "u1@example.com"},
            "contractor": {"user": "u2", "account": "acct-u2", "name": "Contractor Two", "email": "u2@example.com"},
        });
        let request = self
            .http
            .post(
                &format!("/v1/marketplace/bids/{bid}/accept"),
                &self.token("marketplace", Role::Service),
            )
            .json(&body)
            .send();
        match tokio::time::timeout(Duration::from_secs(30), request).await {
            Err(_) => Err("no answer within 30 s".into()),
            Ok(Err(e)) => Err(format!("transport: {e}")),
            Ok(Ok(response)) => {
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                if status == 200 || status == 201 {
                    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    Ok(body["room"].as_str().unwrap_or_default().to_string())
                } else {
                    Err(format!("{status} {text}"))
                }
            }
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn spawn(
    data_dir: &Path,
    port: u16,
    database_url: &Option<String>,
    env: &[(String, String)],
    log: &Path,
) -> Child {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--data-dir"])
        .arg(data_dir)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("WORKROOM_LOG__FILTER", "info")
        .stdout(Stdio::null())
        .stderr(log_file);
    if let Some(url) = database_url {
        command.env("WORKROOM_DATABASE_URL", url);
        // PostgreSQL refuses to start without the shared secrets: made on the first start.
        command.envs(workroom_tests::shared_secrets_env(data_dir));
    }
    // The load is the point here: the rate limits would refuse part of it.
    for (key, value) in workroom_tests::UNLIMITED_RATES_ENV {
        command.env(key, value);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    command.spawn().expect("spawn the server")
}

/// Send `SIG<name>` to `pid`.
pub(crate) fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{name} {pid} failed");
}
