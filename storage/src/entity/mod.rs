//! sea-orm entities, one per table. They are private to this crate: repositories map rows
//! into plain domain structs, so sea-orm types never reach the server.
//!
//! The derive macros generate `pub` items inside these crate-private modules, so the
//! `unreachable_pub` lint is silenced here only.
#![allow(unreachable_pub)]

pub(crate) mod account_members;
pub(crate) mod accounts;
pub(crate) mod analytics_daily;
pub(crate) mod analytics_marks;
pub(crate) mod audit_checkpoints;
pub(crate) mod audit_entries;
pub(crate) mod bans;
pub(crate) mod connection_users;
pub(crate) mod connections;
pub(crate) mod contact_releases;
pub(crate) mod contacts;
pub(crate) mod data_keys;
pub(crate) mod files;
pub(crate) mod grants;
pub(crate) mod legal_exports;
pub(crate) mod legal_holds;
pub(crate) mod messages;
pub(crate) mod pending_erasures;
pub(crate) mod prior_versions;
pub(crate) mod project_shared_rooms;
pub(crate) mod read_markers;
pub(crate) mod report_messages;
pub(crate) mod reports;
pub(crate) mod revoked_bots;
pub(crate) mod revoked_tokens;
pub(crate) mod room_parties;
pub(crate) mod rooms;
pub(crate) mod screenshots;
pub(crate) mod users;
pub(crate) mod work_view;
