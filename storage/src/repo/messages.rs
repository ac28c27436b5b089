//! The room timeline: batched, durable appends with gap-free per-room seqs, and the reads
//! that page history and replay what a client missed.
//!
//! `append_batch` is the only writer of `messages` and of `rooms.last_seq`. It runs one
//! transaction for many events across many rooms (one fsync per batch, not per message).
//! Seqs come from `UPDATE rooms SET last_seq = last_seq + k … RETURNING last_seq` inside that
//! transaction: the row lock serialises concurrent writers, including other server processes
//! on the same PostgreSQL database, and a rolled-back batch leaves no hole. Rooms are locked
//! in id order so that two batches can never deadlock.

use crate::MessageBody;
use crate::Store;
use crate::audit::NewAuditEntry;
use crate::entity::{files, messages, prior_versions, rooms};
use crate::error::{StorageError, is_unique_violation};
use crate::keyring::{KeyScope, SealingKey, Unreadable, open_text};
use crate::proof::{PriorRead, Receipt, ReportRead, TimelineRead};
use crate::repo::analytics::{Metric, Share};
use crate::repo::files::withdraw_message_files;
use crate::repo::sealing::message_body_item;
use crate::time::to_seq;
use sea_orm::sea_query::{CaseStatement, Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use workroom_protocol::{ClientMsgId, Purpose, RoomId};

/// What a new timeline event does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewEventKind {
    /// `attachments`: ids of files the sender uploaded to this room and not yet attached.
    Message {
        body: MessageBody,
        attachments: Vec<String>,
    },
    Edit {
        target_seq: u64,
        body: MessageBody,
    },
    Delete {
        target_seq: u64,
    },
}

/// One event to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub room_id: RoomId,
    pub sender_id: String,
    pub client_msg_id: Option<ClientMsgId>,
    pub kind: NewEventKind,
    /// A moderator's system notice (kind `Message`), not a member's message.
    pub notice: bool,
}

/// The kind column of a stored event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKindRow {
    Message,
    Edit,
    Delete,
}

/// A stored timeline event. For messages, `body` is the latest version (`None` once
/// deleted); for edits, the body the edit set. `unreadable` says why a body that was stored
/// cannot be shown (its room key was destroyed, or the ciphertext is damaged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub room_id: String,
    pub seq: u64,
    pub msg_id: String,
    pub kind: EventKindRow,
    pub sender_id: String,
    pub client_msg_id: Option<String>,
    pub body: Option<String>,
    pub target_seq: Option<u64>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub deleted_at: Option<i64>,
    pub unreadable: Option<Unreadable>,
    pub attachments: Vec<String>,
    pub notice: bool,
    /// What the event was collected for (C5); `None` when the stored name is not a purpose
    /// this server knows, and then no read purpose may see it.
    pub purpose: Option<Purpose>,
}

/// A successful append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendOutcome {
    /// Newly stored.
    Stored(StoredEvent),
    /// The same (room, sender, client_msg_id) was stored before: the original event.
    Duplicate(StoredEvent),
}

impl AppendOutcome {
    pub fn event(&self) -> &StoredEvent {
        match self {
            AppendOutcome::Stored(e) | AppendOutcome::Duplicate(e) => e,
        }
    }
}

/// Why one event of a batch was refused. The rest of the batch is unaffected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    #[error("room not found")]
    RoomNotFound,
    #[error("room is closed")]
    RoomClosed,
    #[error("room was erased")]
    RoomErased,
    #[error("no message with that seq")]
    TargetNotFound,
    #[error("only the author may change a message")]
    NotAuthor,
    #[error("the message was deleted")]
    TargetDeleted,
    #[error("attachment {0}")]
    BadAttachment(String),
    /// The database could not take the batch at all (unreachable, out of disk, refusing
    /// writes, no connection in time: [`StorageError::is_outage`]).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The batch failed for another reason (a concurrent change, an internal error).
    #[error("storage failure: {0}")]
    Storage(String),
}

impl AppendError {
    /// The whole batch failed with `error`.
    fn batch_failed(error: &StorageError) -> AppendError {
        if error.is_outage() {
            AppendError::Unavailable(error.to_string())
        } else {
            AppendError::Storage(error.to_string())
        }
    }
}

fn kind_str(kind: &NewEventKind) -> &'static str {
    match kind {
        NewEventKind::Message { .. } => "message",
        NewEventKind::Edit { .. } => "edit",
        NewEventKind::Delete { .. } => "delete",
    }
}

/// A row as a domain event, its body opened with the room key (`None`: the key is gone).
fn to_event(m: messages::Model, key: Option<&SealingKey>) -> StoredEvent {
    let (body, unreadable) = match open_text(
        key,
        &message_body_item(&m.msg_id, m.version),
        m.body_sealed.as_deref(),
    ) {
        Ok(body) => (body, None),
        Err(why) => {
            if why == Unreadable::Damaged {
                tracing::error!(room = %m.room_id, seq = m.seq, "message body failed its integrity check");
            }
            (None, Some(why))
        }
    };
    let attachments = m
        .attachments
        .as_deref()
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_default();
    StoredEvent {
        kind: match m.kind.as_str() {
            "edit" => EventKindRow::Edit,
            "delete" => EventKindRow::Delete,
            _ => EventKindRow::Message,
        },
        room_id: m.room_id,
        seq: to_seq(m.seq),
        msg_id: m.msg_id,
        sender_id: m.sender_id,
        client_msg_id: m.client_msg_id,
        body,
        target_seq: m.target_seq.map(to_seq),
        created_at: m.created_at,
        edited_at: m.edited_at,
        deleted_at: m.deleted_at,
        unreadable,
        attachments,
        notice: m.notice,
        purpose: Purpose::parse(&m.purpose),
    }
}

type IdemKey = (String, String, String);

/// An earlier version of a message: its number and body (or why it cannot be read).
pub type PriorBody = (i32, Result<String, Unreadable>);

/// What a group commit did: each event's result, in order, and for the audit entries that
/// rode along, one receipt per entry once they are stored.
#[derive(Debug)]
pub struct BatchCommit {
    pub events: Vec<Result<AppendOutcome, AppendError>>,
    pub audit: Result<Vec<Receipt>, StorageError>,
}

impl Store {
    /// Append a batch of events in one transaction. Returns one result per input, in order.
    ///
    /// A failure of the whole transaction fails every item with `AppendError::Unavailable`
    /// (the database is down, full, or gave no connection in time) or `AppendError::Storage`
    /// (anything else), and nothing of the batch is stored. A unique violation (another
    /// process stored the same client_msg_id between our check and our insert) makes the
    /// batch retry item by item, so one racing duplicate cannot fail its neighbours, and the
    /// duplicate itself (a batch of one included: the same send retried on two nodes at
    /// once) is answered with the original event's ack, which its retry now finds.
    pub async fn append_batch(
        &self,
        items: &[NewEvent],
    ) -> Vec<Result<AppendOutcome, AppendError>> {
        match self.append_batch_once(items).await {
            Ok(results) => results,
            Err(e) if e.is_unique_violation() && !items.is_empty() => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let one = std::slice::from_ref(item);
                    out.push(match self.append_batch_once(one).await {
                        Ok(mut r) => r
                            .pop()
                            .unwrap_or(Err(AppendError::Storage("empty batch result".into()))),
                        Err(e) => Err(AppendError::batch_failed(&e)),
                    });
                }
                out
            }
            Err(e) => {
                let failed = AppendError::batch_failed(&e);
                items.iter().map(|_| Err(failed.clone())).collect()
            }
        }
    }

    /// [`Store::append_batch`], with audit entries recorded in the same transaction (group
    /// commit: the records of concurrent audited reads cost the message path no commit of
    /// their own). The entries are appended last, so the audit lock stays the last lock.
    /// Returns the events' results and, once the entries are stored, one receipt per entry;
    /// when the batch must be retried item by item, the entries are stored in a transaction
    /// of their own.
    pub async fn append_batch_with_audit(
        &self,
        items: &[NewEvent],
        audit: &[NewAuditEntry],
    ) -> BatchCommit {
        if audit.is_empty() {
            return BatchCommit {
                events: self.append_batch(items).await,
                audit: Ok(Vec::new()),
            };
        }
        let together = async {
            let txn = self.begin_write().await?;
            let results = if items.is_empty() {
                Vec::new()
            } else {
                append_in(self, &txn, items).await?
            };
            self.append_audit_in(&txn, audit).await?;
            txn.commit().await?;
            Ok::<_, StorageError>(results)
        }
        .await;
        match together {
            Ok(events) => BatchCommit {
                events,
                audit: Ok(Receipt::for_entries(audit.len())),
            },
            Err(e) if e.is_unique_violation() && !items.is_empty() => BatchCommit {
                events: self.append_batch(items).await,
                audit: self.append_audit(audit).await,
            },
            Err(e) => {
                let failed = AppendError::batch_failed(&e);
                BatchCommit {
                    events: items.iter().map(|_| Err(failed.clone())).collect(),
                    audit: Err(e),
                }
            }
        }
    }

    async fn append_batch_once(
        &self,
        items: &[NewEvent],
    ) -> Result<Vec<Result<AppendOutcome, AppendError>>, StorageError> {
        let txn = self.begin_write().await?;
        let results = append_in(self, &txn, items).await?;
        txn.commit().await?;
        Ok(results)
    }

    /// Events with `seq > after_seq`, oldest first, at most `limit` (resume and gap fill).
    pub async fn events_after(
        &self,
        read: &impl TimelineRead,
        after_seq: u64,
        limit: u64,
    ) -> Result<Vec<StoredEvent>, StorageError> {
        let room_id = read.room();
        let rows = messages::Entity::find()
            .filter(messages::Column::RoomId.eq(room_id))
            .filter(messages::Column::Seq.gt(after_seq as i64))
            .order_by_asc(messages::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await?;
        self.open_rows(room_id, rows).await
    }

    /// The newest `limit` messages with `seq < before_seq`, oldest first, in their latest
    /// state (edits applied, deletes as tombstones). Edit and delete events are not listed.
    pub async fn history(
        &self,
        read: &impl TimelineRead,
        before_seq: u64,
        limit: u64,
    ) -> Result<Vec<StoredEvent>, StorageError> {
        let room_id = read.room();
        let before = i64::try_from(before_seq).unwrap_or(i64::MAX);
        let mut rows = messages::Entity::find()
            .filter(messages::Column::RoomId.eq(room_id))
            .filter(messages::Column::Seq.lt(before))
            .filter(messages::Column::Kind.eq("message"))
            .order_by_desc(messages::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await?;
        rows.reverse();
        self.open_rows(room_id, rows).await
    }

    async fn open_rows(
        &self,
        room_id: &str,
        rows: Vec<messages::Model>,
    ) -> Result<Vec<StoredEvent>, StorageError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let key = self.opening_key(&self.db, KeyScope::Room(room_id)).await?;
        Ok(rows
            .into_iter()
            .map(|m| to_event(m, key.as_deref()))
            .collect())
    }

    /// Prior bodies of one message, oldest first (the compliance record). A body whose room
    /// key is gone comes back as `Err(Unreadable::Erased)`.
    pub async fn message_versions(
        &self,
        read: &impl PriorRead,
        msg_id: &str,
    ) -> Result<Vec<PriorBody>, StorageError> {
        let mut all = self
            .prior_versions(read, std::slice::from_ref(&msg_id.to_string()))
            .await?;
        Ok(all.remove(msg_id).unwrap_or_default())
    }

    /// Prior bodies of several messages of one room, by message id, each oldest first.
    pub async fn prior_versions(
        &self,
        read: &impl PriorRead,
        msg_ids: &[String],
    ) -> Result<HashMap<String, Vec<PriorBody>>, StorageError> {
        let room_id = read.room();
        let mut out: HashMap<String, Vec<PriorBody>> = HashMap::new();
        if msg_ids.is_empty() {
            return Ok(out);
        }
        let key = self.opening_key(&self.db, KeyScope::Room(room_id)).await?;
        for chunk in msg_ids.chunks(500) {
            let rows = prior_versions::Entity::find()
                .filter(prior_versions::Column::RoomId.eq(room_id))
                .filter(prior_versions::Column::MsgId.is_in(chunk.iter().cloned()))
                .order_by_asc(prior_versions::Column::Version)
                .all(&self.db)
                .await?;
            for v in rows {
                let body = open_text(
                    key.as_deref(),
                    &message_body_item(&v.msg_id, v.version),
                    v.body_sealed.as_deref(),
                )
                .map(Option::unwrap_or_default);
                out.entry(v.msg_id).or_default().push((v.version, body));
            }
        }
        Ok(out)
    }

    /// The messages of one report, in seq order, in their latest state.
    pub async fn messages_by_ids(
        &self,
        read: &ReportRead,
    ) -> Result<Vec<StoredEvent>, StorageError> {
        let (room_id, msg_ids) = (read.room(), read.messages());
        let mut rows = Vec::new();
        for chunk in msg_ids.chunks(500) {
            rows.extend(
                messages::Entity::find()
                    .filter(messages::Column::RoomId.eq(room_id))
                    .filter(messages::Column::Kind.eq("message"))
                    .filter(messages::Column::MsgId.is_in(chunk.iter().cloned()))
                    .all(&self.db)
                    .await?,
            );
        }
        rows.sort_by_key(|m| m.seq);
        self.open_rows(room_id, rows).await
    }

    /// The room's current last seq, or `None` when there is no such room.
    pub async fn room_last_seq(&self, room_id: &str) -> Result<Option<u64>, StorageError> {
        Ok(rooms::Entity::find_by_id(room_id.to_string())
            .one(&self.db)
            .await?
            .map(|r| to_seq(r.last_seq)))
    }
}

async fn append_in(
    store: &Store,
    txn: &DatabaseTransaction,
    items: &[NewEvent],
) -> Result<Vec<Result<AppendOutcome, AppendError>>, StorageError> {
    let mut results: Vec<Option<Result<AppendOutcome, AppendError>>> = vec![None; items.len()];

    // 1. Idempotency: events whose (room, sender, client_msg_id) is already stored.
    let existing = find_existing(store, txn, items).await?;
    // Index of the first item in this batch carrying each key, for in-batch repeats.
    let mut first_in_batch: HashMap<IdemKey, usize> = HashMap::new();
    let mut repeats: Vec<(usize, usize)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(cmid) = &item.client_msg_id else {
            continue;
        };
        let key = (
            item.room_id.to_string(),
            item.sender_id.clone(),
            cmid.as_str().to_string(),
        );
        if let Some(original) = existing.get(&key) {
            results[i] = Some(Ok(AppendOutcome::Duplicate(original.clone())));
        } else if let Some(first) = first_in_batch.get(&key) {
            repeats.push((i, *first));
        } else {
            first_in_batch.insert(key, i);
        }
    }
    let repeat_of: HashMap<usize, usize> = repeats.iter().copied().collect();

    // 2. Edits and deletes: the target must be a live message by the same sender.
    let targets = find_targets(txn, items).await?;
    for (i, item) in items.iter().enumerate() {
        if results[i].is_some() || repeat_of.contains_key(&i) {
            continue;
        }
        let target_seq = match &item.kind {
            NewEventKind::Message { .. } => continue,
            NewEventKind::Edit { target_seq, .. } | NewEventKind::Delete { target_seq } => {
                *target_seq
            }
        };
        let verdict = match targets.get(&(item.room_id.to_string(), target_seq)) {
            None => Err(AppendError::TargetNotFound),
            Some(t) if t.kind != "message" => Err(AppendError::TargetNotFound),
            Some(t) if t.sender_id != item.sender_id => Err(AppendError::NotAuthor),
            Some(t) if t.deleted_at.is_some() => Err(AppendError::TargetDeleted),
            Some(_) => Ok(()),
        };
        if let Err(e) = verdict {
            results[i] = Some(Err(e));
        }
    }

    // 2b. Attachments: files the sender uploaded to this room, not attached elsewhere.
    check_attachments(txn, items, &mut results, &repeat_of).await?;

    // 3. Allocate seqs per room, locking rooms in id order; seal with each room's key.
    let mut by_room: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        if results[i].is_none() && !repeat_of.contains_key(&i) {
            by_room.entry(item.room_id.as_str()).or_default().push(i);
        }
    }
    let mut keys: HashMap<&str, Arc<SealingKey>> = HashMap::with_capacity(by_room.len());
    let mut erased_rooms = Vec::new();
    for room_id in by_room.keys() {
        match store.sealing_key(txn, KeyScope::Room(room_id)).await {
            Ok(key) => {
                keys.insert(room_id, key);
            }
            Err(StorageError::Erased) => erased_rooms.push(*room_id),
            Err(e) => return Err(e),
        }
    }
    for room_id in erased_rooms {
        for i in by_room.remove(room_id).unwrap_or_default() {
            results[i] = Some(Err(AppendError::RoomErased));
        }
    }
    let now = store.clock.now_ms();
    let mut rows: Vec<messages::ActiveModel> = Vec::new();
    let mut stored: Vec<(usize, StoredEvent)> = Vec::new();
    let allocated = allocate_seqs(txn, &by_room).await?;
    for (room_id, indexes) in &by_room {
        let count = indexes.len() as i64;
        let last = match allocated.get(*room_id) {
            Some(Ok(last)) => *last,
            Some(Err(err)) => {
                for i in indexes {
                    results[*i] = Some(Err(err.clone()));
                }
                continue;
            }
            None => {
                for i in indexes {
                    results[*i] = Some(Err(AppendError::RoomNotFound));
                }
                continue;
            }
        };
        let first = last - count + 1;
        for (offset, i) in indexes.iter().enumerate() {
            let item = &items[*i];
            let seq = first + offset as i64;
            let (body, target_seq, attachments) = match &item.kind {
                NewEventKind::Message { body, attachments } => {
                    (Some(body.as_str().to_string()), None, attachments.clone())
                }
                NewEventKind::Edit { target_seq, body } => (
                    Some(body.as_str().to_string()),
                    Some(*target_seq as i64),
                    Vec::new(),
                ),
                NewEventKind::Delete { target_seq } => (None, Some(*target_seq as i64), Vec::new()),
            };
            let msg_id = format!("m_{}", uuid::Uuid::now_v7().simple());
            let key = keys.get(room_id).ok_or(StorageError::Erased)?;
            let body_sealed = body
                .as_ref()
                .map(|b| key.seal(&message_body_item(&msg_id, 1), b.as_bytes()));
            let attachments_json = (!attachments.is_empty())
                .then(|| serde_json::to_string(&attachments).unwrap_or_default());
            rows.push(messages::ActiveModel {
                room_id: Set(item.room_id.to_string()),
                seq: Set(seq),
                msg_id: Set(msg_id.clone()),
                kind: Set(kind_str(&item.kind).to_string()),
                sender_id: Set(item.sender_id.clone()),
                client_msg_id: Set(item.client_msg_id.clone().map(String::from)),
                body_sealed: Set(body_sealed),
                target_seq: Set(target_seq),
                version: Set(1),
                purpose: Set(Purpose::Participation.as_str().to_string()),
                created_at: Set(now),
                edited_at: Set(None),
                deleted_at: Set(None),
                attachments: Set(attachments_json),
                notice: Set(item.notice),
            });
            stored.push((
                *i,
                StoredEvent {
                    room_id: item.room_id.to_string(),
                    seq: seq as u64,
                    msg_id,
                    kind: match item.kind {
                        NewEventKind::Message { .. } => EventKindRow::Message,
                        NewEventKind::Edit { .. } => EventKindRow::Edit,
                        NewEventKind::Delete { .. } => EventKindRow::Delete,
                    },
                    sender_id: item.sender_id.clone(),
                    client_msg_id: item.client_msg_id.clone().map(String::from),
                    body,
                    target_seq: target_seq.map(|s| s as u64),
                    created_at: now,
                    edited_at: None,
                    deleted_at: None,
                    unreadable: None,
                    attachments,
                    notice: item.notice,
                    purpose: Some(Purpose::Participation),
                },
            ));
        }
    }

    // 4. Insert the new events in chunks (bounded statement parameters).
    for chunk in rows.chunks(500) {
        messages::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(txn)
            .await?;
    }

    // 5. Link attached files to their message.
    for (_, event) in &stored {
        if !event.attachments.is_empty() {
            files::Entity::update_many()
                .col_expr(files::Column::MsgId, Expr::val(event.msg_id.clone()))
                .filter(files::Column::Id.is_in(event.attachments.clone()))
                .exec(txn)
                .await?;
        }
    }

    // 6. Apply edits and deletes to their targets, keeping prior versions.
    for (_, event) in &stored {
        if let Some(target_seq) = event.target_seq {
            let key = keys
                .get(event.room_id.as_str())
                .ok_or(StorageError::Erased)?;
            apply_change(txn, key, event, target_seq).await?;
        }
    }

    // 7. Anonymous analytics: members' messages per room, counted in this transaction.
    let mut sent: BTreeMap<&str, u64> = BTreeMap::new();
    for (_, event) in &stored {
        if event.kind == EventKindRow::Message && !event.notice {
            *sent.entry(event.room_id.as_str()).or_default() += 1;
        }
    }
    let shares: Vec<Share<'_>> = sent
        .iter()
        .map(|(room, count)| Share {
            room,
            count: *count,
            total: 0,
        })
        .collect();
    store
        .count_analytics(txn, Metric::MessagesSent, &shares)
        .await?;

    for (i, event) in stored {
        results[i] = Some(Ok(AppendOutcome::Stored(event)));
    }
    for (i, first) in repeats {
        results[i] = Some(match &results[first] {
            Some(Ok(outcome)) => Ok(AppendOutcome::Duplicate(outcome.event().clone())),
            Some(Err(e)) => Err(e.clone()),
            None => Err(AppendError::Storage("unresolved repeat".into())),
        });
    }
    Ok(results
        .into_iter()
        .map(|r| r.unwrap_or(Err(AppendError::Storage("unresolved item".into()))))
        .collect())
}

/// Advance `last_seq` of every room of the batch in one statement and return each room's new
/// last seq, or why it could not take events. On PostgreSQL the rooms are first locked in id
/// order (`SELECT … ORDER BY id FOR UPDATE`), so concurrent batches from several processes
/// queue behind each other instead of deadlocking; SQLite's `BEGIN IMMEDIATE` already holds
/// the single write lock.
async fn allocate_seqs(
    txn: &DatabaseTransaction,
    by_room: &BTreeMap<&str, Vec<usize>>,
) -> Result<HashMap<String, Result<i64, AppendError>>, StorageError> {
    let ids: Vec<String> = by_room.keys().map(|r| r.to_string()).collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    if txn.get_database_backend() == DbBackend::Postgres {
        rooms::Entity::find()
            .select_only()
            .column(rooms::Column::Id)
            .filter(rooms::Column::Id.is_in(ids.clone()))
            .order_by_asc(rooms::Column::Id)
            .lock_exclusive()
            .into_tuple::<String>()
            .all(txn)
            .await?;
    }
    let mut increments = CaseStatement::new();
    for (room_id, indexes) in by_room {
        increments = increments.case(
            Expr::col(rooms::Column::Id).eq(*room_id),
            Expr::val(indexes.len() as i64),
        );
    }
    let increments = increments.finally(Expr::val(0i64));
    let update = Query::update()
        .table(rooms::Entity)
        .value(
            rooms::Column::LastSeq,
            Expr::col(rooms::Column::LastSeq).add(Expr::Case(Box::new(increments))),
        )
        .and_where(Expr::col(rooms::Column::Id).is_in(ids.clone()))
        .and_where(Expr::col(rooms::Column::ClosedAt).is_null())
        .returning(Query::returning().columns([rooms::Column::Id, rooms::Column::LastSeq]))
        .to_owned();
    let mut out = HashMap::with_capacity(ids.len());
    for row in txn.query_all(&update).await? {
        let id: String = row.try_get("", "id")?;
        let last: i64 = row.try_get("", "last_seq")?;
        out.insert(id, Ok(last));
    }
    if out.len() < ids.len() {
        // Rare: some rooms are closed or unknown. One query tells which.
        let missing: Vec<String> = ids.into_iter().filter(|id| !out.contains_key(id)).collect();
        let existing: Vec<String> = rooms::Entity::find()
            .select_only()
            .column(rooms::Column::Id)
            .filter(rooms::Column::Id.is_in(missing.clone()))
            .into_tuple::<String>()
            .all(txn)
            .await?;
        for id in missing {
            let err = if existing.contains(&id) {
                AppendError::RoomClosed
            } else {
                AppendError::RoomNotFound
            };
            out.insert(id, Err(err));
        }
    }
    Ok(out)
}

async fn find_existing(
    store: &Store,
    txn: &DatabaseTransaction,
    items: &[NewEvent],
) -> Result<HashMap<IdemKey, StoredEvent>, StorageError> {
    // A VALUES list joined to the unique index (room_id, sender_id, client_msg_id): both
    // SQLite and PostgreSQL loop over the keys and probe the index once per key, however long
    // the rooms' histories are. (A row-value `IN` list makes SQLite scan the whole table, and
    // a long OR costs milliseconds to plan.)
    let keys: Vec<(&str, &str, &str)> = items
        .iter()
        .filter_map(|i| {
            let cmid = i.client_msg_id.as_ref()?.as_str();
            Some((i.room_id.as_str(), i.sender_id.as_str(), cmid))
        })
        .collect();
    let backend = txn.get_database_backend();
    let mut found = Vec::new();
    for chunk in keys.chunks(300) {
        let mut values = Vec::with_capacity(chunk.len() * 3);
        let mut rows = Vec::with_capacity(chunk.len());
        for (room, sender, cmid) in chunk {
            let n = values.len();
            rows.push(match backend {
                DbBackend::Postgres => format!("(${}, ${}, ${})", n + 1, n + 2, n + 3),
                _ => "(?, ?, ?)".to_string(),
            });
            values.push(sea_orm::Value::from(*room));
            values.push(sea_orm::Value::from(*sender));
            values.push(sea_orm::Value::from(*cmid));
        }
        let sql = format!(
            "WITH k(room_id, sender_id, client_msg_id) AS (VALUES {}) \
             SELECT m.* FROM k JOIN messages m ON m.room_id = k.room_id \
             AND m.sender_id = k.sender_id AND m.client_msg_id = k.client_msg_id",
            rows.join(", ")
        );
        found.extend(
            messages::Entity::find()
                .from_raw_sql(Statement::from_sql_and_values(backend, sql, values))
                .all(txn)
                .await?,
        );
    }
    let mut keys: HashMap<String, Option<Arc<SealingKey>>> = HashMap::new();
    for m in &found {
        if !keys.contains_key(&m.room_id) {
            let key = store.opening_key(txn, KeyScope::Room(&m.room_id)).await?;
            keys.insert(m.room_id.clone(), key);
        }
    }
    Ok(found
        .into_iter()
        .filter_map(|m| {
            let key = (
                m.room_id.clone(),
                m.sender_id.clone(),
                m.client_msg_id.clone()?,
            );
            let sealing = keys.get(&m.room_id).cloned().flatten();
            Some((key, to_event(m, sealing.as_deref())))
        })
        .collect())
}

async fn find_targets(
    txn: &DatabaseTransaction,
    items: &[NewEvent],
) -> Result<HashMap<(String, u64), messages::Model>, StorageError> {
    let mut out = HashMap::new();
    for item in items {
        let target = match &item.kind {
            NewEventKind::Message { .. } => continue,
            NewEventKind::Edit { target_seq, .. } | NewEventKind::Delete { target_seq } => {
                *target_seq
            }
        };
        let Ok(seq) = i64::try_from(target) else {
            continue;
        };
        if let Some(row) = messages::Entity::find_by_id((item.room_id.to_string(), seq))
            .one(txn)
            .await?
        {
            out.insert((item.room_id.to_string(), target), row);
        }
    }
    Ok(out)
}

/// Move the target's sealed body to `prior_versions` (unchanged: its item name already
/// names the version), then apply the edit or delete. Deleting a message also withdraws its
/// files from members.
async fn apply_change(
    txn: &DatabaseTransaction,
    key: &SealingKey,
    event: &StoredEvent,
    target_seq: u64,
) -> Result<(), StorageError> {
    let target = messages::Entity::find_by_id((event.room_id.clone(), target_seq as i64))
        .one(txn)
        .await?
        .ok_or(StorageError::NotFound)?;
    if let Some(sealed) = &target.body_sealed {
        prior_versions::Entity::insert(prior_versions::ActiveModel {
            msg_id: Set(target.msg_id.clone()),
            version: Set(target.version),
            room_id: Set(target.room_id.clone()),
            body_sealed: Set(Some(sealed.clone())),
            created_at: Set(target.edited_at.unwrap_or(target.created_at)),
            replaced_at: Set(event.created_at),
            // The compliance record keeps the message's purpose.
            purpose: Set(target.purpose.clone()),
        })
        .exec(txn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StorageError::Conflict("concurrent change of one message".into())
            } else {
                e.into()
            }
        })?;
    }
    let version = target.version + 1;
    let mut update = messages::Entity::update_many()
        .col_expr(messages::Column::Version, Expr::val(version))
        .filter(messages::Column::RoomId.eq(target.room_id.as_str()))
        .filter(messages::Column::Seq.eq(target.seq));
    match event.kind {
        EventKindRow::Edit => {
            let body = event.body.as_deref().unwrap_or_default();
            let sealed = key.seal(&message_body_item(&target.msg_id, version), body.as_bytes());
            update = update
                .col_expr(messages::Column::BodySealed, Expr::val(sealed))
                .col_expr(messages::Column::EditedAt, Expr::val(event.created_at));
        }
        EventKindRow::Delete => {
            update = update
                .col_expr(
                    messages::Column::BodySealed,
                    Expr::val(Option::<Vec<u8>>::None),
                )
                .col_expr(messages::Column::DeletedAt, Expr::val(event.created_at));
            withdraw_message_files(
                txn,
                target.room_id.as_str(),
                target.msg_id.as_str(),
                event.created_at,
            )
            .await?;
        }
        EventKindRow::Message => return Ok(()),
    }
    update.exec(txn).await?;
    Ok(())
}

/// Refuse messages whose attachments are not the sender's own, unattached, live files in
/// the same room (and a file named twice in one batch).
async fn check_attachments(
    txn: &DatabaseTransaction,
    items: &[NewEvent],
    results: &mut [Option<Result<AppendOutcome, AppendError>>],
    repeat_of: &HashMap<usize, usize>,
) -> Result<(), StorageError> {
    let wanted: Vec<String> = items
        .iter()
        .enumerate()
        .filter(|(i, _)| results[*i].is_none() && !repeat_of.contains_key(i))
        .flat_map(|(_, item)| match &item.kind {
            NewEventKind::Message { attachments, .. } => attachments.clone(),
            _ => Vec::new(),
        })
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let found: HashMap<String, files::Model> = files::Entity::find()
        .filter(files::Column::Id.is_in(wanted))
        .all(txn)
        .await?
        .into_iter()
        .map(|f| (f.id.clone(), f))
        .collect();
    let mut claimed: HashSet<&str> = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        if results[i].is_some() || repeat_of.contains_key(&i) {
            continue;
        }
        let NewEventKind::Message { attachments, .. } = &item.kind else {
            continue;
        };
        let verdict = attachments.iter().try_for_each(|id| {
            let file = found
                .get(id)
                .filter(|f| f.room_id == item.room_id.as_str() && f.uploader_id == item.sender_id)
                // Files collected for another purpose (a Tracker screenshot's image) are not
                // chat attachments: they keep their own rules of who sees them.
                .filter(|f| f.purpose == Purpose::Participation.as_str())
                .ok_or_else(|| format!("`{id}` is not a file you uploaded to this room"))?;
            if file.deleted_at.is_some() {
                return Err(format!("`{id}` was deleted"));
            }
            if file.msg_id.is_some() || !claimed.insert(id.as_str()) {
                return Err(format!("`{id}` is already attached to a message"));
            }
            Ok(())
        });
        if let Err(reason) = verdict {
            results[i] = Some(Err(AppendError::BadAttachment(reason)));
        }
    }
    Ok(())
}
