//! One audit trail entry. Rows are only ever inserted (`audit::append_in`); nothing in the
//! code updates or deletes them.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_entries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub actor_role: String,
    pub action: String,
    pub target: String,
    pub purpose: String,
    pub case_id: Option<String>,
    pub request_id: Option<String>,
    /// Canonical JSON (sorted keys). Never message content or secrets.
    pub details: String,
    /// Hex SHA-256 of the previous entry (64 zeros for the first).
    pub prev_hash: String,
    /// Hex SHA-256 over the canonical encoding of this entry, `prev_hash` included.
    pub hash: String,
}

impl ActiveModelBehavior for ActiveModel {}
