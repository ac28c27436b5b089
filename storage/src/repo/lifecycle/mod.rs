//! The data lifecycle (C10, and the revocation part of C14): retention and purge of
//! closed workrooms ([`purge`]), bounded retention of records inside them ([`sweeps`]),
//! termination of users and accounts ([`termination`]) and the erasure that follows
//! ([`erasure`]), the ban record a violation leaves ([`bans`]), legal holds ([`holds`]),
//! erasures a hold deferred ([`pending`]) and token revocation ([`tokens`]).

pub mod bans;
pub mod erasure;
pub mod holds;
pub mod pending;
pub mod purge;
pub mod sweeps;
pub mod termination;
pub mod tokens;
