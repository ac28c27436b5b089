//! End-to-end scenarios against the real server over TLS, one module per family.

mod analytics;
mod audit;
mod auth;
mod authorization;
mod bad_input;
mod cli;
mod connections;
mod contacts;
mod disclosure;
mod encryption;
mod files;
mod files_s3;
mod hardening;
mod keys;
mod lifecycle;
mod logout;
mod messaging;
mod moderation;
mod operations;
mod policy;
mod process;
mod resume;
mod retention;
mod stalls;
mod termination;
mod tracker;
