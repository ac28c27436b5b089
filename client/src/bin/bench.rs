//! `bench`: the load tool. Opens authenticated WSS connections against a running server,
//! spreads them over workrooms of N members, sends at a set rate or flat out, and reports
//! acked messages/s, deliveries/s, send→delivery latency percentiles and the server's RSS.
//!
//! Two modes:
//! - `bench messages`: rooms × members connections, each sending (flat out with a window of
//!   unacknowledged sends, or at `--rate` messages/s in total).
//!   `--burst N` sends the same average rate in bursts of N.
//! - `bench fill`: grow the database by N messages through the server, to measure on a
//!   database that has grown.
//! - `bench idle`: N authenticated idle connections from source addresses 127.0.0.x, then
//!   the server's RSS per connection (and, with `--after-close`, after they closed).
//!
//! Tokens are signed with the server's dev key (`--data-dir`), rooms opened through the
//! marketplace service call, extra members added to the client's team account.
//!
//! Several nodes of one cluster (`--addr a,b,c`, sharing the dev key and certificate): member
//! `j` of room `i` connects to node `(i + j) mod nodes`, so with no more members than nodes
//! every member of a room is on a node of its own, and with more (4 members on 3 nodes)
//! members `j` and `j + nodes` share one. The latency percentiles then count only deliveries
//! from a sender on another node (the sender's node travels in the body); same-node pairs are
//! reported on a line of their own. Setup calls go round-robin to the nodes, as a load
//! balancer would send them.

use anyhow::{Context, bail};
use base64::Engine;
use clap::{Parser, Subcommand};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::json;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use workroom_client::HttpClient;
use workroom_protocol::{Claims, ErrorCode, Role, ServerFrame};

#[derive(Debug, Parser)]
struct Args {
    /// Server address (host:port), or the nodes of one cluster, comma-separated.
    #[arg(long, default_value = "127.0.0.1:8443", value_delimiter = ',')]
    addr: Vec<SocketAddr>,
    /// The server's data dir (dev key and dev certificate).
    #[arg(long, default_value = "./data")]
    data_dir: PathBuf,
    /// The server's pid (one per node, comma-separated), for RSS and CPU readings.
    #[arg(long, value_delimiter = ',')]
    server_pid: Vec<u32>,
    /// Another process whose CPU over the run is reported apart (the NATS server).
    #[arg(long)]
    bus_pid: Option<u32>,
    /// Prefix for ids, so repeated runs on one database do not collide.
    #[arg(long, default_value = "bench")]
    tag: String,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Message throughput and latency.
    Messages {
        #[arg(long, default_value_t = 200)]
        rooms: usize,
        /// Members per room (2..=6), one connection each.
        #[arg(long, default_value_t = 4)]
        members: usize,
        /// Seconds of sending.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Total messages per second; flat out when absent.
        #[arg(long)]
        rate: Option<u64>,
        /// With `--rate`: send in bursts of this many messages (over all connections), one
        /// burst every `burst / rate` seconds, each spread over `--burst-ms`. The same
        /// average rate as sent evenly, with the peaks a production server meets.
        #[arg(long, requires = "rate")]
        burst: Option<u64>,
        /// Milliseconds each burst is spread over.
        #[arg(long, default_value_t = 50, requires = "burst")]
        burst_ms: u64,
        /// Unacknowledged sends per connection when flat out.
        #[arg(long, default_value_t = 16)]
        window: usize,
        /// Message body size in bytes.
        #[arg(long, default_value_t = 100)]
        body: usize,
        /// Moderators paging history under grants as fast as they can while members send
        /// (each page is an audited read: one audit append), to measure what audit appends
        /// cost the message path.
        #[arg(long, default_value_t = 0)]
        moderators: usize,
        /// Members paging history the same way (not audited), to tell the cost of the
        /// reads from the cost of their audit records.
        #[arg(long, default_value_t = 0)]
        readers: usize,
        /// Total history pages per second over all readers; as fast as they can when absent.
        #[arg(long)]
        read_rate: Option<u64>,
    },
    /// Grow the database: `messages` messages sent flat out through the server (encrypted,
    /// ordered and audited like any other), so a benchmark can run against a database of a
    /// given size. Rooms of two members; the ids are tagged, so fill and measure can share a
    /// database.
    Fill {
        #[arg(long)]
        messages: u64,
        #[arg(long, default_value_t = 200)]
        rooms: usize,
        /// Unacknowledged sends per connection.
        #[arg(long, default_value_t = 16)]
        window: usize,
        /// Message body size in bytes.
        #[arg(long, default_value_t = 100)]
        body: usize,
    },
    /// Idle connection capacity and memory.
    Idle {
        #[arg(long, default_value_t = 15_000)]
        connections: usize,
        /// Connections per room (each user in its own room pair).
        #[arg(long, default_value_t = 4)]
        members: usize,
        /// Seconds to hold the connections before measuring.
        #[arg(long, default_value_t = 5)]
        hold: u64,
        /// Seconds to wait after closing them before reading the RSS again (does the
        /// server give the memory back?); 0 skips it.
        #[arg(long, default_value_t = 0)]
        after_close: u64,
    },
}

struct Ctx {
    /// The nodes, each with an HTTPS client.
    nodes: Vec<(SocketAddr, HttpClient)>,
    tls: Arc<rustls::ClientConfig>,
    key: Vec<u8>,
    tag: String,
    pids: Vec<u32>,
    bus_pid: Option<u32>,
}

impl Ctx {
    fn token(&self, sub: &str, role: Role) -> anyhow::Result<String> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: sub.to_string(),
            role,
            account: None,
            exp: now + 6 * 3600,
            iat: now,
            nbf: Some(now),
            iss: "workroom-dev".into(),
            aud: "workroom".into(),
            jti: uuid::Uuid::now_v7().simple().to_string(),
            acts_for: None,
        };
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some("dev".into());
        let key = jsonwebtoken::EncodingKey::from_secret(&self.key)?;
        Ok(jsonwebtoken::encode(&header, &claims, &key)?)
    }

    /// The HTTPS client of node `i` (modulo the number of nodes).
    fn http(&self, i: usize) -> &HttpClient {
        &self.nodes[i % self.nodes.len()].1
    }

    /// The servers' resident set sizes, summed.
    fn rss_kib(&self) -> Option<u64> {
        let mut sum = None;
        for pid in &self.pids {
            *sum.get_or_insert(0) += workroom_client::procfs::rss_kib(*pid)?;
        }
        sum
    }

    /// CPU seconds used so far by the servers (summed) and by the bus process.
    fn cpu_secs(&self) -> (Option<f64>, Option<f64>) {
        let servers = self.pids.iter().map(|pid| cpu_secs(*pid)).sum();
        let servers = if self.pids.is_empty() { None } else { servers };
        (servers, self.bus_pid.and_then(cpu_secs))
    }

    /// Open a room with `members` users; returns (room id, user ids).
    async fn open_room(
        &self,
        index: usize,
        members: usize,
    ) -> anyhow::Result<(String, Vec<String>)> {
        let service = self.token("bench-marketplace", Role::Service)?;
        let t = &self.tag;
        let client = format!("{t}-c{index}");
        let contractor = format!("{t}-k{index}");
        let body = json!({
            "project": format!("{t}-p{index}"),
            "client": {"user": client, "account": format!("{t}-ca{index}"), "name": "Client", "email": "client@example.com"},
            "contractor": {"user": contractor, "account": format!("{t}-ka{index}"), "name": "Contractor", "email": "contractor@example.com"},
        });
        let response = self
            .http(index)
            .post(
                &format!("/v1/marketplace/bids/{t}-b{index}/accept"),
                &service,
            )
            .json(&body)
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("accept failed: {}", response.status());
        }
        let created: serde_json::Value = response.json().await?;
        let room = created["room"].as_str().context("room id")?.to_string();
        let mut users = vec![client, contractor];
        for extra in 2..members {
            let user = format!("{t}-m{index}-{extra}");
            let response = self
                .http(index)
                .put(
                    &format!("/v1/marketplace/accounts/{t}-ca{index}/members/{user}"),
                    &service,
                )
                .json(&json!({"role": "member"}))
                .send()
                .await?;
            if !response.status().is_success() {
                bail!("add member failed: {}", response.status());
            }
            users.push(user);
        }
        Ok((room, users))
    }

    /// Connect `user` to node `node` (modulo the number of nodes).
    async fn connect(
        &self,
        user: &str,
        node: usize,
        source: Option<std::net::Ipv4Addr>,
    ) -> anyhow::Result<
        tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>,
    > {
        let socket = TcpSocket::new_v4()?;
        if let Some(ip) = source {
            socket.bind((ip, 0).into())?;
        }
        let addr = self.nodes[node % self.nodes.len()].0;
        let stream = socket.connect(addr).await?;
        stream.set_nodelay(true)?;
        let connector = tokio_rustls::TlsConnector::from(self.tls.clone());
        let tls = connector
            .connect(
                rustls::pki_types::ServerName::try_from("localhost")?,
                stream,
            )
            .await?;
        let mut request = format!("wss://localhost:{}/v1/ws", addr.port()).into_client_request()?;
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {}", self.token(user, Role::Member)?).parse()?,
        );
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0)
            .max_message_size(Some(1 << 20));
        let (ws, _) =
            tokio_tungstenite::client_async_with_config(request, tls, Some(config)).await?;
        Ok(ws)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let args = Args::parse();
    let pem =
        std::fs::read(args.data_dir.join("tls/cert.pem")).context("reading the dev certificate")?;
    let tls = workroom_client::client_config(&pem)?;
    let key = read_key(&args.data_dir)?;
    let nodes = args
        .addr
        .iter()
        .map(|addr| {
            let http = HttpClient::new(&format!("https://localhost:{}", addr.port()), tls.clone());
            Ok((*addr, http?))
        })
        .collect::<anyhow::Result<_>>()?;
    let ctx = Arc::new(Ctx {
        nodes,
        tls,
        key,
        tag: args.tag.clone(),
        pids: args.server_pid,
        bus_pid: args.bus_pid,
    });
    match args.mode {
        Mode::Messages {
            rooms,
            members,
            duration,
            rate,
            burst,
            burst_ms,
            window,
            body,
            moderators,
            readers,
            read_rate,
        } => {
            let pace = match (rate, burst) {
                (None, _) => Pace::FlatOut { window },
                (Some(rate), None) => Pace::Even { rate },
                (Some(rate), Some(burst)) => Pace::Bursts {
                    rate,
                    burst: burst.max(1),
                    spread: Duration::from_millis(burst_ms),
                },
            };
            messages(
                ctx,
                rooms,
                members.clamp(2, 6),
                duration,
                pace,
                body,
                (moderators, readers, read_rate),
            )
            .await
        }
        Mode::Fill {
            messages,
            rooms,
            window,
            body,
        } => fill(ctx, messages, rooms, window, body).await,
        Mode::Idle {
            connections,
            members,
            hold,
            after_close,
        } => idle(ctx, connections, members.clamp(2, 6), hold, after_close).await,
    }
}

fn read_key(data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    let text = std::fs::read_to_string(data_dir.join("keys/dev-jwt.key"))
        .context("reading the dev key")?;
    Ok(base64::engine::general_purpose::STANDARD.decode(text.trim())?)
}

/// Nanoseconds since the run's epoch, carried in message bodies for latency.
fn stamp(epoch: Instant) -> u64 {
    epoch.elapsed().as_nanos() as u64
}

/// The node member `member` of room `room` connects to.
fn node_of(room: usize, member: usize, nodes: usize) -> usize {
    (room + member) % nodes
}

/// User plus system CPU seconds of process `pid` so far (`/proc/PID/stat`, in the kernel's
/// USER_HZ of 100 ticks a second).
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name in parentheses: state is the first field, utime the 12th.
    let mut fields = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// The next text frame from the server, decoded; `None` once the connection ended.
async fn next_frame<S>(stream: &mut S) -> Option<serde_json::Result<ServerFrame>>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match stream.next().await? {
            Ok(Message::Text(text)) => return Some(serde_json::from_str(text.as_str())),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

/// How the connections send.
#[derive(Debug, Clone, Copy)]
enum Pace {
    /// As fast as acks come back, `window` unacknowledged sends per connection.
    FlatOut { window: usize },
    /// `rate` messages/s in total, evenly: send `k` of the run at `k / rate` s.
    Even { rate: u64 },
    /// `rate` messages/s on average, in bursts of `burst` sends spread over `spread`,
    /// one burst every `burst / rate` s.
    Bursts {
        rate: u64,
        burst: u64,
        spread: Duration,
    },
}

impl Pace {
    /// When send `k` of the whole run (over all connections) is due, after the start.
    /// Connection `c` of `n` sends `k = c, c + n, c + 2n, …`, so the offered load is open
    /// loop: a sender that falls behind sends at once rather than shifting its schedule.
    fn due(self, k: u64) -> Option<Duration> {
        match self {
            Pace::FlatOut { .. } => None,
            Pace::Even { rate } => Some(Duration::from_secs_f64(k as f64 / rate as f64)),
            Pace::Bursts {
                rate,
                burst,
                spread,
            } => {
                let period = Duration::from_secs_f64(burst as f64 / rate as f64);
                let within = spread.mul_f64((k % burst) as f64 / burst as f64);
                Some(period * (k / burst) as u32 + within)
            }
        }
    }

    fn describe(self) -> String {
        match self {
            Pace::FlatOut { window } => format!("flat out, window {window}"),
            Pace::Even { rate } => format!("rate {rate}/s"),
            Pace::Bursts {
                rate,
                burst,
                spread,
            } => format!(
                "rate {rate}/s in bursts of {burst} within {} ms every {} ms",
                spread.as_millis(),
                burst * 1000 / rate
            ),
        }
    }
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

async fn setup_rooms(
    ctx: &Arc<Ctx>,
    rooms: usize,
    members: usize,
) -> anyhow::Result<Vec<(String, Vec<String>)>> {
    let mut out = Vec::with_capacity(rooms);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..rooms {
        let ctx = ctx.clone();
        tasks.spawn(async move { ctx.open_room(i, members).await });
        if tasks.len() >= 16 {
            out.push(tasks.join_next().await.context("join")???);
        }
    }
    while let Some(r) = tasks.join_next().await {
        out.push(r??);
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
async fn messages(
    ctx: Arc<Ctx>,
    rooms: usize,
    members: usize,
    duration: u64,
    pace: Pace,
    body_size: usize,
    (moderators, readers, read_rate): (usize, usize, Option<u64>),
) -> anyhow::Result<()> {
    let setup = setup_rooms(&ctx, rooms, members).await?;
    // (token, path) of every history reader: moderators under grants, members in their rooms.
    let mut history_readers: Vec<(String, String)> = open_grants(&ctx, &setup, moderators)
        .await?
        .into_iter()
        .map(|(token, grant)| {
            (
                token,
                format!("/v1/moderation/grants/{grant}/messages?limit=50"),
            )
        })
        .collect();
    for (room, users) in setup.iter().cycle().take(readers) {
        history_readers.push((
            ctx.token(&users[0], Role::Member)?,
            format!("/v1/rooms/{room}/messages?limit=50"),
        ));
    }
    let connections = rooms * members;
    eprintln!("opened {rooms} rooms; connecting {connections} members");
    let epoch = Instant::now();
    let acked = Arc::new(AtomicU64::new(0));
    let delivered = Arc::new(AtomicU64::new(0));
    // Error frames by code, in `ErrorCode::ALL` order.
    let errors: Arc<Vec<AtomicU64>> =
        Arc::new(ErrorCode::ALL.iter().map(|_| AtomicU64::new(0)).collect());
    // Send→delivery latency: (sender on another node, sender on the same node). With one
    // node everything goes to the first, as before.
    let latency = Arc::new(std::sync::Mutex::new((new_histogram(), new_histogram())));
    let window = match pace {
        Pace::FlatOut { window } => window,
        _ => 0,
    };
    let nodes = ctx.nodes.len();
    let mut sockets = Vec::with_capacity(connections);
    for (i, (room, users)) in setup.into_iter().enumerate() {
        for (j, user) in users.into_iter().enumerate() {
            let node = node_of(i, j, nodes);
            let ws = ctx.connect(&user, node, None).await?;
            sockets.push((room.clone(), user, node, ws));
        }
    }
    let start_at = tokio::time::Instant::now() + Duration::from_secs(2);
    let stop_at = start_at + Duration::from_secs(duration);
    let mut tasks = tokio::task::JoinSet::new();
    let pages = Arc::new(AtomicU64::new(0));
    let reader_count = history_readers.len();
    let read_interval = read_rate.map(|r| Duration::from_secs_f64(reader_count as f64 / r as f64));
    for (i, (token, path)) in history_readers.into_iter().enumerate() {
        let (ctx, pages) = (ctx.clone(), pages.clone());
        tasks.spawn(async move {
            tokio::time::sleep_until(start_at).await;
            let mut pace = read_interval.map(|i| {
                let mut t = tokio::time::interval(i);
                t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                t
            });
            while tokio::time::Instant::now() < stop_at {
                if let Some(pace) = &mut pace {
                    pace.tick().await;
                }
                match ctx.http(i).get(&path, &token).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        pages.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        });
    }
    {
        for (index, (room, user, node, ws)) in sockets.into_iter().enumerate() {
            let (mut sink, mut stream) = ws.split();
            let (acked, delivered, errors, latency) = (
                acked.clone(),
                delivered.clone(),
                errors.clone(),
                latency.clone(),
            );
            let room = room.clone();
            let me = user.clone();
            tasks.spawn(async move {
                let credits = Arc::new(tokio::sync::Semaphore::new(window));
                let reader_credits = credits.clone();
                let me_reader = me.clone();
                let reader = tokio::spawn(async move {
                    let me = me_reader;
                    let (mut other, mut same) = (new_histogram(), new_histogram());
                    while let Some(frame) = next_frame(&mut stream).await {
                        match frame {
                            Ok(ServerFrame::Ack { .. }) => {
                                acked.fetch_add(1, Ordering::Relaxed);
                                reader_credits.add_permits(1);
                            }
                            Ok(ServerFrame::Message(m)) => {
                                delivered.fetch_add(1, Ordering::Relaxed);
                                let mut words = m.body.split(' ');
                                if m.sender != me
                                    && let Some(sent) = words.next().and_then(|t| t.parse::<u64>().ok())
                                {
                                    let micros = stamp(epoch).saturating_sub(sent) / 1000;
                                    let from = words.next().and_then(|t| t.parse::<usize>().ok());
                                    let local = if nodes > 1 && from == Some(node) { &mut same } else { &mut other };
                                    let _ = local.record(micros.max(1));
                                }
                            }
                            Ok(ServerFrame::Error { code, .. }) => {
                                let i = ErrorCode::ALL.iter().position(|c| *c == code).unwrap_or(0);
                                errors[i].fetch_add(1, Ordering::Relaxed);
                                reader_credits.add_permits(1);
                            }
                            _ => {}
                        }
                    }
                    if let Ok(mut h) = latency.lock() {
                        let _ = h.0.add(&other);
                        let _ = h.1.add(&same);
                    }
                });
                tokio::time::sleep_until(start_at).await;
                let padding = "x".repeat(body_size.saturating_sub(26));
                let mut n = 0u64;
                while tokio::time::Instant::now() < stop_at {
                    match pace.due(index as u64 + n * connections as u64) {
                        Some(due) => tokio::time::sleep_until(start_at + due).await,
                        None => {
                            let Ok(permit) = credits.acquire().await else { break };
                            permit.forget();
                        }
                    }
                    if tokio::time::Instant::now() >= stop_at {
                        break;
                    }
                    n += 1;
                    let frame = json!({"type": "send", "room": room, "client_msg_id": format!("{me}-{n}"), "body": format!("{} {node} {padding}", stamp(epoch))});
                    if sink.send(Message::text(frame.to_string())).await.is_err() {
                        break;
                    }
                }
                // Let deliveries in flight arrive, then close.
                tokio::time::sleep(Duration::from_secs(2)).await;
                let _ = sink.send(Message::Close(None)).await;
                let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
            });
        }
    }
    eprintln!("connected; sending for {duration}s, {}", pace.describe());
    tokio::time::sleep_until(start_at).await;
    let (a0, d0) = (
        acked.load(Ordering::Relaxed),
        delivered.load(Ordering::Relaxed),
    );
    let cpu0 = ctx.cpu_secs();
    let mut peak_rss = 0;
    while tokio::time::Instant::now() < stop_at {
        tokio::time::sleep_until(
            (tokio::time::Instant::now() + Duration::from_millis(500)).min(stop_at),
        )
        .await;
        peak_rss = peak_rss.max(ctx.rss_kib().unwrap_or(0));
    }
    let (a1, d1) = (
        acked.load(Ordering::Relaxed),
        delivered.load(Ordering::Relaxed),
    );
    let cpu1 = ctx.cpu_secs();
    while tasks.join_next().await.is_some() {}
    let secs = duration as f64;
    let h = latency.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    println!(
        "rooms={rooms} members={members} connections={connections} duration={duration}s mode={}{}",
        pace.describe(),
        if nodes > 1 {
            format!(" nodes={nodes} (member j of room i on node (i + j) mod {nodes})")
        } else {
            String::new()
        }
    );
    println!("acked messages/s: {:.0}", (a1 - a0) as f64 / secs);
    println!("deliveries/s:     {:.0}", (d1 - d0) as f64 / secs);
    let percentiles = |h: &Histogram<u64>| {
        format!(
            "p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms (n={})",
            h.value_at_quantile(0.5) as f64 / 1000.0,
            h.value_at_quantile(0.99) as f64 / 1000.0,
            h.value_at_quantile(0.999) as f64 / 1000.0,
            h.max() as f64 / 1000.0,
            h.len()
        )
    };
    if nodes > 1 {
        println!(
            "send→delivery latency (other members, sender on another node): {}",
            percentiles(&h.0)
        );
        println!(
            "send→delivery latency (other members, sender on the same node): {}",
            percentiles(&h.1)
        );
    } else {
        println!(
            "send→delivery latency (other members): {}",
            percentiles(&h.0)
        );
    }
    let by_code: Vec<String> = ErrorCode::ALL
        .iter()
        .zip(errors.iter())
        .map(|(code, n)| (code, n.load(Ordering::Relaxed)))
        .filter(|(_, n)| *n > 0)
        .map(|(code, n)| format!("{} {n}", code.as_str()))
        .collect();
    let total: u64 = errors.iter().map(|n| n.load(Ordering::Relaxed)).sum();
    if by_code.is_empty() {
        println!("errors: 0");
    } else {
        println!("errors: {total} ({})", by_code.join(", "));
    }
    if moderators + readers > 0 {
        println!(
            "history pages/s by {moderators} moderators (audited, one entry each) and {readers} members (not audited): {:.0}",
            pages.load(Ordering::Relaxed) as f64 / secs
        );
    }
    if !ctx.pids.is_empty() {
        println!(
            "server peak RSS: {:.1} MiB{}",
            peak_rss as f64 / 1024.0,
            if ctx.pids.len() > 1 {
                " (sum over the processes)"
            } else {
                ""
            }
        );
    }
    let per_message = |secs: f64| secs * 1e6 / (a1 - a0).max(1) as f64;
    if let (Some(s0), Some(s1)) = (cpu0.0, cpu1.0) {
        println!(
            "server CPU while sending: {:.2} s over {} process(es), {:.1} µs per acked message",
            s1 - s0,
            ctx.pids.len(),
            per_message(s1 - s0)
        );
    }
    if let (Some(b0), Some(b1)) = (cpu0.1, cpu1.1) {
        println!(
            "bus process CPU while sending: {:.2} s, {:.1} µs per acked message",
            b1 - b0,
            per_message(b1 - b0)
        );
    }
    Ok(())
}

/// One moderator and one history grant per room, for the first `count` rooms.
async fn open_grants(
    ctx: &Arc<Ctx>,
    setup: &[(String, Vec<String>)],
    count: usize,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::with_capacity(count);
    for (i, (room, _)) in setup.iter().cycle().take(count).enumerate() {
        let moderator = ctx.token(&format!("{}-mod{i}", ctx.tag), Role::Moderator)?;
        let response = ctx
            .http(i)
            .post("/v1/moderation/grants", &moderator)
            .json(&json!({
                "room": room, "case_id": format!("bench-{i}"),
                "reason": "Load test of audited moderator reads during messaging.",
                "scope": ["history"],
            }))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("opening a grant failed: {}", response.status());
        }
        let grant: serde_json::Value = response.json().await?;
        out.push((
            moderator,
            grant["id"].as_str().context("grant id")?.to_string(),
        ));
    }
    Ok(out)
}

/// Send `total` messages flat out over `rooms` two-member rooms and wait for every ack.
async fn fill(
    ctx: Arc<Ctx>,
    total: u64,
    rooms: usize,
    window: usize,
    body_size: usize,
) -> anyhow::Result<()> {
    let setup = setup_rooms(&ctx, rooms, 2).await?;
    let started = Instant::now();
    let claimed = Arc::new(AtomicU64::new(0));
    let acked = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, (room, users)) in setup.into_iter().enumerate() {
        for (j, user) in users.into_iter().enumerate() {
            let ws = ctx
                .connect(&user, node_of(i, j, ctx.nodes.len()), None)
                .await?;
            let (mut sink, mut stream) = ws.split();
            let (room, claimed, acked) = (room.clone(), claimed.clone(), acked.clone());
            let returned = claimed.clone();
            tasks.spawn(async move {
                let credits = Arc::new(tokio::sync::Semaphore::new(window));
                let reader_credits = credits.clone();
                let reader = tokio::spawn(async move {
                    // Deliveries are read and dropped: a member that stops reading is a slow
                    // consumer the server disconnects.
                    let (mut mine, mut refused) = (0u64, 0u64);
                    let mut failure = None;
                    while let Some(frame) = next_frame(&mut stream).await {
                        match frame {
                            Ok(ServerFrame::Ack { .. }) => {
                                acked.fetch_add(1, Ordering::Relaxed);
                                reader_credits.add_permits(1);
                                mine += 1;
                            }
                            // Refused by the per-connection write limit: the message goes
                            // back to the pool for any connection to send.
                            Ok(ServerFrame::Error { code: ErrorCode::RateLimited, .. }) => {
                                refused += 1;
                                returned.fetch_sub(1, Ordering::Relaxed);
                                reader_credits.add_permits(1);
                            }
                            Ok(ServerFrame::Error { code, message, .. }) => {
                                failure = Some(anyhow::anyhow!("{}: {message}", code.as_str()));
                                break;
                            }
                            _ => {}
                        }
                    }
                    // The sender waits for permits: a reader that ends releases it.
                    reader_credits.close();
                    failure.map_or(Ok((mine, refused)), Err)
                });
                let padding = "x".repeat(body_size.saturating_sub(10));
                let mut sent = 0u64;
                // A claim is a message this connection sends; a refused one is returned
                // (`returned`), so the connections go on until `total` were acked.
                let claim = || {
                    claimed
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                            (n < total).then_some(n + 1)
                        })
                        .is_ok()
                };
                loop {
                    while claim() {
                        let Ok(permit) = credits.acquire().await else { break };
                        permit.forget();
                        sent += 1;
                        let frame = json!({"type": "send", "room": room, "client_msg_id": format!("{user}-{sent}"), "body": padding});
                        sink.send(Message::text(frame.to_string())).await?;
                    }
                    // Every send answered (a reader that ended closes the credits).
                    let Ok(all) = credits.acquire_many(window as u32).await else { break };
                    drop(all);
                    if claimed.load(Ordering::Relaxed) >= total {
                        break;
                    }
                }
                let _ = sink.send(Message::Close(None)).await;
                let (mine, refused) =
                    tokio::time::timeout(Duration::from_secs(10), reader).await???;
                anyhow::ensure!(mine + refused == sent, "{mine} of {sent} sends acked");
                anyhow::Ok(())
            });
        }
    }
    let mut last = Instant::now();
    while !tasks.is_empty() {
        tokio::select! {
            done = tasks.join_next() => { done.context("join")???; }
            _ = tokio::time::sleep(Duration::from_secs(10)) => {}
        }
        if last.elapsed() >= Duration::from_secs(10) {
            last = Instant::now();
            eprintln!(
                "{} messages, {:.0} msg/s",
                acked.load(Ordering::Relaxed),
                acked.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    let done = acked.load(Ordering::Relaxed);
    println!(
        "filled: {done} messages in {rooms} rooms in {:.1} s ({:.0} msg/s)",
        started.elapsed().as_secs_f64(),
        done as f64 / started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn idle(
    ctx: Arc<Ctx>,
    connections: usize,
    members: usize,
    hold: u64,
    after_close: u64,
) -> anyhow::Result<()> {
    let rooms = connections.div_ceil(members);
    let setup = setup_rooms(&ctx, rooms, members).await?;
    let before = ctx.rss_kib();
    let users: Vec<String> = setup
        .iter()
        .flat_map(|(_, users)| users.iter().cloned())
        .take(connections)
        .collect();
    let started = Instant::now();
    // Open many at once (TLS handshakes are the cost), spread over 127.0.0.2..=127.0.0.9 to
    // stay far from the ephemeral-port limit of one source address.
    let mut opening = futures_util::stream::iter(users.into_iter().enumerate())
        .map(|(i, user)| {
            let ctx = ctx.clone();
            async move {
                let source = std::net::Ipv4Addr::new(127, 0, 0, 2 + (i % 8) as u8);
                let mut ws = ctx
                    .connect(&user, i, Some(source))
                    .await
                    .with_context(|| format!("connection {i}"))?;
                match ws.next().await {
                    Some(Ok(Message::Text(t))) if t.as_str().contains("\"hello\"") => Ok(ws),
                    other => bail!("no hello on connection {i}: {other:?}"),
                }
            }
        })
        .buffer_unordered(64);
    let mut held = Vec::with_capacity(connections);
    while let Some(ws) = opening.next().await {
        held.push(ws?);
        if held.len().is_multiple_of(1000) {
            eprintln!("{} connections", held.len());
        }
    }
    let connect_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(hold)).await;
    let after = ctx.rss_kib();
    println!(
        "idle authenticated connections held: {} (opened in {:.1}s)",
        held.len(),
        connect_secs
    );
    if let (Some(b), Some(a)) = (before, after) {
        println!(
            "server RSS: {:.1} MiB before, {:.1} MiB with connections; {:.2} KiB per connection",
            b as f64 / 1024.0,
            a as f64 / 1024.0,
            (a.saturating_sub(b)) as f64 / held.len().max(1) as f64
        );
    }
    for mut ws in held {
        let _ = ws.close(None).await;
    }
    if after_close > 0 {
        tokio::time::sleep(Duration::from_secs(after_close)).await;
        if let (Some(b), Some(later)) = (before, ctx.rss_kib()) {
            println!(
                "server RSS {after_close} s after closing them: {:.1} MiB ({:+.0}% of before)",
                later as f64 / 1024.0,
                (later as f64 / b.max(1) as f64 - 1.0) * 100.0
            );
        }
    }
    Ok(())
}
