//! A running server as the benchmark binaries see it: an HTTPS client that trusts the
//! server's dev certificate, tokens minted with its dev key, and workrooms opened the way
//! the marketplace opens them (a bid accepted). Shared so each benchmark measures its own
//! path and not a copy of the setup.

use anyhow::{Context, bail};
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;
use workroom_client::HttpClient;
use workroom_client::ws::{ConnectOptions, Connection};
use workroom_protocol::{Role, ServerFrame};
use workroom_server::auth::DevKey;
use workroom_server::config::{CliOverrides, Config};

/// The server a benchmark measures, as named on its command line (flatten into the args):
/// its configuration, data dir and address.
#[derive(Debug, clap::Args)]
pub struct ServerConfigArgs {
    /// The server's configuration file (data dir, database, file backend).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The server's data dir (dev key, dev certificate), when not in the config.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Where the server listens (`host:port`).
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub addr: String,
}

impl ServerConfigArgs {
    /// The server's configuration, read the way `workroom serve` reads it.
    pub fn load(&self) -> anyhow::Result<Config> {
        Ok(Config::load(
            self.config.as_deref(),
            &CliOverrides {
                listen: None,
                data_dir: self.data_dir.clone(),
            },
        )?)
    }
}

/// The server under measurement, reached on `addr` (`host:port`).
pub struct BenchTarget {
    pub http: HttpClient,
    addr: String,
    tls: std::sync::Arc<rustls::ClientConfig>,
    key: DevKey,
    issuer: String,
    audience: String,
}

/// A workroom opened for a benchmark, with its two parties.
pub struct BenchRoom {
    pub room: String,
    /// The accepted bid it was opened for (ending the contract names it).
    pub bid: String,
    pub client: String,
    pub contractor: String,
}

impl BenchTarget {
    /// Connect to the server whose data dir (dev certificate and dev key) `config` names.
    pub fn connect(config: &Config, addr: &str) -> anyhow::Result<BenchTarget> {
        let pem = std::fs::read(config.data_dir.join("tls/cert.pem")).context("dev certificate")?;
        let tls = workroom_client::client_config(&pem)?;
        let port = addr.rsplit(':').next().unwrap_or("8443");
        Ok(BenchTarget {
            http: HttpClient::new(&format!("https://localhost:{port}"), tls.clone())?,
            addr: format!("localhost:{port}"),
            tls,
            key: DevKey::load(&config.data_dir)?,
            issuer: config.auth.issuer.clone(),
            audience: config.auth.audience.clone(),
        })
    }

    /// A six-hour token for `sub`; bots act for `acts_for`.
    pub fn mint(&self, sub: &str, role: Role, acts_for: Option<&str>) -> anyhow::Result<String> {
        Ok(self.key.mint(
            &self.issuer,
            &self.audience,
            sub,
            role,
            None,
            acts_for,
            6 * 3600,
            workroom_storage::Clock::system().now_secs(),
        )?)
    }

    /// Open a fresh workroom between a new client and a new contractor.
    pub async fn open_room(&self) -> anyhow::Result<BenchRoom> {
        let tag = uuid::Uuid::now_v7().simple().to_string();
        let (client, contractor) = (format!("bc-{tag}"), format!("bk-{tag}"));
        let response = self
            .http
            .post(
                &format!("/v1/marketplace/bids/bb-{tag}/accept"),
                &self.mint("bench-marketplace", Role::Service, None)?,
            )
            .json(&json!({
                "project": format!("bp-{tag}"),
                "client": {"user": client, "account": format!("bca-{tag}"), "name": "C", "email": "c@example.com"},
                "contractor": {"user": contractor, "account": format!("bka-{tag}"), "name": "K", "email": "k@example.com"},
            }))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("accept failed: {}", response.status());
        }
        let created: serde_json::Value = response.json().await?;
        let room = created["room"].as_str().context("room")?.to_string();
        Ok(BenchRoom {
            room,
            bid: format!("bb-{tag}"),
            client,
            contractor,
        })
    }
}

impl BenchTarget {
    /// Fill `room` with `messages` messages through the real send path: one pipelined
    /// connection per party (64 unacknowledged each), `label` in every body.
    pub async fn fill(&self, room: &BenchRoom, messages: usize, label: &str) -> anyhow::Result<()> {
        let mut senders = Vec::new();
        for user in [room.client.clone(), room.contractor.clone()] {
            let options = ConnectOptions {
                url: format!("wss://{}/v1/ws", self.addr),
                tls: self.tls.clone(),
                token: Some(self.mint(&user, Role::Member, None)?),
                origin: None,
            };
            let (room_id, label) = (room.room.clone(), label.to_string());
            let count = messages / 2;
            senders.push(tokio::spawn(async move {
                send_pipelined(options, room_id, user, count, label).await
            }));
        }
        for sender in senders {
            sender.await??;
        }
        Ok(())
    }

    /// Upload `count` incompressible files of `size` bytes into `room` as its client.
    pub async fn upload_files(
        &self,
        room: &BenchRoom,
        count: usize,
        size: u64,
    ) -> anyhow::Result<()> {
        let token = self.mint(&room.client, Role::Member, None)?;
        for i in 0..count {
            let bytes = incompressible_from(i as u64, usize::try_from(size)?);
            let response = self
                .http
                .post(
                    &format!("/v1/rooms/{}/files?name=f{i}.bin", room.room),
                    &token,
                )
                .body(bytes)
                .send()
                .await?;
            if response.status().as_u16() != 201 {
                bail!("upload refused: {}", response.status());
            }
        }
        Ok(())
    }
}

/// Send `count` messages, keeping up to 64 unacknowledged.
async fn send_pipelined(
    options: ConnectOptions,
    room: String,
    user: String,
    count: usize,
    label: String,
) -> anyhow::Result<()> {
    let mut conn = Connection::connect(&options).await?;
    conn.next(Duration::from_secs(10)).await?;
    let (mut sent, mut acked) = (0, 0);
    while acked < count {
        while sent < count && sent - acked < 64 {
            let frame = json!({"type": "send", "id": format!("s{sent}"), "room": room,
                "client_msg_id": format!("{user}-{sent}"), "body": format!("{label} message {sent} of {user}")});
            conn.send_text(&frame.to_string()).await?;
            sent += 1;
        }
        match conn.next(Duration::from_secs(60)).await? {
            ServerFrame::Ack { .. } => acked += 1,
            ServerFrame::Error { message, .. } => bail!("send refused: {message}"),
            _ => {}
        }
    }
    Ok(())
}

/// `size` bytes that do not compress (xorshift), like an encoded image or an archive.
pub fn incompressible(size: usize) -> Vec<u8> {
    incompressible_from(0, size)
}

/// [`incompressible`] bytes of their own for each `seed`.
pub fn incompressible_from(seed: u64, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 8);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ seed.wrapping_mul(0x2545_F491_4F6C_DD1D);
    while out.len() < size {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(size);
    out
}

/// Parse a size: bytes, or with a `KiB`, `MiB` or `GiB` suffix.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let (number, scale) = if let Some(n) = text.strip_suffix("GiB") {
        (n, 1 << 30)
    } else if let Some(n) = text.strip_suffix("MiB") {
        (n, 1 << 20)
    } else if let Some(n) = text.strip_suffix("KiB") {
        (n, 1 << 10)
    } else {
        (text, 1)
    };
    number
        .parse::<u64>()
        .map(|n| n * scale)
        .map_err(|_| format!("`{text}` is not a size like 100MiB"))
}
