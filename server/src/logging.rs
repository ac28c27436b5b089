//! The process's log: `log.filter` (or `RUST_LOG`) chooses what is written, in `log.format`,
//! to stderr, but never below [`LIBRARY_CAP`] for the libraries that see raw traffic.
//! At debug and trace they write whole frames, headers, SQL values and request bodies:
//! tokens, message bodies, file contents. No filter an operator sets can lift the cap, so
//! `RUST_LOG=trace` is safe to use on a live server. Our own code logs no secret at any
//! level (ids and reasons only).

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The most these libraries may write.
pub const LIBRARY_CAP: LevelFilter = LevelFilter::INFO;

/// Libraries that handle request bytes: WebSocket frames, HTTP/1 and HTTP/2, TLS, the
/// database drivers (statements with their values), the S3 client (requests and bodies),
/// the HTTP client.
const TRAFFIC_LIBRARIES: &[&str] = &[
    "tungstenite",
    "tokio_tungstenite",
    "axum",
    "axum_core",
    "hyper",
    "hyper_util",
    "h2",
    "rustls",
    "tokio_rustls",
    "sqlx",
    "sqlx_core",
    "sqlx_postgres",
    "sqlx_sqlite",
    "sea_orm",
    "sea_orm_migration",
    "sea_query",
    "aws_config",
    "aws_sdk_s3",
    "aws_sdk_sts",
    "aws_sdk_sso",
    "aws_sdk_ssooidc",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http",
    "aws_smithy_http_client",
    "aws_smithy_types",
    "aws_sigv4",
    "reqwest",
    "jsonwebtoken",
];

/// The caps as a filter: everything else passes to the operator's filter.
pub fn library_caps() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(TRAFFIC_LIBRARIES.iter().map(|t| (*t, LIBRARY_CAP)))
}

/// Install the subscriber (once per process; later calls do nothing).
pub fn init(filter: &str, json: bool) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let output = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let output = if json {
        output.json().boxed()
    } else {
        output.boxed()
    };
    // Both as global filters: nested per-layer filters lost events now and then (callsite
    // interest computed while another thread registered the same callsite).
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(library_caps())
        .with(output)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn traffic_libraries_are_capped_and_our_code_is_not() {
        let caps = library_caps();
        assert!(!caps.would_enable("tungstenite::protocol", &Level::DEBUG));
        assert!(!caps.would_enable("h2::codec", &Level::TRACE));
        assert!(!caps.would_enable("sea_orm::driver", &Level::DEBUG));
        assert!(caps.would_enable("hyper::server", &Level::INFO));
        assert!(caps.would_enable("workroom_server::ws", &Level::TRACE));
    }
}
