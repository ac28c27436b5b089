//! What an export's scope covers, read with the export's proof ([`LegalExport`]), which
//! only an audited legal decision makes.
//!
//! The scopes cover what a legal hold of the same scope covers:
//! - `room`: that workroom;
//! - `account`: every workroom the account is a party of;
//! - `user`: every workroom the person is a contract party of or reaches through one of
//!   their accounts.
//!
//! Each workroom comes back as a [`LegalRoom`] proof, which opens its timeline, prior
//! versions, members and files through the ordinary reads. The people in scope are the
//! parties and account members of those workrooms, plus the target user or the target
//! account's members.

use crate::Store;
use crate::audit::{AuditEntry, to_entry};
use crate::entity::{account_members, audit_entries, files, room_parties, rooms, users};
use crate::error::StorageError;
use crate::keyring::KeyScope;
use crate::proof::{LegalExport, LegalRoom};
use crate::repo::files::{StoredFile, to_meta};
use crate::repo::legal::exports::ExportRow;
use crate::repo::lifecycle::holds::LegalScope;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::BTreeSet;
use workroom_protocol::RoomId;

/// A workroom in an export's scope: its proof and what its row says.
#[derive(Debug, Clone)]
pub struct LegalRoomInfo {
    pub proof: LegalRoom,
    pub kind: String,
    pub project_id: String,
    pub bid_id: Option<String>,
    pub created_at: i64,
    pub closed_at: Option<i64>,
    pub last_seq: u64,
    /// When its purge began and finished: a purged workroom has nothing left to export.
    pub purge_started_at: Option<i64>,
    pub purged_at: Option<i64>,
    pub purged_messages: u64,
    pub purged_files: u64,
    pub purged_bytes: u64,
    /// Its key was destroyed: bodies, names and files are gone for good.
    pub erased: bool,
}

/// A person in an export's scope, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRecord {
    pub id: String,
    /// `None` when erased (or never given).
    pub name: Option<String>,
    pub email: Option<String>,
    pub erased: bool,
    pub erased_at: Option<i64>,
    pub terminated_at: Option<i64>,
    pub terminated_reason: Option<String>,
    /// (account, role) memberships.
    pub accounts: Vec<(String, String)>,
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl Store {
    /// The export `read` stands for and the workrooms of its scope, in id order.
    pub async fn legal_scope(
        &self,
        read: &LegalExport,
    ) -> Result<(ExportRow, Vec<LegalRoomInfo>), StorageError> {
        let export = self
            .legal_export(read.export())
            .await?
            .ok_or(StorageError::NotFound)?;
        let ids = self.scope_room_ids(&export).await?;
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.into_iter().collect::<Vec<_>>().chunks(500) {
            let rows = rooms::Entity::find()
                .filter(rooms::Column::Id.is_in(chunk.iter().cloned()))
                .order_by_asc(rooms::Column::Id)
                .all(&self.db)
                .await?;
            for room in rows {
                let Ok(room_id) = RoomId::try_from(room.id.as_str()) else {
                    continue;
                };
                let erased = self.key_destroyed(KeyScope::Room(&room.id)).await?;
                out.push(LegalRoomInfo {
                    proof: LegalRoom::new(room_id),
                    kind: room.kind,
                    project_id: room.project_id,
                    bid_id: room.bid_id,
                    created_at: room.created_at,
                    closed_at: room.closed_at,
                    last_seq: count(room.last_seq),
                    purge_started_at: room.purge_started_at,
                    purged_at: room.purged_at,
                    purged_messages: count(room.purged_messages),
                    purged_files: count(room.purged_files),
                    purged_bytes: count(room.purged_bytes),
                    erased,
                });
            }
        }
        Ok((export, out))
    }

    async fn scope_room_ids(&self, export: &ExportRow) -> Result<BTreeSet<String>, StorageError> {
        let target = export.target.as_str();
        let parties = match export.scope {
            LegalScope::Room => return Ok(BTreeSet::from([target.to_string()])),
            LegalScope::Account => {
                room_parties::Entity::find()
                    .filter(room_parties::Column::AccountId.eq(target))
                    .all(&self.db)
                    .await?
            }
            LegalScope::User => {
                let accounts = self.accounts_of(&self.db, target).await?;
                room_parties::Entity::find()
                    .filter(
                        Condition::any()
                            .add(room_parties::Column::UserId.eq(target))
                            .add(room_parties::Column::AccountId.is_in(accounts)),
                    )
                    .all(&self.db)
                    .await?
            }
        };
        Ok(parties.into_iter().map(|p| p.room_id).collect())
    }

    /// The people of an export's scope (see the module doc), by id, with their personal
    /// data opened: names and emails unless erased.
    pub async fn legal_people(
        &self,
        read: &LegalExport,
        rooms: &[LegalRoomInfo],
    ) -> Result<Vec<PersonRecord>, StorageError> {
        let export = self
            .legal_export(read.export())
            .await?
            .ok_or(StorageError::NotFound)?;
        let mut ids: BTreeSet<String> = BTreeSet::new();
        let mut accounts: BTreeSet<String> = BTreeSet::new();
        match export.scope {
            LegalScope::User => {
                ids.insert(export.target.clone());
            }
            LegalScope::Account => {
                accounts.insert(export.target.clone());
            }
            LegalScope::Room => {}
        }
        let room_ids: Vec<String> = rooms.iter().map(|r| r.proof.room().to_string()).collect();
        for chunk in room_ids.chunks(500) {
            for party in room_parties::Entity::find()
                .filter(room_parties::Column::RoomId.is_in(chunk.iter().cloned()))
                .all(&self.db)
                .await?
            {
                accounts.insert(party.account_id);
                ids.insert(party.user_id);
            }
        }
        let accounts: Vec<String> = accounts.into_iter().collect();
        for chunk in accounts.chunks(500) {
            for member in account_members::Entity::find()
                .filter(account_members::Column::AccountId.is_in(chunk.iter().cloned()))
                .all(&self.db)
                .await?
            {
                ids.insert(member.user_id);
            }
        }
        let ids: Vec<String> = ids.into_iter().collect();
        let mut people = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let rows = users::Entity::find()
                .filter(users::Column::Id.is_in(chunk.iter().cloned()))
                .order_by_asc(users::Column::Id)
                .all(&self.db)
                .await?;
            for user in rows {
                let (name, email, erased) = self.open_person(&user).await?;
                let memberships = account_members::Entity::find()
                    .filter(account_members::Column::UserId.eq(user.id.as_str()))
                    .order_by_asc(account_members::Column::AccountId)
                    .all(&self.db)
                    .await?
                    .into_iter()
                    .map(|m| (m.account_id, m.role))
                    .collect();
                people.push(PersonRecord {
                    erased: erased || user.erased_at.is_some(),
                    id: user.id,
                    name,
                    email,
                    erased_at: user.erased_at,
                    terminated_at: user.terminated_at,
                    terminated_reason: user.terminated_reason,
                    accounts: memberships,
                });
            }
        }
        Ok(people)
    }

    /// A page of a workroom's files (withdrawn ones too), in id order after `after_id`.
    pub async fn legal_files(
        &self,
        room: &LegalRoom,
        after_id: Option<&str>,
        limit: u64,
    ) -> Result<Vec<StoredFile>, StorageError> {
        let mut query = files::Entity::find()
            .filter(files::Column::RoomId.eq(room.room()))
            .order_by_asc(files::Column::Id)
            .limit(limit);
        if let Some(after) = after_id {
            query = query.filter(files::Column::Id.gt(after));
        }
        let rows = query.all(&self.db).await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let key = self
            .opening_key(&self.db, KeyScope::Room(room.room()))
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| StoredFile::from_row(to_meta(&row, key.as_deref()), row))
            .collect())
    }

    /// A page of the audit entries in an export's scope, oldest first, `seq > after`: those
    /// naming the target or one of `rooms`, and for a user those the user performed.
    pub async fn legal_audit(
        &self,
        read: &LegalExport,
        rooms: &[LegalRoomInfo],
        after: u64,
        limit: u64,
    ) -> Result<Vec<AuditEntry>, StorageError> {
        let export = self
            .legal_export(read.export())
            .await?
            .ok_or(StorageError::NotFound)?;
        let mut targets: Vec<String> = rooms
            .iter()
            .map(|r| format!("room:{}", r.proof.room()))
            .collect();
        targets.push(export.audit_target());
        let mut scope = Condition::any().add(audit_entries::Column::Target.is_in(targets));
        if export.scope == LegalScope::User {
            scope = scope.add(audit_entries::Column::Actor.eq(export.target.as_str()));
        }
        let mut query = audit_entries::Entity::find()
            .filter(audit_entries::Column::Seq.gt(i64::try_from(after).unwrap_or(i64::MAX)))
            .filter(scope)
            .order_by_asc(audit_entries::Column::Seq)
            .limit(limit);
        if let Some(from) = export.from_ms {
            query = query.filter(audit_entries::Column::At.gte(from));
        }
        if let Some(until) = export.until_ms {
            query = query.filter(audit_entries::Column::At.lt(until));
        }
        Ok(query
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_entry)
            .collect())
    }
}
