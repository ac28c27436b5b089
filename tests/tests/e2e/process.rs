//! The binary as an operator runs it: first run on embedded defaults, config errors,
//! `migrate`, `token`, and `kill -9` during a send stream.

use serde_json::json;
use std::process::{Command, Stdio};
use std::time::Duration;
use workroom_client::ws::ConnectOptions;
use workroom_client::{Connection, HttpClient};
use workroom_protocol::{ClientFrame, ClientMsgId, RoomId, ServerFrame};

const BIN: &str = env!("CARGO_BIN_EXE_workroom-under-test");

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) fn token(dir: &std::path::Path, sub: &str, role: &str) -> String {
    let out = Command::new(BIN)
        .args(["token", "--data-dir"])
        .arg(dir)
        .args(["--sub", sub, "--role", role, "--ttl", "1h"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Open workroom `b1` (client `u1` with `client_email`, contractor `u2`) on the server at
/// `port` through the marketplace call; the TLS settings that trust it, the room and the
/// service token the call used.
async fn open_room(
    dir: &std::path::Path,
    port: u16,
    client_email: &str,
) -> (std::sync::Arc<rustls::ClientConfig>, RoomId, String) {
    let pem = std::fs::read(dir.join("tls/cert.pem")).unwrap();
    let tls = workroom_client::client_config(&pem).unwrap();
    let http = HttpClient::new(&format!("https://127.0.0.1:{port}"), tls.clone()).unwrap();
    let service = token(dir, "marketplace", "service");
    let created: serde_json::Value = http
        .post("/v1/marketplace/bids/b1/accept", &service)
        .json(&json!({
            "project": "p1",
            "client": {"user": "u1", "account": "a1", "name": "C", "email": client_email},
            "contractor": {"user": "u2", "account": "a2", "name": "K", "email": "k@example.com"},
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let room = RoomId::try_from(created["room"].as_str().unwrap()).unwrap();
    (tls, room, service)
}

pub(crate) struct Child(pub(crate) std::process::Child);

impl Child {
    /// SIGTERM, then wait until the process has drained and exited (its log complete).
    pub(crate) async fn terminate(mut self) {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        workroom_tests::eventually(Duration::from_secs(30), "the server exited", || {
            let exited = self.0.try_wait().ok().flatten().is_some();
            async move { exited.then_some(()) }
        })
        .await;
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn spawn_server(dir: &std::path::Path, port: u16) -> Child {
    spawn_server_with(dir, port, |_| {}).await
}

pub(crate) async fn spawn_server_with(
    dir: &std::path::Path,
    port: u16,
    adjust: impl FnOnce(&mut Command),
) -> Child {
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--data-dir"])
        .arg(dir)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("WORKROOM_LOG__FILTER", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    adjust(&mut command);
    if let Some(admin) = workroom_tests::postgres_admin_url() {
        let url_file = dir.join("pg-url");
        let url = match std::fs::read_to_string(&url_file) {
            Ok(url) => url,
            Err(_) => {
                let url = workroom_tests::fresh_postgres_database(&admin).await;
                std::fs::write(&url_file, &url).unwrap();
                url
            }
        };
        command.env("WORKROOM_DATABASE_URL", url);
        command.envs(workroom_tests::shared_secrets_env(dir));
    }
    let child = Child(command.spawn().unwrap());
    // The certificate first: the port is bound (and takes connections into its backlog)
    // before the migrations run, the certificate is written just before the server
    // accepts. Probing the port all along queued a connection every 20 ms that the server
    // then admitted at once, and a slow start (> 2 s) spent the address's burst of new
    // connections: the test's own first connection was refused (`address_rate`).
    workroom_tests::eventually(Duration::from_secs(10), "the server up", || async {
        let up = dir.join("tls/cert.pem").exists()
            && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        up.then_some(())
    })
    .await;
    child
}

#[test]
fn a_bad_config_value_names_its_key_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .env("WORKROOM_LIMITS__MAX_BODY_BYTES", "lots")
        .env("WORKROOM_AUTH__LEEWAY_SECS", "600")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("limits.max_body_bytes"), "{err}");

    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[auth]\nleeway_secs = 600\nlisten_typo = 1\n").unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("listen_typo"), "{err}");

    std::fs::write(&file, "[auth]\nleeway_secs = 600\n").unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("auth.leeway_secs"));
}

#[test]
fn migrate_and_token_work_on_a_fresh_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["migrate", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("applied 15 migration"));
    let t = token(dir.path(), "u1", "member");
    assert_eq!(t.split('.').count(), 3);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("keys/dev-jwt.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let out = Command::new(BIN)
        .args(["token", "--sub", "u1", "--role", "wizard"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[tokio::test]
async fn kill_9_during_a_send_stream_loses_no_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // A pipelined stream of 5,000 sends is a flood the rate limits would refuse in part.
    let server = spawn_server_with(dir.path(), port, |c| {
        c.envs(workroom_tests::UNLIMITED_RATES_ENV.iter().copied());
    })
    .await;
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("tls/key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the dev TLS key is private");
    }
    let (tls, room, _) = open_room(dir.path(), port, "c@example.com").await;
    let room = room.as_str().to_string();
    let options = ConnectOptions {
        url: format!("wss://localhost:{port}/v1/ws"),
        tls: tls.clone(),
        token: Some(token(dir.path(), "u1", "member")),
        origin: None,
    };
    let conn = Connection::connect(&options).await.unwrap();
    let (mut sink, mut stream) = conn.split();
    use futures_util::{SinkExt, StreamExt};
    // Pipeline sends without waiting; collect acks; kill -9 after some acks arrived.
    let room_id = RoomId::try_from(room.as_str()).unwrap();
    let writer = tokio::spawn(async move {
        for i in 0..5000 {
            let frame = ClientFrame::Send {
                id: Some(format!("r{i}")),
                room: room_id.clone(),
                client_msg_id: ClientMsgId::try_from(format!("c{i}")).unwrap(),
                body: format!("durable {i}"),
                attachments: Vec::new(),
            };
            let text = serde_json::to_string(&frame).unwrap();
            if sink
                .send(tokio_tungstenite::tungstenite::Message::text(text))
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let mut acked: Vec<(u64, String)> = Vec::new();
    let mut server = Some(server);
    while let Some(Ok(message)) = stream.next().await {
        let tokio_tungstenite::tungstenite::Message::Text(text) = message else {
            continue;
        };
        if let Ok(ServerFrame::Ack { seq, id, .. }) = serde_json::from_str(text.as_str()) {
            acked.push((seq, id.unwrap_or_default()));
            if acked.len() == 300
                && let Some(mut child) = server.take()
            {
                // SIGKILL: no drain, no flush.
                child.0.kill().unwrap();
                child.0.wait().unwrap();
            }
        }
    }
    writer.abort();
    assert!(acked.len() >= 300, "acks before the kill: {}", acked.len());

    let _server = spawn_server(dir.path(), port).await;
    let mut reader = Connection::connect(&ConnectOptions {
        token: Some(token(dir.path(), "u2", "member")),
        ..options
    })
    .await
    .unwrap();
    let ServerFrame::Hello { rooms, .. } = reader.next(Duration::from_secs(10)).await.unwrap()
    else {
        panic!()
    };
    let last_seq = rooms
        .iter()
        .find(|r| r.id.as_str() == room)
        .unwrap()
        .last_seq;
    let max_acked = acked.iter().map(|(s, _)| *s).max().unwrap();
    assert!(
        last_seq >= max_acked,
        "every acknowledged seq survived: {last_seq} < {max_acked}"
    );
    // No gap: resume from 0 replays 1..=last_seq exactly, and every ack's body is there.
    reader
        .send_text(&json!({"type": "resume", "id": "r", "rooms": {room.clone(): 0}}).to_string())
        .await
        .unwrap();
    let mut seqs = Vec::new();
    let mut bodies = std::collections::HashMap::new();
    loop {
        match reader.next(Duration::from_secs(10)).await.unwrap() {
            ServerFrame::Message(m) => {
                seqs.push(m.seq);
                bodies.insert(m.seq, m.body);
            }
            ServerFrame::Resumed { .. } => break,
            _ => {}
        }
    }
    assert_eq!(seqs, (1..=last_seq).collect::<Vec<_>>());
    for (seq, id) in &acked {
        let i = id.trim_start_matches('r');
        assert_eq!(
            bodies.get(seq).map(String::as_str),
            Some(format!("durable {i}").as_str())
        );
    }
}

#[tokio::test]
async fn sigterm_drains_sessions_with_1001_and_logs_are_json() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = spawn_server_with(dir.path(), port, |c| {
        c.env("WORKROOM_LOG__FORMAT", "json")
            .env("WORKROOM_LOG__FILTER", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
    })
    .await;
    let pem = std::fs::read(dir.path().join("tls/cert.pem")).unwrap();
    let tls = workroom_client::client_config(&pem).unwrap();
    let options = ConnectOptions {
        url: format!("wss://localhost:{port}/v1/ws"),
        tls,
        token: Some(token(dir.path(), "u1", "member")),
        origin: None,
    };
    let mut conn = Connection::connect(&options).await.unwrap();
    assert!(matches!(
        conn.next(Duration::from_secs(10)).await.unwrap(),
        ServerFrame::Hello { .. }
    ));

    let status = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    match conn.next(Duration::from_secs(10)).await {
        Err(workroom_client::WsError::Closed(Some((code, _)))) => assert_eq!(code, 1001),
        other => panic!("expected close 1001, got {other:?}"),
    }
    let exit = server.0.wait().unwrap();
    assert!(exit.success(), "graceful exit after SIGTERM: {exit}");
    let mut stderr = String::new();
    use std::io::Read;
    server
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for line in &lines {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(value.get("level").is_some(), "{line}");
    }
    assert!(stderr.contains("shutting down"), "{stderr}");
    // The first-run banner says where the certificate is and how to mint a token.
    let mut stdout = String::new();
    server
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(
        stdout.contains("tls/cert.pem") && stdout.contains("generated"),
        "{stdout}"
    );
    assert!(stdout.contains("workroom token"), "{stdout}");
    assert!(
        !stderr.contains(&options.token.clone().unwrap()),
        "no token in logs"
    );
}

/// With every filter at `trace`, the log holds no token, no message body and no file
/// content: the libraries that see raw traffic are capped whatever the filter says.
#[tokio::test]
async fn no_token_or_body_reaches_the_log_even_at_trace() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = spawn_server_with(dir.path(), port, |c| {
        c.env("RUST_LOG", "trace")
            .env("WORKROOM_LOG__FORMAT", "json")
            .stderr(Stdio::piped());
    })
    .await;
    // Trace output is plenty: drain it while the server runs, or the pipe fills and stalls it.
    let stderr = server.0.stderr.take().unwrap();
    let drained = std::thread::spawn(move || {
        let mut text = String::new();
        use std::io::Read;
        let mut stderr = stderr;
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let (tls, room, service) = open_room(dir.path(), port, "secret-client@example.com").await;

    let header_token = token(dir.path(), "u1", "member");
    let options = ConnectOptions {
        url: format!("wss://localhost:{port}/v1/ws"),
        tls: tls.clone(),
        token: Some(header_token.clone()),
        origin: None,
    };
    let mut sender = Connection::connect(&options).await.unwrap();
    let body = format!("secret-body-{}", uuid::Uuid::now_v7().simple());
    sender
        .send(&ClientFrame::Send {
            id: Some("s1".into()),
            room: room.clone(),
            client_msg_id: ClientMsgId::try_from("c1".to_string()).unwrap(),
            body: body.clone(),
            attachments: Vec::new(),
        })
        .await
        .unwrap();
    // A browser-style session: the token in the first frame.
    let frame_token = token(dir.path(), "u2", "member");
    let mut browser = Connection::connect(&ConnectOptions {
        token: None,
        ..options
    })
    .await
    .unwrap();
    browser
        .send_text(&json!({"type": "auth", "token": frame_token}).to_string())
        .await
        .unwrap();
    assert!(matches!(
        browser.next(Duration::from_secs(10)).await.unwrap(),
        ServerFrame::Hello { .. }
    ));
    loop {
        if let ServerFrame::Ack { .. } = sender.next(Duration::from_secs(10)).await.unwrap() {
            break;
        }
    }
    server.terminate().await;
    let log = drained.join().unwrap();
    assert!(
        log.lines().count() > 10,
        "the server logged at trace: {log}"
    );
    for (what, secret) in [
        ("the service token", service.as_str()),
        ("the upgrade's token", header_token.as_str()),
        ("the auth frame's token", frame_token.as_str()),
        ("the message body", body.as_str()),
        ("a member's email", "secret-client@example.com"),
    ] {
        assert!(!log.contains(secret), "{what} is in the log");
    }
}
