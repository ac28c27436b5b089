//! A workroom. `last_seq` is the per-room sequence counter: it is only ever advanced inside
//! the transaction that inserts the events it numbers, which is what makes seqs gap-free
//! across server processes. `file_bytes` likewise changes only in the transactions that add
//! or withdraw the files it totals.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rooms")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `private` (one accepted bid) or `shared` (the project's shared room).
    pub kind: String,
    pub project_id: String,
    #[sea_orm(unique)]
    pub bid_id: Option<String>,
    pub last_seq: i64,
    /// Bytes of the room's live (not withdrawn) files: the quota's running total.
    pub file_bytes: i64,
    pub purpose: String,
    pub created_at: i64,
    pub closed_at: Option<i64>,
    /// The room's own retention after it closes (seconds), overriding the global one.
    pub retention_secs: Option<i64>,
    /// When its purge began: from then on no member reads it.
    pub purge_started_at: Option<i64>,
    /// The node working on the purge holds it until then (another takes over after).
    pub purge_lease_until: Option<i64>,
    /// When its purge finished: the row is a tombstone from then on.
    pub purged_at: Option<i64>,
    pub purged_messages: i64,
    pub purged_files: i64,
    pub purged_bytes: i64,
}

impl ActiveModelBehavior for ActiveModel {}
