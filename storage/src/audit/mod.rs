//! The audit trail (C7): append-only and tamper-evident.
//!
//! Each entry carries the hash of the one before it and its own hash over a canonical
//! encoding of all its fields, so altering, removing or reordering an entry breaks the chain
//! at that entry. Signed checkpoints (made by the server, see `workroom_server::audit`)
//! anchor the head, so a truncated tail is caught up to the last checkpoint.
//!
//! Appends are serialised: on SQLite by the single writer (`BEGIN IMMEDIATE`), on
//! PostgreSQL by a transaction-scoped advisory lock, so the chain stays linear with
//! concurrent writers in one process and across processes. An act and its entry commit in
//! one transaction (`append_in`), so no act goes unrecorded.
//!
//! There is no update or delete path for entries anywhere in the code.

mod action;
mod verify;

pub use action::AuditAction;
pub use verify::{ChainFault, ChainReport, ChainVerifier, verify_chain};

use crate::Store;
use crate::entity::{audit_checkpoints, audit_entries};
use crate::error::StorageError;
use crate::proof::{AuditRead, Receipt};
use aws_lc_rs::digest;
use sea_orm::ColumnTrait;
use sea_orm::{
    ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};
use workroom_protocol::Purpose;

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Any constant: the key of the PostgreSQL advisory lock that serialises appends.
const APPEND_LOCK: i64 = 0x5752_4155_4449_5401;

/// Who performed an audited act: a user id (or `operator` for the CLI) and their role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub id: String,
    pub role: String,
}

impl Actor {
    pub fn new(id: impl Into<String>, role: impl Into<String>) -> Actor {
        Actor {
            id: id.into(),
            role: role.into(),
        }
    }

    /// An entry by this actor with no case or request id.
    pub fn entry(
        &self,
        action: AuditAction,
        target: &str,
        purpose: Purpose,
        details: serde_json::Value,
    ) -> NewAuditEntry {
        NewAuditEntry::new(&self.id, &self.role, action, target, purpose, details)
    }
}

/// What is recorded. `details` must never hold message content or secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    pub actor: String,
    pub actor_role: String,
    pub action: AuditAction,
    pub target: String,
    pub purpose: Purpose,
    pub case_id: Option<String>,
    pub request_id: Option<String>,
    pub details: serde_json::Value,
}

impl NewAuditEntry {
    /// An entry with no case or request id.
    pub fn new(
        actor: &str,
        actor_role: &str,
        action: AuditAction,
        target: &str,
        purpose: Purpose,
        details: serde_json::Value,
    ) -> NewAuditEntry {
        NewAuditEntry {
            actor: actor.into(),
            actor_role: actor_role.into(),
            action,
            target: target.into(),
            purpose,
            case_id: None,
            request_id: None,
            details,
        }
    }

    /// The same entry, filed under a moderation case.
    pub fn with_case(mut self, case_id: &str) -> NewAuditEntry {
        self.case_id = Some(case_id.to_string());
        self
    }

    /// The same entry, filed under a legal request.
    pub fn with_request(mut self, request_id: &str) -> NewAuditEntry {
        self.request_id = Some(request_id.to_string());
        self
    }
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: u64,
    pub at: i64,
    pub actor: String,
    pub actor_role: String,
    pub action: String,
    pub target: String,
    pub purpose: String,
    pub case_id: Option<String>,
    pub request_id: Option<String>,
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

/// What `audit_page` returns: every given field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// `room:<id>`, `account:<id>`, …
    pub target: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    /// Unix ms, inclusive.
    pub from_ms: Option<i64>,
    /// Unix ms, exclusive.
    pub until_ms: Option<i64>,
    pub after_seq: u64,
    pub limit: u64,
}

/// A stored checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCheckpoint {
    pub seq: u64,
    pub hash: String,
    pub at: i64,
    pub key_id: String,
    pub signature: String,
}

pub(crate) fn to_entry(m: audit_entries::Model) -> AuditEntry {
    AuditEntry {
        seq: u64::try_from(m.seq).unwrap_or(0),
        at: m.at,
        actor: m.actor,
        actor_role: m.actor_role,
        action: m.action,
        target: m.target,
        purpose: m.purpose,
        case_id: m.case_id,
        request_id: m.request_id,
        details: m.details,
        prev_hash: m.prev_hash,
        hash: m.hash,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The entry's hash: SHA-256 over a length-prefixed encoding of every field in a fixed
/// order, `prev_hash` last. Length prefixes make the encoding unambiguous.
pub fn entry_hash(entry: &AuditEntry) -> String {
    let seq = entry.seq.to_string();
    let at = entry.at.to_string();
    let fields: [&str; 11] = [
        &seq,
        &at,
        &entry.actor,
        &entry.actor_role,
        &entry.action,
        &entry.target,
        &entry.purpose,
        entry.case_id.as_deref().unwrap_or("\u{0}none"),
        entry.request_id.as_deref().unwrap_or("\u{0}none"),
        &entry.details,
        &entry.prev_hash,
    ];
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(b"workroom-audit-entry/v1");
    for field in fields {
        ctx.update(&(field.len() as u64).to_be_bytes());
        ctx.update(field.as_bytes());
    }
    hex(ctx.finish().as_ref())
}

/// The bytes a checkpoint signature covers.
pub fn checkpoint_message(seq: u64, hash: &str, at: i64, key_id: &str) -> Vec<u8> {
    format!("workroom-audit-checkpoint/v1\n{seq}\n{hash}\n{at}\n{key_id}").into_bytes()
}

/// Append entries inside the caller's write transaction (the act and its record commit
/// together). Returns the new seqs.
async fn append_in<C: ConnectionTrait>(
    conn: &C,
    at: i64,
    entries: &[NewAuditEntry],
) -> Result<Vec<u64>, StorageError> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    if conn.get_database_backend() == DbBackend::Postgres {
        conn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [APPEND_LOCK.into()],
        ))
        .await?;
    }
    let head = audit_entries::Entity::find()
        .order_by_desc(audit_entries::Column::Seq)
        .limit(1)
        .one(conn)
        .await?;
    let (mut seq, mut prev) = match head {
        Some(h) => (u64::try_from(h.seq).unwrap_or(0), h.hash),
        None => (0, GENESIS.to_string()),
    };
    let mut seqs = Vec::with_capacity(entries.len());
    let mut rows = Vec::with_capacity(entries.len());
    for new in entries {
        seq += 1;
        let mut entry = AuditEntry {
            seq,
            at,
            actor: new.actor.clone(),
            actor_role: new.actor_role.clone(),
            action: new.action.as_str().to_string(),
            target: new.target.clone(),
            purpose: new.purpose.as_str().to_string(),
            case_id: new.case_id.clone(),
            request_id: new.request_id.clone(),
            // serde_json's map is sorted by key: this is canonical.
            details: new.details.to_string(),
            prev_hash: prev.clone(),
            hash: String::new(),
        };
        entry.hash = entry_hash(&entry);
        prev = entry.hash.clone();
        seqs.push(seq);
        rows.push(audit_entries::ActiveModel::from(audit_entries::Model {
            seq: i64::try_from(entry.seq).unwrap_or(i64::MAX),
            at: entry.at,
            actor: entry.actor,
            actor_role: entry.actor_role,
            action: entry.action,
            target: entry.target,
            purpose: entry.purpose,
            case_id: entry.case_id,
            request_id: entry.request_id,
            details: entry.details,
            prev_hash: entry.prev_hash,
            hash: entry.hash,
        }));
    }
    audit_entries::Entity::insert_many(rows)
        .exec_without_returning(conn)
        .await?;
    Ok(seqs)
}

impl Store {
    /// Append entries inside the caller's write transaction (the act and its record commit
    /// together), stamped with the store's clock. Returns the new seqs.
    pub(crate) async fn append_audit_in<C: ConnectionTrait>(
        &self,
        conn: &C,
        entries: &[NewAuditEntry],
    ) -> Result<Vec<u64>, StorageError> {
        append_in(conn, self.clock.now_ms(), entries).await
    }

    /// Append entries in a transaction of their own.
    /// Returns one receipt per entry, the proof that it committed (an audited read's
    /// [`crate::proof::Unrecorded`] proof is redeemed with one).
    pub async fn append_audit(
        &self,
        entries: &[NewAuditEntry],
    ) -> Result<Vec<Receipt>, StorageError> {
        let txn = self.begin_write().await?;
        self.append_audit_in(&txn, entries).await?;
        txn.commit().await?;
        Ok(Receipt::for_entries(entries.len()))
    }

    /// Entries with `seq > after`, oldest first, at most `limit`.
    pub async fn audit_entries_after(
        &self,
        after: u64,
        limit: u64,
    ) -> Result<Vec<AuditEntry>, StorageError> {
        Ok(audit_entries::Entity::find()
            .filter(audit_entries::Column::Seq.gt(i64::try_from(after).unwrap_or(i64::MAX)))
            .order_by_asc(audit_entries::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_entry)
            .collect())
    }

    /// A page of entries matching `filter`, oldest first, `seq > filter.after_seq`.
    pub async fn audit_page(
        &self,
        _read: &AuditRead,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditEntry>, StorageError> {
        let mut query = audit_entries::Entity::find()
            .filter(
                audit_entries::Column::Seq.gt(i64::try_from(filter.after_seq).unwrap_or(i64::MAX)),
            )
            .order_by_asc(audit_entries::Column::Seq)
            .limit(filter.limit);
        if let Some(target) = &filter.target {
            query = query.filter(audit_entries::Column::Target.eq(target.as_str()));
        }
        if let Some(actor) = &filter.actor {
            query = query.filter(audit_entries::Column::Actor.eq(actor.as_str()));
        }
        if let Some(action) = &filter.action {
            query = query.filter(audit_entries::Column::Action.eq(action.as_str()));
        }
        if let Some(from) = filter.from_ms {
            query = query.filter(audit_entries::Column::At.gte(from));
        }
        if let Some(until) = filter.until_ms {
            query = query.filter(audit_entries::Column::At.lt(until));
        }
        Ok(query
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_entry)
            .collect())
    }

    /// The newest entry, if any.
    pub async fn audit_head(&self) -> Result<Option<AuditEntry>, StorageError> {
        Ok(audit_entries::Entity::find()
            .order_by_desc(audit_entries::Column::Seq)
            .limit(1)
            .one(&self.db)
            .await?
            .map(to_entry))
    }

    /// The seq of the newest checkpoint (0 when there is none).
    pub async fn last_audit_checkpoint_seq(&self) -> Result<u64, StorageError> {
        Ok(audit_checkpoints::Entity::find()
            .order_by_desc(audit_checkpoints::Column::Seq)
            .limit(1)
            .one(&self.db)
            .await?
            .map_or(0, |c| u64::try_from(c.seq).unwrap_or(0)))
    }

    /// Every checkpoint, oldest first.
    pub async fn audit_checkpoints(&self) -> Result<Vec<AuditCheckpoint>, StorageError> {
        Ok(audit_checkpoints::Entity::find()
            .order_by_asc(audit_checkpoints::Column::Seq)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|c| AuditCheckpoint {
                seq: u64::try_from(c.seq).unwrap_or(0),
                hash: c.hash,
                at: c.at,
                key_id: c.key_id,
                signature: c.signature,
            })
            .collect())
    }

    /// Record a signed checkpoint. A second one for the same seq (another node got there
    /// first) is dropped.
    pub async fn insert_audit_checkpoint(
        &self,
        checkpoint: &AuditCheckpoint,
    ) -> Result<(), StorageError> {
        audit_checkpoints::Entity::insert(audit_checkpoints::ActiveModel {
            seq: Set(i64::try_from(checkpoint.seq).unwrap_or(i64::MAX)),
            hash: Set(checkpoint.hash.clone()),
            at: Set(checkpoint.at),
            key_id: Set(checkpoint.key_id.clone()),
            signature: Set(checkpoint.signature.clone()),
        })
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(audit_checkpoints::Column::Seq)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }
}
