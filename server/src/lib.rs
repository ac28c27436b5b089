//! The Workroom server as a library: `main.rs` only parses the command line and calls
//! [`cli::main`]; tests call [`server::run`] on an ephemeral port.
//!
//! Map: [`cli`] → [`server`] (assembly, start-up, shutdown; [`tasks`] in the background) →
//! [`router`] (one route table) → the transports [`http`] and [`ws`] (parse, call, answer)
//! → [`service`] (everything Workroom does) → [`policy`] (every decision, and the proofs
//! content reads need), [`committer`] (batched writes), [`hub`] (live fan-out) →
//! `workroom_storage`. `docs/architecture.md` says what each layer may import.

mod allocator;
pub mod api_docs;
pub mod app;
pub mod audit;
pub mod auth;
pub mod blobs;
pub mod bundle;
pub mod bus;
pub mod cli;
pub mod committer;
pub mod config;
pub mod connlog;
pub mod data_dir;
pub mod events;
mod fnv;
pub mod health;
pub mod http;
pub mod hub;
mod key_files;
pub mod keys;
pub mod links;
pub mod listener;
pub mod logging;
pub mod metrics;
pub mod policy;
pub mod presence;
pub mod ratelimit;
mod request;
pub mod router;
pub mod secrets;
pub mod server;
pub mod service;
pub mod sign_in_links;
pub mod signals;
pub mod signing_key;
pub mod tasks;
#[cfg(test)]
mod temp_dir;
pub mod tls;
pub mod ws;
