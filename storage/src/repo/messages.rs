//! The room timeline: batched, durable appends with gap-free per-room seqs, and the reads
//! that page history and replay what a client missed.
//!
//! `append_batch` is the only writer of `messages` and of `rooms.last_seq`. It runs one
//! transaction for many events across many rooms (one fsync per batch, not per message).
//! Seqs come from `UPDATE rooms SET last_seq = last_seq + k … RETURNING last_seq` inside that
//! transaction: the row lock serialises concurrent writers, including other server processes
//! on the same PostgreSQL database, and a rolled-back batch leaves no hole. Rooms are locked
//! in id order so that two batches can never deadlock.

use crate::Store;
use crate::entity::{message_versions, messages, rooms};
use crate::error::{StorageError, is_unique_violation};
use crate::time::{now_ms, to_seq};
use sea_orm::sea_query::{CaseStatement, Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement,
};
use std::collections::{BTreeMap, HashMap};

/// What a new timeline event does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewEventKind {
    Message { body: String },
    Edit { target_seq: u64, body: String },
    Delete { target_seq: u64 },
}

/// One event to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub room_id: String,
    pub sender_id: String,
    pub client_msg_id: Option<String>,
    pub kind: NewEventKind,
}

/// The kind column of a stored event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKindRow {
    Message,
    Edit,
    Delete,
}

/// A stored timeline event. For messages, `body` is the latest version (`None` once
/// deleted); for edits, the body the edit set.
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
    #[error("no message with that seq")]
    TargetNotFound,
    #[error("only the author may change a message")]
    NotAuthor,
    #[error("the message was deleted")]
    TargetDeleted,
    #[error("storage failure: {0}")]
    Storage(String),
}

fn kind_str(kind: &NewEventKind) -> &'static str {
    match kind {
        NewEventKind::Message { .. } => "message",
        NewEventKind::Edit { .. } => "edit",
        NewEventKind::Delete { .. } => "delete",
    }
}

fn to_event(m: messages::Model) -> StoredEvent {
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
        body: m.body,
        target_seq: m.target_seq.map(to_seq),
        created_at: m.created_at,
        edited_at: m.edited_at,
        deleted_at: m.deleted_at,
    }
}

type IdemKey = (String, String, String);

impl Store {
    /// Append a batch of events in one transaction. Returns one result per input, in order.
    ///
    /// A failure of the whole transaction (e.g. the database is down) fails every item with
    /// `AppendError::Storage`, and nothing of the batch is stored. A unique violation (another
    /// process stored the same client_msg_id between our check and our insert) makes the
    /// batch retry item by item, so one racing duplicate cannot fail its neighbours.
    pub async fn append_batch(
        &self,
        items: &[NewEvent],
    ) -> Vec<Result<AppendOutcome, AppendError>> {
        match self.append_batch_once(items).await {
            Ok(results) => results,
            Err(e) if e.is_unique_violation() && items.len() > 1 => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let one = std::slice::from_ref(item);
                    out.push(match self.append_batch_once(one).await {
                        Ok(mut r) => r
                            .pop()
                            .unwrap_or(Err(AppendError::Storage("empty batch result".into()))),
                        Err(e) => Err(AppendError::Storage(e.to_string())),
                    });
                }
                out
            }
            Err(e) => {
                let message = e.to_string();
                items
                    .iter()
                    .map(|_| Err(AppendError::Storage(message.clone())))
                    .collect()
            }
        }
    }

    async fn append_batch_once(
        &self,
        items: &[NewEvent],
    ) -> Result<Vec<Result<AppendOutcome, AppendError>>, StorageError> {
        let txn = self.begin_write().await?;
        let results = append_in(&txn, items).await?;
        txn.commit().await?;
        Ok(results)
    }

    /// Events with `seq > after_seq`, oldest first, at most `limit` (resume and gap fill).
    pub async fn events_after(
        &self,
        room_id: &str,
        after_seq: u64,
        limit: u64,
    ) -> Result<Vec<StoredEvent>, StorageError> {
        Ok(messages::Entity::find()
            .filter(messages::Column::RoomId.eq(room_id))
            .filter(messages::Column::Seq.gt(after_seq as i64))
            .order_by_asc(messages::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_event)
            .collect())
    }

    /// The newest `limit` messages with `seq < before_seq`, oldest first, in their latest
    /// state (edits applied, deletes as tombstones). Edit and delete events are not listed.
    pub async fn history(
        &self,
        room_id: &str,
        before_seq: u64,
        limit: u64,
    ) -> Result<Vec<StoredEvent>, StorageError> {
        let before = i64::try_from(before_seq).unwrap_or(i64::MAX);
        let mut rows: Vec<StoredEvent> = messages::Entity::find()
            .filter(messages::Column::RoomId.eq(room_id))
            .filter(messages::Column::Seq.lt(before))
            .filter(messages::Column::Kind.eq("message"))
            .order_by_desc(messages::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_event)
            .collect();
        rows.reverse();
        Ok(rows)
    }

    /// Prior bodies of one message, oldest first (the compliance record).
    pub async fn message_versions(&self, msg_id: &str) -> Result<Vec<(i32, String)>, StorageError> {
        Ok(message_versions::Entity::find()
            .filter(message_versions::Column::MsgId.eq(msg_id))
            .order_by_asc(message_versions::Column::Version)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|v| (v.version, v.body))
            .collect())
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
    txn: &DatabaseTransaction,
    items: &[NewEvent],
) -> Result<Vec<Result<AppendOutcome, AppendError>>, StorageError> {
    let mut results: Vec<Option<Result<AppendOutcome, AppendError>>> = vec![None; items.len()];

    // 1. Idempotency: events whose (room, sender, client_msg_id) is already stored.
    let existing = find_existing(txn, items).await?;
    // Index of the first item in this batch carrying each key, for in-batch repeats.
    let mut first_in_batch: HashMap<IdemKey, usize> = HashMap::new();
    let mut repeats: Vec<(usize, usize)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(cmid) = &item.client_msg_id else {
            continue;
        };
        let key = (item.room_id.clone(), item.sender_id.clone(), cmid.clone());
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
        let verdict = match targets.get(&(item.room_id.clone(), target_seq)) {
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

    // 3. Allocate seqs per room, locking rooms in id order.
    let mut by_room: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        if results[i].is_none() && !repeat_of.contains_key(&i) {
            by_room.entry(item.room_id.as_str()).or_default().push(i);
        }
    }
    let now = now_ms();
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
            let (body, target_seq) = match &item.kind {
                NewEventKind::Message { body } => (Some(body.clone()), None),
                NewEventKind::Edit { target_seq, body } => {
                    (Some(body.clone()), Some(*target_seq as i64))
                }
                NewEventKind::Delete { target_seq } => (None, Some(*target_seq as i64)),
            };
            let msg_id = format!("m_{}", uuid::Uuid::now_v7().simple());
            rows.push(messages::ActiveModel {
                room_id: Set(item.room_id.clone()),
                seq: Set(seq),
                msg_id: Set(msg_id.clone()),
                kind: Set(kind_str(&item.kind).to_string()),
                sender_id: Set(item.sender_id.clone()),
                client_msg_id: Set(item.client_msg_id.clone()),
                body: Set(body.clone()),
                target_seq: Set(target_seq),
                version: Set(1),
                purpose: Set("participation".to_string()),
                created_at: Set(now),
                edited_at: Set(None),
                deleted_at: Set(None),
            });
            stored.push((
                *i,
                StoredEvent {
                    room_id: item.room_id.clone(),
                    seq: seq as u64,
                    msg_id,
                    kind: match item.kind {
                        NewEventKind::Message { .. } => EventKindRow::Message,
                        NewEventKind::Edit { .. } => EventKindRow::Edit,
                        NewEventKind::Delete { .. } => EventKindRow::Delete,
                    },
                    sender_id: item.sender_id.clone(),
                    client_msg_id: item.client_msg_id.clone(),
                    body,
                    target_seq: target_seq.map(|s| s as u64),
                    created_at: now,
                    edited_at: None,
                    deleted_at: None,
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

    // 5. Apply edits and deletes to their targets, keeping prior versions.
    for (_, event) in &stored {
        if let Some(target_seq) = event.target_seq {
            apply_change(txn, event, target_seq).await?;
        }
    }

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
            let cmid = i.client_msg_id.as_deref()?;
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
    Ok(found
        .into_iter()
        .filter_map(|m| {
            let key = (
                m.room_id.clone(),
                m.sender_id.clone(),
                m.client_msg_id.clone()?,
            );
            Some((key, to_event(m)))
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
        if let Some(row) = messages::Entity::find_by_id((item.room_id.clone(), seq))
            .one(txn)
            .await?
        {
            out.insert((item.room_id.clone(), target), row);
        }
    }
    Ok(out)
}

/// Move the target's current body to `message_versions`, then apply the edit or delete.
async fn apply_change(
    txn: &DatabaseTransaction,
    event: &StoredEvent,
    target_seq: u64,
) -> Result<(), StorageError> {
    let target = messages::Entity::find_by_id((event.room_id.clone(), target_seq as i64))
        .one(txn)
        .await?
        .ok_or(StorageError::NotFound)?;
    if let Some(body) = &target.body {
        message_versions::Entity::insert(message_versions::ActiveModel {
            msg_id: Set(target.msg_id.clone()),
            version: Set(target.version),
            room_id: Set(target.room_id.clone()),
            body: Set(body.clone()),
            created_at: Set(target.edited_at.unwrap_or(target.created_at)),
            replaced_at: Set(event.created_at),
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
    let mut update = messages::Entity::update_many()
        .col_expr(messages::Column::Version, Expr::val(target.version + 1))
        .filter(messages::Column::RoomId.eq(target.room_id.as_str()))
        .filter(messages::Column::Seq.eq(target.seq));
    match event.kind {
        EventKindRow::Edit => {
            update = update
                .col_expr(messages::Column::Body, Expr::val(event.body.clone()))
                .col_expr(messages::Column::EditedAt, Expr::val(event.created_at));
        }
        EventKindRow::Delete => {
            update = update
                .col_expr(messages::Column::Body, Expr::val(Option::<String>::None))
                .col_expr(messages::Column::DeletedAt, Expr::val(event.created_at));
        }
        EventKindRow::Message => return Ok(()),
    }
    update.exec(txn).await?;
    Ok(())
}
