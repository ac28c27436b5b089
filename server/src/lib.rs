//! The Workroom server as a library: `main.rs` only parses the command line and calls
//! [`cli::main`]; tests call [`server::run`] on an ephemeral port.
//!
//! Map: [`config`] (typed settings) → [`server`] (assembly, shutdown) → [`http`] (routes) and
//! [`ws`] (sessions) → [`policy`] (every authorization and purpose decision) → `workroom_storage`
//! (every read and write). [`committer`] batches writes; [`hub`] fans out live events.

pub mod app;
pub mod audit;
pub mod auth;
pub mod blobs;
pub mod cli;
pub mod committer;
pub mod config;
pub mod connlog;
pub mod events;
pub mod health;
pub mod http;
pub mod hub;
mod key_files;
pub mod keys;
pub mod links;
pub mod metrics;
pub mod policy;
pub mod ratelimit;
mod request;
pub mod router;
pub mod server;
pub mod service;
pub mod tasks;
pub mod tls;
pub mod ws;
