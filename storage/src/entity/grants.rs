//! A moderator's access grant on one workroom (C6). The reason is sealed under the room key
//! (item `grant:<id>:reason`). Its state is derived from the times: revoked, expired, pending
//! approval or active.
use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "grants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub room_id: String,
    pub moderator_id: String,
    pub case_id: String,
    pub reason_sealed: Vec<u8>,
    /// Comma-separated scopes (`history,files,live,connections,notice`).
    pub scope: String,
    pub duration_ms: i64,
    pub needs_approval: bool,
    pub opened_at: i64,
    /// Pending: the approval deadline. Otherwise: the end of the active period.
    pub expires_at: i64,
    pub approved_by: Option<String>,
    pub approved_at: Option<i64>,
    pub revoked_by: Option<String>,
    pub revoked_at: Option<i64>,
    /// Whether `grant.expired` has been written to the audit trail.
    pub expiry_recorded: bool,
    pub purpose: String,
}

impl ActiveModelBehavior for ActiveModel {}
