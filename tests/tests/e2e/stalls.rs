//! The stages before a session, held to their limits through the real listener: a TCP
//! connection without a handshake, a TLS connection that sends nothing, headers that never
//! finish, a body sent a byte at a time, a bare HTTP/2 preface and an idle keep-alive are
//! each closed within their timeout; one address cannot hold more than its cap while
//! another still connects and `/healthz` answers; and every refusal and close is counted.
//!
//! Clients connect from 127.0.0.x addresses (all loopback on Linux) so that each test's
//! addresses are its own.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::client::TlsStream;
use workroom_tests::{TestServer, eventually};

/// A TCP connection to `server` from `from`.
async fn tcp_from(from: &str, server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from.parse::<IpAddr>().unwrap(), 0))?;
    socket.connect(server).await
}

/// A TLS connection from `from`, speaking `alpn`.
async fn tls_from(
    server: &TestServer,
    from: &str,
    alpn: &[u8],
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = tcp_from(from, server.addr).await?;
    let mut config = (*server.tls).clone();
    config.alpn_protocols = vec![alpn.to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    tokio::time::timeout(Duration::from_secs(5), connector.connect(name, tcp))
        .await
        .map_err(|_| std::io::Error::other("handshake hung"))?
}

/// Wait until the peer closes `stream` (EOF or an error), reading and dropping whatever
/// it sends first; how long that took.
async fn time_to_close<S: AsyncReadExt + Unpin>(stream: &mut S, started: Instant) -> Duration {
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(15), stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => continue,
            Err(_) => panic!("the connection was still open after 15 s"),
        }
    }
}

/// The value of one counter series in `/metrics` (0 when absent).
async fn counter(server: &TestServer, name: &str, reason: &str) -> u64 {
    let text = server
        .http
        .get("/metrics", "")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series = format!("{name}{{reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&series))
        .map_or(0, |value| value.trim().parse().unwrap())
}

async fn healthz_from(server: &TestServer, from: &str) -> Result<u16, String> {
    let mut tls = (*server.tls).clone();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .local_address(from.parse::<IpAddr>().unwrap())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let url = format!("https://localhost:{}/healthz", server.addr.port());
    client
        .get(url)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}

async fn server_with_short_timeouts() -> TestServer {
    TestServer::start_with(Box::new(|c| {
        c.connections.tls_handshake_timeout_secs = 1;
        c.connections.idle_timeout_secs = 2;
        c.connections.body_progress_secs = 1;
    }))
    .await
}

/// Closed no sooner than `at_least` and well within `limit` plus scheduling slack.
fn assert_closed_within(what: &str, took: Duration, at_least: Duration, limit: Duration) {
    assert!(
        took >= at_least && took <= limit + Duration::from_millis(1500),
        "{what}: closed after {took:?}, expected about {limit:?}"
    );
}

#[tokio::test]
async fn every_stalled_stage_is_closed_within_its_timeout_and_counted() {
    let server = server_with_short_timeouts().await;
    let closed = "workroom_connections_closed_total";
    let before_handshake = counter(&server, closed, "handshake_timeout").await;
    let before_idle = counter(&server, closed, "idle_timeout").await;
    let before_body = counter(&server, closed, "body_stalled").await;

    // A TCP connection that never starts its handshake.
    let started = Instant::now();
    let mut tcp = tcp_from("127.0.0.11", server.addr).await.unwrap();
    let took = time_to_close(&mut tcp, started).await;
    assert_closed_within(
        "no handshake",
        took,
        Duration::from_millis(900),
        Duration::from_secs(1),
    );

    // A TLS connection that never sends a request.
    let started = Instant::now();
    let mut silent = tls_from(&server, "127.0.0.11", b"http/1.1").await.unwrap();
    let took = time_to_close(&mut silent, started).await;
    assert_closed_within(
        "silent TLS",
        took,
        Duration::from_millis(1900),
        Duration::from_secs(2),
    );

    // Headers sent a byte every 300 ms: bytes arriving do not keep the connection open.
    let started = Instant::now();
    let mut slow_headers = tls_from(&server, "127.0.0.11", b"http/1.1").await.unwrap();
    let trickle = async {
        for byte in b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if slow_headers.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(20), trickle).await;
    let took = time_to_close(&mut slow_headers, started).await;
    assert_closed_within(
        "slow headers",
        took,
        Duration::from_millis(1900),
        Duration::from_secs(2),
    );

    // A bare HTTP/2 preface, then nothing.
    let started = Instant::now();
    let mut preface = tls_from(&server, "127.0.0.11", b"h2").await.unwrap();
    preface
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    let took = time_to_close(&mut preface, started).await;
    assert_closed_within(
        "bare HTTP/2 preface",
        took,
        Duration::from_millis(1900),
        Duration::from_secs(2),
    );

    // A keep-alive connection is closed once idle for the timeout after its response.
    let mut keep_alive = tls_from(&server, "127.0.0.11", b"http/1.1").await.unwrap();
    keep_alive
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut response = [0u8; 12];
    keep_alive.read_exact(&mut response).await.unwrap();
    assert_eq!(&response, b"HTTP/1.1 200");
    let started = Instant::now();
    let took = time_to_close(&mut keep_alive, started).await;
    assert_closed_within(
        "idle keep-alive",
        took,
        Duration::from_millis(1900),
        Duration::from_secs(2),
    );

    // A body sent a byte every 300 ms to a route that reads it.
    let started = Instant::now();
    let mut slow_body = tls_from(&server, "127.0.0.11", b"http/1.1").await.unwrap();
    let head = format!(
        "POST /v1/marketplace/bids/slow/accept HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: Bearer {}\r\nContent-Type: application/json\r\n\
         Content-Length: 1000\r\n\r\n{{",
        server.service()
    );
    slow_body.write_all(head.as_bytes()).await.unwrap();
    let trickle = async {
        for _ in 0..60 {
            if slow_body.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(20), trickle).await;
    let took = time_to_close(&mut slow_body, started).await;
    assert_closed_within(
        "slow body",
        took,
        Duration::from_millis(900),
        Duration::from_secs(1),
    );

    assert!(counter(&server, closed, "handshake_timeout").await > before_handshake);
    assert!(counter(&server, closed, "idle_timeout").await >= before_idle + 4);
    assert!(counter(&server, closed, "body_stalled").await > before_body);
    assert_eq!(healthz_from(&server, "127.0.0.12").await, Ok(200));
}

#[tokio::test]
async fn one_address_holds_at_most_its_cap_while_others_still_connect() {
    let server = TestServer::start_with(Box::new(|c| {
        c.connections.max_per_address = 4;
    }))
    .await;
    let refused = "workroom_connections_refused_total";
    let before = counter(&server, refused, "address_cap").await;

    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(tls_from(&server, "127.0.0.21", b"http/1.1").await.unwrap());
    }
    for _ in 0..3 {
        assert!(
            tls_from(&server, "127.0.0.21", b"http/1.1").await.is_err(),
            "a fifth connection from one address is refused"
        );
    }
    assert_eq!(
        healthz_from(&server, "127.0.0.22").await,
        Ok(200),
        "another address still connects and /healthz answers"
    );
    held.pop();
    eventually(
        Duration::from_secs(5),
        "the closed connection's place back",
        || async { tls_from(&server, "127.0.0.21", b"http/1.1").await.ok() },
    )
    .await;
    assert!(counter(&server, refused, "address_cap").await >= before + 3);
}

/// No HTTP call in this test: a pooled keep-alive would count against the cap.
#[tokio::test]
async fn connections_without_a_session_are_capped_and_sessions_leave_the_count() {
    let server = TestServer::start_with(Box::new(|c| {
        c.connections.max_unauthenticated = 2;
    }))
    .await;
    // Two sessions: each was unauthenticated only until its token was checked.
    let _one = server.client("u1").await;
    let _two = server.client("u2").await;
    let a = tls_from(&server, "127.0.0.31", b"http/1.1").await.unwrap();
    let _b = tls_from(&server, "127.0.0.32", b"http/1.1").await.unwrap();
    assert!(
        tls_from(&server, "127.0.0.33", b"http/1.1").await.is_err(),
        "a third connection without a session is refused, from any address"
    );
    drop(a);
    eventually(
        Duration::from_secs(5),
        "room for a new connection",
        || async { tls_from(&server, "127.0.0.33", b"http/1.1").await.ok() },
    )
    .await;
    let refused = counter_without_pool(&server, "unauthenticated_cap").await;
    assert!(refused >= 1, "the refusal was counted");
}

/// A refusal counter, read over a connection that is not kept (retried until there is
/// room for it).
async fn counter_without_pool(server: &TestServer, reason: &str) -> u64 {
    eventually(Duration::from_secs(5), "the metrics", || async {
        let mut tls = (*server.tls).clone();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let url = format!("https://localhost:{}/metrics", server.addr.port());
        let text = client.get(url).send().await.ok()?.text().await.ok()?;
        let series = format!("workroom_connections_refused_total{{reason=\"{reason}\"}} ");
        Some(
            text.lines()
                .find_map(|line| line.strip_prefix(&series))
                .map_or(0, |value| value.trim().parse().unwrap()),
        )
    })
    .await
}
