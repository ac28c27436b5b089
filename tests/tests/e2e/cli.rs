//! Running the real binary against a test server's data dir and database.

use std::process::Command;
use workroom_tests::workroom_server::config::Config;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_workroom-under-test");

/// Run `workroom <args> --data-dir <the server's>` on the server's database.
pub(crate) fn workroom(config: &Config, args: &[&str]) -> std::process::Output {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .arg("--data-dir")
        .arg(&config.data_dir)
        .env("WORKROOM_LOG__FILTER", "warn");
    if let Some(url) = &config.database_url {
        command.env("WORKROOM_DATABASE_URL", url);
    }
    // The shared secrets the server was given (PostgreSQL refuses to run without them).
    for (key, path) in [
        (
            "WORKROOM_KEYS__MASTER_KEY_FILE",
            &config.keys.master_key_file,
        ),
        (
            "WORKROOM_AUDIT__SIGNING_KEY_FILE",
            &config.audit.signing_key_file,
        ),
        (
            "WORKROOM_LEGAL__SIGNING_KEY_FILE",
            &config.legal.signing_key_file,
        ),
    ] {
        if let Some(path) = path {
            command.env(key, path);
        }
    }
    command.output().expect("run workroom")
}

/// The stdout of a run that must succeed.
pub(crate) fn ok(output: std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Trade a sign-in code for its token: the status and the body.
pub(crate) async fn redeem(
    server: &workroom_tests::TestServer,
    code: &str,
) -> (u16, serde_json::Value) {
    let response = server
        .http
        .inner
        .post(server.http.url("/v1/dev/sign-in"))
        .json(&serde_json::json!({"code": code}))
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

/// `workroom token --sign-in-link` prints a link whose fragment carries a one-time code;
/// the page trades it once for a working token; a second use and a made-up code get
/// `not_found` (and any code on a server whose development key is off: `keys.rs`).
#[tokio::test]
async fn a_sign_in_link_gives_its_token_once_and_only_on_the_development_server() {
    let server = workroom_tests::TestServer::start().await;
    let link = ok(workroom(
        &server.config,
        &["token", "--sub", "u1", "--role", "member", "--sign-in-link"],
    ));
    let link = link.trim();
    assert!(link.starts_with("https://localhost:"), "{link}");
    let (_, code) = link
        .split_once("/#sign-in=")
        .expect("a fragment with the code");
    assert!(!code.contains('.'), "a code, not a JWT: {link}");

    let (status, answer) = redeem(&server, code).await;
    assert_eq!(status, 200, "{answer}");
    let token = answer["token"].as_str().expect("token");
    let rooms = server.http.get("/v1/rooms", token).send().await.unwrap();
    assert_eq!(rooms.status(), 200, "the token works");

    let (status, answer) = redeem(&server, code).await;
    assert_eq!((status, answer["code"].as_str()), (404, Some("not_found")));
    let (status, _) = redeem(&server, &"x".repeat(43)).await;
    assert_eq!(status, 404);
}
