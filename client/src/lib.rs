//! A Rust client for Workroom: WSS sessions that speak `workroom_protocol` frames, and an
//! HTTPS client for the service and member calls. Used by bots, the integration tests and
//! the `bench` load tool.
//!
//! TLS is always verified: callers pass the PEM of the certificates they trust (for a dev
//! server, `<data dir>/tls/cert.pem`). There is no option to turn verification off.

pub mod http;
pub mod procfs;
pub mod tls;
pub mod ws;

pub use http::HttpClient;
pub use tls::{TlsError, client_config};
pub use ws::{Connection, WsError};
