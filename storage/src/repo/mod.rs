//! Repositories: one module per aggregate, each a set of methods on [`crate::Store`].

pub mod access;
pub mod analytics;
pub(crate) mod chunked;
pub mod connections;
pub mod contacts;
pub mod files;
pub mod grants;
pub mod legal;
pub mod lifecycle;
pub mod messages;
pub mod read_markers;
pub mod reports;
pub mod rooms;
pub mod screenshots;
pub(crate) mod sealing;
pub mod tracker;
