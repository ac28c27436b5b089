//! Connection logs (C11). A connection is stored as a session id, the keyed hash of the
//! client address and a time; no raw address ever reaches this layer. Which user used a
//! session is kept in a separate table, read only by [`Store::connections_of_room`], which
//! takes the proof of a recorded moderator read under a grant.

use crate::Store;
use crate::entity::{connection_users, connections, users};
use crate::error::StorageError;
use crate::proof::ConnectionsRead;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use std::collections::{BTreeSet, HashMap, HashSet};
use workroom_protocol::Purpose;

/// One connection as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionRecord {
    pub session_id: String,
    pub address_hash: String,
    pub connected_at: i64,
}

/// A user seen on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    pub session_id: String,
    pub user_id: String,
    pub first_seen: i64,
}

/// A connection linked to its user (only ever built for a moderator under a grant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedConnection {
    pub user_id: String,
    pub session_id: String,
    pub address_hash: String,
    pub connected_at: i64,
}

/// The people among `links` whose erasure has committed. Their rows are read under a share
/// lock (PostgreSQL; SQLite serializes writers anyway), so an erasure in progress, which
/// marks the row before it deletes the person's links, is waited for rather than missed.
async fn erased_among<C: ConnectionTrait>(
    txn: &C,
    links: &[SessionUser],
) -> Result<HashSet<String>, StorageError> {
    let ids: BTreeSet<&str> = links.iter().map(|u| u.user_id.as_str()).collect();
    let rows: Vec<(String, Option<i64>)> = users::Entity::find()
        .select_only()
        .column(users::Column::Id)
        .column(users::Column::ErasedAt)
        .filter(users::Column::Id.is_in(ids))
        .lock_shared()
        .into_tuple()
        .all(txn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, erased_at)| erased_at.map(|_| id))
        .collect())
}

impl Store {
    /// Record connections and the users seen on them, in one transaction (a batch). A link
    /// naming a person erased meanwhile is not written: links are queued when a user
    /// authenticates and may reach the database after their termination's erasure.
    pub async fn record_connections(
        &self,
        records: &[ConnectionRecord],
        users: &[SessionUser],
    ) -> Result<(), StorageError> {
        if records.is_empty() && users.is_empty() {
            return Ok(());
        }
        let txn = self.begin_write().await?;
        for chunk in records.chunks(500) {
            let rows = chunk.iter().map(|r| connections::ActiveModel {
                session_id: Set(r.session_id.clone()),
                address_hash: Set(r.address_hash.clone()),
                connected_at: Set(r.connected_at),
                purpose: Set(Purpose::Security.as_str().to_string()),
            });
            connections::Entity::insert_many(rows)
                .on_conflict(
                    OnConflict::column(connections::Column::SessionId)
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?;
        }
        for chunk in users.chunks(500) {
            let erased = erased_among(&txn, chunk).await?;
            let rows: Vec<connection_users::ActiveModel> = chunk
                .iter()
                .filter(|u| !erased.contains(&u.user_id))
                .map(|u| connection_users::ActiveModel {
                    session_id: Set(u.session_id.clone()),
                    user_id: Set(u.user_id.clone()),
                    first_seen: Set(u.first_seen),
                })
                .collect();
            if rows.is_empty() {
                continue;
            }
            connection_users::Entity::insert_many(rows)
                .on_conflict(
                    OnConflict::columns([
                        connection_users::Column::SessionId,
                        connection_users::Column::UserId,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// The connections of the room's members (everyone who sees the room), newest first,
    /// optionally only those from the given address hashes, at most `limit`: the only read
    /// that links a user to a connection, and it needs a recorded moderator's proof.
    pub async fn connections_of_room(
        &self,
        read: &ConnectionsRead,
        address_hashes: Option<&[String]>,
        limit: u64,
    ) -> Result<Vec<LinkedConnection>, StorageError> {
        let user_ids = self.users_of_room(read.room()).await?;
        let mut links = Vec::new();
        for chunk in user_ids.chunks(500) {
            links.extend(
                connection_users::Entity::find()
                    .filter(connection_users::Column::UserId.is_in(chunk.iter().cloned()))
                    .all(&self.db)
                    .await?,
            );
        }
        let mut users_by_session: HashMap<String, Vec<String>> = HashMap::new();
        for link in links {
            users_by_session
                .entry(link.session_id)
                .or_default()
                .push(link.user_id);
        }
        let sessions: Vec<String> = users_by_session.keys().cloned().collect();
        let mut out = Vec::new();
        for chunk in sessions.chunks(500) {
            let mut query = connections::Entity::find()
                .filter(connections::Column::SessionId.is_in(chunk.iter().cloned()))
                .order_by_desc(connections::Column::ConnectedAt);
            if let Some(hashes) = address_hashes {
                query =
                    query.filter(connections::Column::AddressHash.is_in(hashes.iter().cloned()));
            }
            for c in query.all(&self.db).await? {
                for user in users_by_session.get(&c.session_id).into_iter().flatten() {
                    out.push(LinkedConnection {
                        user_id: user.clone(),
                        session_id: c.session_id.clone(),
                        address_hash: c.address_hash.clone(),
                        connected_at: c.connected_at,
                    });
                }
            }
        }
        out.sort_by_key(|c| std::cmp::Reverse(c.connected_at));
        out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(out)
    }
}
