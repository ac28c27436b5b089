//! Production token keys (C14): RS256, ES256 and EdDSA keys by `kid`, from PEM files and
//! from a JWKS document, rotated without a restart; the dev key off once production keys
//! exist; token lifetimes bounded and no `iat` in the future.

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::json;
use std::path::Path;
use std::time::Duration;
use workroom_tests::{TestServer, eventually};

/// Where a test writes the key material it configures.
struct ConfigPaths {
    jwks: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// A signing key of one algorithm, with what the server needs to trust it.
struct TestKey {
    kid: String,
    algorithm: Algorithm,
    signing: EncodingKey,
    /// The public key as SPKI PEM.
    public_pem: String,
    /// The public key as a JWK.
    jwk: serde_json::Value,
}

fn rsa_key(kid: &str) -> TestKey {
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).unwrap();
    let spki: PublicKeyX509Der = pair.public_key().as_der().unwrap();
    TestKey {
        kid: kid.into(),
        algorithm: Algorithm::RS256,
        signing: EncodingKey::from_rsa_pem(pem("PRIVATE KEY", pkcs8.as_ref()).as_bytes()).unwrap(),
        public_pem: pem("PUBLIC KEY", spki.as_ref()),
        jwk: json!({}),
    }
}

fn ec_key(kid: &str) -> TestKey {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let point = pair.public_key().as_ref().to_vec();
    let spki: PublicKeyX509Der = pair.public_key().as_der().unwrap();
    TestKey {
        kid: kid.into(),
        algorithm: Algorithm::ES256,
        signing: EncodingKey::from_ec_der(pkcs8.as_ref()),
        public_pem: pem("PUBLIC KEY", spki.as_ref()),
        jwk: json!({
            "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        }),
    }
}

fn ed_key(kid: &str) -> TestKey {
    let rng = SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let spki: PublicKeyX509Der = pair.public_key().as_der().unwrap();
    TestKey {
        kid: kid.into(),
        algorithm: Algorithm::EdDSA,
        signing: EncodingKey::from_ed_der(pkcs8.as_ref()),
        public_pem: pem("PUBLIC KEY", spki.as_ref()),
        jwk: json!({
            "kty": "OKP", "crv": "Ed25519", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
        }),
    }
}

/// A member token for `sub`, signed by `key` under `kid` and `algorithm` (normally the
/// key's own).
fn token_as(
    server: &TestServer,
    key: &TestKey,
    kid: &str,
    algorithm: Algorithm,
    sub: &str,
) -> String {
    let mut header = Header::new(algorithm);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, &server.claims(sub), &key.signing).unwrap()
}

fn token(server: &TestServer, key: &TestKey, sub: &str) -> String {
    token_as(server, key, &key.kid, key.algorithm, sub)
}

async fn status(server: &TestServer, token: &str) -> StatusCode {
    server
        .http
        .get("/v1/rooms", token)
        .send()
        .await
        .unwrap()
        .status()
}

fn write_jwks(path: &Path, keys: &[&TestKey]) {
    let jwks = json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() });
    std::fs::write(path, serde_json::to_vec_pretty(&jwks).unwrap()).unwrap();
}

async fn server_trusting(rsa: &TestKey, jwks_keys: &[&TestKey]) -> (TestServer, ConfigPaths) {
    let dir = tempfile::tempdir().unwrap();
    let rsa_pem = dir.path().join("rsa-1.pem");
    let paths = ConfigPaths {
        jwks: dir.path().join("jwks.json"),
        _dir: dir,
    };
    std::fs::write(&rsa_pem, &rsa.public_pem).unwrap();
    write_jwks(&paths.jwks, jwks_keys);
    let (jwks, kid) = (paths.jwks.clone(), rsa.kid.clone());
    let server = TestServer::start_with(Box::new(move |c| {
        c.auth.keys = vec![workroom_server::config::KeyConfig {
            kid,
            algorithm: "RS256".into(),
            public_key_file: rsa_pem,
        }];
        c.auth.jwks_file = Some(jwks);
        c.auth.reload_interval_secs = 1;
    }))
    .await;
    (server, paths)
}

#[tokio::test]
async fn each_algorithm_verifies_by_kid_from_files_and_jwks_and_the_dev_key_is_off() {
    let (rsa, ec, ed) = (rsa_key("rsa-1"), ec_key("ec-1"), ed_key("ed-1"));
    let (server, _paths) = server_trusting(&rsa, &[&ec, &ed]).await;
    for key in [&rsa, &ec, &ed] {
        assert_eq!(
            status(&server, &token(&server, key, "u1")).await,
            StatusCode::OK,
            "{:?} by kid {}",
            key.algorithm,
            key.kid
        );
    }
    // Another key's signature under a trusted kid, and the kid's own key under another
    // algorithm's name, are refused alike.
    let foreign = ed_key("x");
    assert_eq!(
        status(
            &server,
            &token_as(&server, &foreign, "ed-1", Algorithm::EdDSA, "u1")
        )
        .await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(
            &server,
            &token_as(&server, &ed, "ec-1", Algorithm::EdDSA, "u1")
        )
        .await,
        StatusCode::UNAUTHORIZED
    );
    // With production keys configured and dev_key unset, dev-key tokens are refused.
    assert!(!server.config.auth.dev_key_on());
    let dev = workroom_server::auth::DevKey::load_or_create(server.data_dir.path())
        .unwrap()
        .0;
    let dev_token = dev.sign(&server.claims("u1")).unwrap();
    assert_eq!(status(&server, &dev_token).await, StatusCode::UNAUTHORIZED);
    // Nor does a sign-in link: they belong to the development server.
    let link = crate::cli::ok(crate::cli::workroom(
        &server.config,
        &["token", "--sub", "u1", "--role", "member", "--sign-in-link"],
    ));
    let (_, code) = link.trim().split_once("/#sign-in=").expect("a link");
    let (status, answer) = crate::cli::redeem(&server, code).await;
    assert_eq!((status, answer["code"].as_str()), (404, Some("not_found")));
}

#[tokio::test]
async fn keys_rotate_without_a_restart_and_a_broken_set_keeps_the_last_good_one() {
    let (rsa, ec, ed) = (rsa_key("rsa-1"), ec_key("ec-1"), ed_key("ed-1"));
    let (server, paths) = server_trusting(&rsa, &[&ec, &ed]).await;
    let old = token(&server, &ec, "u1");
    assert_eq!(status(&server, &old).await, StatusCode::OK);

    // The marketplace publishes a new key and retires the old one.
    let next = ed_key("ed-2");
    write_jwks(&paths.jwks, &[&ed, &next]);
    let fresh = token(&server, &next, "u1");
    eventually(Duration::from_secs(10), "the new key in force", || async {
        (status(&server, &fresh).await == StatusCode::OK).then_some(())
    })
    .await;
    assert_eq!(status(&server, &old).await, StatusCode::UNAUTHORIZED);

    // A half-written key set is not taken: the keys in force stay.
    std::fs::write(&paths.jwks, b"{\"keys\": [").unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(status(&server, &fresh).await, StatusCode::OK);
    assert_eq!(
        status(&server, &token(&server, &rsa, "u1")).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn token_lifetimes_are_bounded_and_none_is_issued_in_the_future() {
    let server = TestServer::start_with(Box::new(|c| {
        c.auth.max_token_lifetime_secs = 3600;
    }))
    .await;
    let now = server.claims("u1").iat;
    let mut far_future = server.claims("u1");
    far_future.exp = now + 10 * 365 * 24 * 3600;
    let mut long_lived = server.claims("u1");
    (long_lived.iat, long_lived.nbf, long_lived.exp) = (now - 7000, Some(now - 7000), now + 200);
    let mut from_the_future = server.claims("u1");
    from_the_future.iat = now + 365 * 24 * 3600;
    let mut at_the_limit = server.claims("u1");
    at_the_limit.exp = now + 3600;
    for (name, claims, expected) in [
        ("expires in ten years", far_future, StatusCode::UNAUTHORIZED),
        (
            "claims a two-hour life",
            long_lived,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "issued a year ahead",
            from_the_future,
            StatusCode::UNAUTHORIZED,
        ),
        ("an hour, the limit", at_the_limit, StatusCode::OK),
    ] {
        assert_eq!(
            status(&server, &server.sign(&claims)).await,
            expected,
            "{name}"
        );
    }
}
