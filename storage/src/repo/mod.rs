//! Repositories: one module per aggregate, each a set of methods on [`crate::Store`].

pub mod access;
pub mod files;
pub mod messages;
pub mod read_markers;
pub mod rooms;
pub(crate) mod sealing;
