//! The fault suite: the real `workroom` binary under load while what it depends on fails.
//! The disk fills under SQLite; PostgreSQL stops (`immediate` and `fast`) and starts again;
//! the S3 server stops, or hangs (`SIGSTOP`), and comes back; the server itself is killed
//! with SIGKILL on PostgreSQL; one node of a three-node cluster (PostgreSQL + NATS) is
//! killed, and the cluster's NATS is killed and started again. Each case then checks that
//! no acknowledged message, file or audit entry was lost and that nothing unacknowledged
//! was half-stored (retrying every refused send with its `client_msg_id` stores each
//! exactly once), and prints what the clients saw during the fault and how long recovery
//! took.
//!
//! Each case needs what a plain `cargo test` machine lacks (root for a tmpfs, a PostgreSQL
//! cluster it may stop, an S3 server binary it may stop), so they are ignored there and run
//! by `.ci/run` with `--ignored --test-threads=1 --nocapture`, where a missing requirement
//! fails them.

mod checks;
mod cluster;
mod disk_full;
mod drivers;
mod ledger;
mod load;
mod node;
mod object_store;
mod postgres;
mod purge;
mod scenario;
