//! Behind a load balancer (C15, C11): only a peer in `connections.trusted_proxies` may say
//! who the client is, by a PROXY protocol v2 header before TLS or by `X-Forwarded-For`; the
//! connection log then hashes the client's address and the per-address limits count the
//! client, not the proxy. An untrusted peer's header is never read as one; with
//! `proxy_protocol = "v2"` a trusted peer without a valid header is closed. And `/metrics`
//! on its own private listener, off the public one.
//!
//! Peers connect from 127.0.0.3x addresses (all loopback on Linux); the clients they name
//! are documentation addresses (203.0.113.0/24, 198.51.100.0/24) that never connect.

use crate::moderation::{call, moderator, open_grant};
use crate::process::free_port;
use reqwest::StatusCode;
use serde_json::json;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use workroom_tests::workroom_server::config::ProxyProtocol;
use workroom_tests::{TestServer, eventually};

const PROXY: &str = "127.0.0.31";
const STRANGER: &str = "127.0.0.32";

/// A TCP connection to `server` from `from`.
async fn tcp_from(from: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(from.parse::<IpAddr>().unwrap(), 0))
        .unwrap();
    socket.connect(server).await.unwrap()
}

/// A PROXY protocol v2 header: TCP over IPv4 from `client` to `server`.
fn proxy_header(client: &str, server: SocketAddr) -> Vec<u8> {
    let client: SocketAddr = client.parse().unwrap();
    let (SocketAddr::V4(client), SocketAddr::V4(server)) = (client, server) else {
        panic!("IPv4 only here");
    };
    let mut out = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    out.extend([0x21, 0x11, 0, 12]);
    out.extend(client.ip().octets());
    out.extend(server.ip().octets());
    out.extend(client.port().to_be_bytes());
    out.extend(server.port().to_be_bytes());
    out
}

type Tls = tokio_rustls::client::TlsStream<TcpStream>;

/// TLS over `tcp`, after writing `preamble` (a PROXY header, or nothing).
async fn tls_over(
    server: &TestServer,
    mut tcp: TcpStream,
    preamble: &[u8],
) -> std::io::Result<Tls> {
    tcp.write_all(preamble).await?;
    let mut config = (*server.tls).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    tokio::time::timeout(Duration::from_secs(5), connector.connect(name, tcp))
        .await
        .map_err(|_| std::io::Error::other("handshake hung"))?
}

/// `GET path` with a bearer token over an open connection; the status code.
async fn get_over<S: AsyncReadExt + AsyncWriteExt + Unpin>(
    stream: &mut S,
    path: &str,
    token: &str,
) -> u16 {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await;
    let text = String::from_utf8_lossy(&response);
    text.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"))
}

/// The value of one counter series in the public `/metrics` (0 when absent).
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

/// Looks up the connection log under a moderator's grant with the `connections` scope.
struct Log<'a> {
    server: &'a TestServer,
    moderator: String,
    path: String,
}

impl<'a> Log<'a> {
    async fn open(server: &'a TestServer, room: &str) -> Log<'a> {
        let moderator = moderator(server, "mod1");
        let grant = open_grant(server, &moderator, room, &["connections"], 600).await;
        let path = format!(
            "/v1/moderation/grants/{}/connections",
            grant["id"].as_str().unwrap()
        );
        Log {
            server,
            moderator,
            path,
        }
    }

    /// The users of the room's connections recorded under `address`, sorted.
    async fn users(&self, address: &str) -> Vec<String> {
        let body = Some(json!({ "address": address }));
        let (status, found) = call(self.server, "POST", &self.path, &self.moderator, body).await;
        assert_eq!(status, StatusCode::OK, "{found}");
        let mut users: Vec<String> = found["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["user"].as_str().unwrap().to_string())
            .collect();
        users.sort();
        users.dedup();
        users
    }

    /// Wait (the log is written in batches) until `address` shows exactly `users`.
    async fn expect(&self, address: &str, users: &[&str]) {
        let mut last = Vec::new();
        let matched = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                last = self.users(address).await;
                if last == users {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        assert!(
            matched.is_ok(),
            "{address}: recorded {last:?}, expected {users:?}"
        );
    }
}

#[tokio::test]
async fn a_trusted_proxys_header_names_the_logged_client_and_an_untrusted_peers_is_garbage() {
    let server = TestServer::start_with(Box::new(|c| {
        c.connections.trusted_proxies = vec![format!("{PROXY}/32").parse().unwrap()];
        c.connections.proxy_protocol = ProxyProtocol::V2;
    }))
    .await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;

    // Through the proxy: the header names 203.0.113.9, TLS and HTTP follow on the same bytes.
    let tcp = tcp_from(PROXY, server.addr).await;
    let mut tls = tls_over(&server, tcp, &proxy_header("203.0.113.9:4711", server.addr))
        .await
        .expect("a trusted proxy's connection with a header is served");
    assert_eq!(
        get_over(&mut tls, "/v1/rooms", &server.member("u1")).await,
        200
    );

    // A stranger sending the same header: its bytes are never read as a header, so they
    // reach TLS as garbage and the handshake fails.
    let tcp = tcp_from(STRANGER, server.addr).await;
    let spoofed = tls_over(
        &server,
        tcp,
        &proxy_header("198.51.100.77:4711", server.addr),
    )
    .await;
    assert!(
        spoofed.is_err(),
        "an untrusted peer's PROXY header is not believed"
    );
    // Without a header the stranger is served as always, under its own address.
    let tcp = tcp_from(STRANGER, server.addr).await;
    let mut tls = tls_over(&server, tcp, &[]).await.expect("a direct client");
    assert_eq!(
        get_over(&mut tls, "/v1/rooms", &server.member("u2")).await,
        200
    );

    let log = Log::open(&server, &room).await;
    log.expect("203.0.113.9", &["u1"]).await;
    log.expect(STRANGER, &["u2"]).await;
    assert!(
        log.users(PROXY).await.is_empty(),
        "never the proxy's own address"
    );
    assert!(
        log.users("198.51.100.77").await.is_empty(),
        "never a spoofed one"
    );
}

#[tokio::test]
async fn with_proxy_protocol_v2_a_trusted_peer_without_a_valid_header_is_closed_and_counted() {
    let server = TestServer::start_with(Box::new(|c| {
        c.connections.trusted_proxies = vec![format!("{PROXY}/32").parse().unwrap()];
        c.connections.proxy_protocol = ProxyProtocol::V2;
        c.connections.tls_handshake_timeout_secs = 1;
    }))
    .await;
    let closed = "workroom_connections_closed_total";
    let before_header = counter(&server, closed, "proxy_header").await;
    let before_timeout = counter(&server, closed, "handshake_timeout").await;

    // TLS straight away: the ClientHello is not a header.
    let tcp = tcp_from(PROXY, server.addr).await;
    assert!(tls_over(&server, tcp, &[]).await.is_err());
    // Version 1's text header is not accepted either.
    let tcp = tcp_from(PROXY, server.addr).await;
    let v1 = format!(
        "PROXY TCP4 203.0.113.9 127.0.0.1 4711 {}\r\n",
        server.addr.port()
    );
    assert!(tls_over(&server, tcp, v1.as_bytes()).await.is_err());
    eventually(Duration::from_secs(3), "both counted", || async {
        (counter(&server, closed, "proxy_header").await >= before_header + 2).then_some(())
    })
    .await;

    // A proxy that connects and stalls is closed at the handshake deadline.
    let started = Instant::now();
    let mut stalled = tcp_from(PROXY, server.addr).await;
    stalled.write_all(b"\r\n\r\n\0\r").await.unwrap();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(10), stalled.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0) | Err(_))), "closed, not answered");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "closed after {took:?}"
    );
    assert!(counter(&server, closed, "handshake_timeout").await > before_timeout);
}

#[tokio::test]
async fn the_per_address_cap_counts_the_clients_a_proxy_names_never_the_proxy_itself() {
    let server = TestServer::start_with(Box::new(|c| {
        c.connections.trusted_proxies = vec![format!("{PROXY}/32").parse().unwrap()];
        c.connections.proxy_protocol = ProxyProtocol::V2;
        c.connections.max_per_address = 2;
    }))
    .await;
    let refused = "workroom_connections_refused_total";
    let before = counter(&server, refused, "address_cap").await;
    let mut held = Vec::new();
    for client in [
        "203.0.113.1:1",
        "203.0.113.1:2",
        "203.0.113.2:1",
        "203.0.113.3:1",
    ] {
        let tcp = tcp_from(PROXY, server.addr).await;
        let tls = tls_over(&server, tcp, &proxy_header(client, server.addr)).await;
        held.push(tls.unwrap_or_else(|e| panic!("{client}: {e}")));
    }
    // Four open from the proxy's address, over its cap of two: it is not counted. The
    // client named a third time is.
    let tcp = tcp_from(PROXY, server.addr).await;
    let third = tls_over(&server, tcp, &proxy_header("203.0.113.1:3", server.addr)).await;
    assert!(third.is_err(), "a client's third connection is refused");
    assert!(counter(&server, refused, "address_cap").await > before);
    let mut one = held.remove(0);
    assert_eq!(get_over(&mut one, "/healthz", "").await, 200);
    drop(one);
    drop(held);
}

#[tokio::test]
async fn x_forwarded_for_is_read_only_from_a_trusted_peer_right_most_untrusted_first() {
    let server = TestServer::start_with(Box::new(|c| {
        c.connections.trusted_proxies = vec![
            format!("{PROXY}/32").parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ];
    }))
    .await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let from = |address: &str| {
        let mut tls = (*server.tls).clone();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .local_address(address.parse::<IpAddr>().unwrap())
            .build()
            .unwrap()
    };
    let get = |client: &reqwest::Client, user: &str, forwarded: &str| {
        client
            .get(server.http.url("/v1/rooms"))
            .bearer_auth(server.member(user))
            .header("X-Forwarded-For", forwarded)
            .send()
    };

    // Through the proxy, on one kept-alive connection: a client's own claim on the left,
    // the address our proxy saw, then an inner proxy of ours. Then another client.
    let proxy = from(PROXY);
    let response = get(&proxy, "u1", "198.51.100.1, 203.0.113.20, 10.1.2.3")
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = get(&proxy, "u2", "203.0.113.21").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // A stranger's header is ignored.
    let stranger = from(STRANGER);
    let response = get(&stranger, "u2", "203.0.113.30").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let log = Log::open(&server, &room).await;
    log.expect("203.0.113.20", &["u1"]).await;
    log.expect("203.0.113.21", &["u2"]).await;
    log.expect(STRANGER, &["u2"]).await;
    for never in ["198.51.100.1", "10.1.2.3", PROXY, "203.0.113.30"] {
        assert!(log.users(never).await.is_empty(), "{never}");
    }
}

/// `GET path` over plain HTTP; the status and the body.
async fn plain_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut tcp = TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    tcp.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut response))
        .await
        .map_err(|_| std::io::Error::other("no answer"))??;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, text))
}

#[tokio::test]
async fn metrics_on_a_private_listener_are_off_the_public_one() {
    let private: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let server = TestServer::start_with(Box::new(move |c| {
        c.metrics_listen = Some(private.to_string());
    }))
    .await;

    let (status, text) = plain_get(private, "/metrics").await.unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("text/plain; version=0.0.4"), "{text}");
    assert!(text.contains("workroom_"), "{text}");
    let (status, _) = plain_get(private, "/healthz").await.unwrap();
    assert_eq!(status, 404, "the private listener serves metrics only");

    let public = server.http.get("/metrics", "").send().await.unwrap();
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = public.json().await.unwrap();
    assert_eq!(body["code"], "not_found");
    let public = server.http.get("/healthz", "").send().await.unwrap();
    assert_eq!(public.status(), StatusCode::OK);

    // It stops with the server.
    server.stop().await;
    assert!(plain_get(private, "/metrics").await.is_err());
}

#[test]
fn a_bad_trusted_proxy_block_stops_the_start_naming_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(crate::cli::BIN)
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .env("WORKROOM_CONNECTIONS__TRUSTED_PROXIES", "[\"10.0.0.1/8\"]")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("connections.trusted_proxies"), "{err}");
    assert!(err.contains("10.0.0.0/8"), "says what was meant: {err}");

    let out = std::process::Command::new(crate::cli::BIN)
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .env("WORKROOM_CONNECTIONS__PROXY_PROTOCOL", "v2")
        .env("WORKROOM_METRICS_LISTEN", "localhost")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("connections.proxy_protocol"), "{err}");
    assert!(err.contains("metrics_listen"), "{err}");
}
