//! The HTTPS transport: one module per area of routes, each handler a thin adapter (extract
//! the request, call [`crate::service`], put the answer on the wire), plus the middleware
//! every request passes (connection log, policy guard, security headers, fail-fast,
//! draining refused uploads). Which path goes to which handler is [`crate::router`]'s one table.

pub(crate) mod analytics;
pub(crate) mod api_docs;
pub(crate) mod audit;
pub(crate) mod connection_log;
pub(crate) mod contacts;
pub mod error;
pub mod extract;
pub(crate) mod fail_fast;
pub(crate) mod files;
pub(crate) mod legal;
pub(crate) mod lifecycle;
pub(crate) mod marketplace;
pub(crate) mod moderation;
pub(crate) mod ops;
pub(crate) mod policy_guard;
pub(crate) mod refused_upload;
pub(crate) mod reports;
pub(crate) mod rooms;
pub(crate) mod screenshots;
pub(crate) mod security_headers;
pub(crate) mod sign_in;
pub(crate) mod tracker;
pub(crate) mod web;
