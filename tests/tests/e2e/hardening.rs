//! C14 hardening through the real server: WebSocket protocol errors end with the close
//! codes of RFC 6455, every HTTP response carries the security headers, the data directory
//! is private, and the TLS certificate is replaced without a restart.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use workroom_tests::{TestServer, eventually};

/// A TLS connection upgraded to a WebSocket by hand, so that it can send frames no client
/// library would.
async fn raw_websocket(
    server: &TestServer,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut tls = (*server.tls).clone();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut stream = tokio_rustls::TlsConnector::from(Arc::new(tls))
        .connect(name, tcp)
        .await
        .unwrap();
    let request = "GET /v1/ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
                   Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
                   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    stream
}

/// One client frame: FIN, `opcode`, masked as clients must.
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x12, 0x34, 0x56, 0x78];
    let mut out = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// The code of the close frame the server sends, reading past anything before it.
async fn close_code(stream: &mut (impl AsyncReadExt + Unpin)) -> u16 {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let mut head = [0u8; 2];
            stream
                .read_exact(&mut head)
                .await
                .expect("a close frame, not a bare close");
            let mut len = u64::from(head[1] & 0x7f);
            if len == 126 {
                let mut ext = [0u8; 2];
                stream.read_exact(&mut ext).await.unwrap();
                len = u64::from(u16::from_be_bytes(ext));
            } else if len == 127 {
                let mut ext = [0u8; 8];
                stream.read_exact(&mut ext).await.unwrap();
                len = u64::from_be_bytes(ext);
            }
            let mut payload = vec![0u8; len as usize];
            stream.read_exact(&mut payload).await.unwrap();
            if head[0] & 0x0f == 0x8 {
                return u16::from_be_bytes([payload[0], payload[1]]);
            }
        }
    })
    .await
    .expect("closed within 10 s")
}

#[tokio::test]
async fn websocket_protocol_errors_close_with_the_codes_of_rfc_6455() {
    let server = TestServer::start().await;
    let cases: [(&str, Vec<u8>, u16); 3] = [
        (
            "a text frame that is not UTF-8",
            frame(0x1, &[0xff, 0xfe, 0xfd]),
            1007,
        ),
        ("a reserved opcode", frame(0x3, b"x"), 1002),
        (
            "a frame over the limit before authentication",
            frame(0x1, &vec![b'a'; server.config.limits.max_frame_bytes + 1]),
            1009,
        ),
    ];
    for (what, bytes, expected) in cases {
        let mut ws = raw_websocket(&server).await;
        ws.write_all(&bytes).await.unwrap();
        assert_eq!(close_code(&mut ws).await, expected, "{what}");
    }
}

#[tokio::test]
async fn every_http_response_carries_the_security_headers() {
    let server = TestServer::start().await;
    let member = server.member("u1");
    for (path, token) in [
        ("/healthz", ""),
        ("/metrics", ""),
        ("/v1/rooms", ""),
        ("/v1/rooms", member.as_str()),
        ("/v1/no-such-route", member.as_str()),
    ] {
        let response = server.http.get(path, token).send().await.unwrap();
        let headers = response.headers();
        for (name, value) in [
            ("strict-transport-security", "max-age=63072000"),
            ("x-content-type-options", "nosniff"),
            ("cache-control", "no-store"),
            ("referrer-policy", "no-referrer"),
            ("x-frame-options", "DENY"),
        ] {
            assert_eq!(
                headers.get(name).and_then(|v| v.to_str().ok()),
                Some(value),
                "{name} on {path} ({})",
                response.status()
            );
        }
    }
}

#[tokio::test]
async fn the_data_directory_is_readable_by_its_owner_only() {
    let server = TestServer::start().await;
    let room = server.open_room("b1", "p1", "u1", "u2").await.room;
    let mut client = server.client("u1").await;
    client.send(&room, "m1", "stored").await;
    let uploaded = server
        .upload(
            &server.member("u1"),
            &room,
            "notes.txt",
            Some("text/plain"),
            b"file bytes".to_vec(),
        )
        .await;
    assert!(uploaded.status().is_success(), "{}", uploaded.status());
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let data = server.data_dir.path();
    assert_eq!(mode(data), 0o700, "the data directory");
    let mut files = 0;
    let mut walk = vec![data.to_path_buf()];
    while let Some(dir) = walk.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                assert_eq!(mode(&path), 0o700, "{}", path.display());
                walk.push(path);
            } else {
                assert_eq!(mode(&path), 0o600, "{}", path.display());
                files += 1;
            }
        }
    }
    assert!(
        files >= 5,
        "the database, its WAL, keys, the certificate and the file"
    );
}

#[tokio::test]
async fn a_replaced_certificate_is_served_without_a_restart() {
    let old = tempfile::tempdir().unwrap();
    let new = tempfile::tempdir().unwrap();
    let first = workroom_server::tls::ensure_dev_certificate(old.path()).unwrap();
    let second = workroom_server::tls::ensure_dev_certificate(new.path()).unwrap();
    let live = tempfile::tempdir().unwrap();
    let (cert, key) = (live.path().join("cert.pem"), live.path().join("key.pem"));
    std::fs::copy(&first.cert_path, &cert).unwrap();
    std::fs::copy(&first.key_path, &key).unwrap();
    let (c, k) = (cert.clone(), key.clone());
    let server = TestServer::start_with(Box::new(move |config| {
        config.tls.cert_file = Some(c);
        config.tls.key_file = Some(k);
        config.tls.reload_interval_secs = 1;
    }))
    .await;
    let trusting = |pem: &std::path::Path| {
        let tls = workroom_client::client_config(&std::fs::read(pem).unwrap()).unwrap();
        workroom_client::HttpClient::new(&format!("https://localhost:{}", server.addr.port()), tls)
            .unwrap()
    };
    let (old_client, new_client) = (trusting(&first.cert_path), trusting(&second.cert_path));
    assert!(old_client.get("/healthz", "").send().await.is_ok());
    assert!(new_client.get("/healthz", "").send().await.is_err());

    std::fs::copy(&second.key_path, &key).unwrap();
    std::fs::copy(&second.cert_path, &cert).unwrap();
    eventually(
        Duration::from_secs(10),
        "the new certificate served",
        || async { new_client.get("/healthz", "").send().await.ok() },
    )
    .await;
    let fresh = trusting(&first.cert_path);
    assert!(
        fresh.get("/healthz", "").send().await.is_err(),
        "the old certificate is no longer served"
    );
}
