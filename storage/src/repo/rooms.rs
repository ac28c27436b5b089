//! Workroom lifecycle (C1) and team accounts (C2): bid accepted opens a room, contract
//! ended closes it, a project's second accepted bid opens the shared room, and the
//! marketplace manages account membership.
//!
//! Every write here is one transaction, retried when a unique constraint shows that another
//! writer (perhaps another server process) raced us; the retry then finds the winner's row.

use crate::Store;
use crate::audit::Actor;
use crate::audit::AuditAction;
use crate::entity::{account_members, accounts, project_shared_rooms, room_parties, rooms, users};
use crate::error::{StorageError, is_unique_violation};
use crate::keyring::{KeyScope, Unreadable, open_text};
use crate::proof::RoomRead;
use crate::repo::access::AccountRole;
use crate::repo::analytics::{Metric, Share};
use crate::repo::sealing::person_item;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QuerySelect, Set,
};
use workroom_protocol::{Purpose, RoomId};

/// One side of an accepted bid, as the marketplace described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyInput {
    pub user: String,
    pub account: String,
    pub name: String,
    pub email: String,
}

/// What a bid acceptance did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptOutcome {
    pub room_id: String,
    /// `false` when the bid had been accepted before (idempotent repeat).
    pub created: bool,
    /// The project's shared room, when the project has two or more accepted bids.
    pub shared_room_id: Option<String>,
    /// Rooms whose membership changed (the new room, and the shared room when it was
    /// created or gained a contractor): their users must be told.
    pub changed_rooms: Vec<String>,
}

/// What ending a contract did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndOutcome {
    pub room_id: String,
    pub closed_at: i64,
    /// Rooms closed by this call (the bid's room, and the shared room when this was the
    /// project's last open contract). Empty when the call was a repeat.
    pub newly_closed: Vec<String>,
    pub shared_room_closed: Option<String>,
}

/// A room member as listed to other members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    pub user: String,
    pub account: String,
    pub side: String,
    pub role: AccountRole,
    pub party: bool,
    pub name: Option<String>,
    pub email: Option<String>,
    /// The person's data key was destroyed: their name and email are gone for good.
    pub erased: bool,
    /// What the person's name and email were collected for (C5), when they are shown.
    pub data_purpose: Option<String>,
    /// A contract party whose membership was terminated and erased: `user` is their
    /// per-workroom label.
    pub former: bool,
}

const RETRIES: usize = 3;

fn new_room_id() -> String {
    format!("rm_{}", uuid::Uuid::now_v7().simple())
}

impl Store {
    /// Open the private workroom for an accepted bid. Idempotent on `bid_id`: a repeat with
    /// the same project and parties returns the same room; a repeat that disagrees is a
    /// conflict.
    pub async fn accept_bid(
        &self,
        bid_id: &str,
        project_id: &str,
        client: &PartyInput,
        contractor: &PartyInput,
        actor: &Actor,
    ) -> Result<AcceptOutcome, StorageError> {
        if client.account == contractor.account {
            return Err(StorageError::Invalid(
                "client and contractor must belong to different accounts".into(),
            ));
        }
        let mut last_err = None;
        for _ in 0..RETRIES {
            let txn = self.begin_write().await?;
            let accepted = match accept_bid_in(self, &txn, bid_id, project_id, client, contractor)
                .await
            {
                Ok(outcome) => {
                    let entries: Vec<_> = outcome
                        .changed_rooms
                        .iter()
                        .map(|room| {
                            let action = if *room == outcome.room_id {
                                AuditAction::RoomOpened
                            } else {
                                AuditAction::RoomMembersChanged
                            };
                            let details = serde_json::json!({"bid": bid_id, "project": project_id});
                            actor.entry(
                                action,
                                &format!("room:{room}"),
                                Purpose::Participation,
                                details,
                            )
                        })
                        .collect();
                    self.append_audit_in(&txn, &entries).await.map(|_| outcome)
                }
                Err(e) => Err(e),
            };
            match accepted {
                Ok(outcome) => match txn.commit().await {
                    Ok(()) => return Ok(outcome),
                    Err(e) if is_unique_violation(&e) => last_err = Some(e.into()),
                    Err(e) => return Err(e.into()),
                },
                Err(e) if e.is_unique_violation() => {
                    txn.rollback().await.ok();
                    last_err = Some(e);
                }
                Err(e) => {
                    txn.rollback().await.ok();
                    return Err(e);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| StorageError::Conflict("bid acceptance raced".into())))
    }

    /// Close the bid's workroom (read-only from now on). Idempotent.
    pub async fn end_contract(
        &self,
        bid_id: &str,
        actor: &Actor,
    ) -> Result<EndOutcome, StorageError> {
        let txn = self.begin_write().await?;
        let room = rooms::Entity::find()
            .filter(rooms::Column::BidId.eq(bid_id))
            .one(&txn)
            .await?
            .ok_or(StorageError::NotFound)?;
        let now = self.clock.now_ms();
        let mut newly_closed = Vec::new();
        let closed_at = match room.closed_at {
            Some(at) => at,
            None => {
                close_room(&txn, &room.id, now).await?;
                newly_closed.push(room.id.clone());
                now
            }
        };
        let mut shared_room_closed = None;
        if let Some(shared) = project_shared_rooms::Entity::find_by_id(room.project_id.clone())
            .one(&txn)
            .await?
        {
            let open_private = rooms::Entity::find()
                .filter(rooms::Column::ProjectId.eq(room.project_id.as_str()))
                .filter(rooms::Column::Kind.eq("private"))
                .filter(rooms::Column::ClosedAt.is_null())
                .all(&txn)
                .await?;
            if open_private.is_empty() {
                let shared_row = rooms::Entity::find_by_id(shared.room_id.clone())
                    .one(&txn)
                    .await?;
                if let Some(row) = shared_row
                    && row.closed_at.is_none()
                {
                    close_room(&txn, &row.id, now).await?;
                    newly_closed.push(row.id.clone());
                    shared_room_closed = Some(row.id);
                }
            }
        }
        self.count_closed_rooms(&txn, &newly_closed).await?;
        let entries: Vec<_> = newly_closed
            .iter()
            .map(|room| {
                let details = serde_json::json!({"bid": bid_id});
                actor.entry(
                    AuditAction::RoomClosed,
                    &format!("room:{room}"),
                    Purpose::Participation,
                    details,
                )
            })
            .collect();
        self.append_audit_in(&txn, &entries).await?;
        txn.commit().await?;
        Ok(EndOutcome {
            room_id: room.id,
            closed_at,
            newly_closed,
            shared_room_closed,
        })
    }

    /// Add a user to a team account, or change their role. Returns the rooms the account
    /// can see (their users' views changed).
    pub async fn put_account_member(
        &self,
        account_id: &str,
        user_id: &str,
        role: AccountRole,
        name: Option<&str>,
        email: Option<&str>,
        actor: &Actor,
    ) -> Result<Vec<String>, StorageError> {
        let txn = self.begin_write().await?;
        self.refuse_terminated(&txn, &[user_id], &[account_id])
            .await?;
        let now = self.clock.now_ms();
        ensure_account(&txn, account_id, now).await?;
        upsert_user(self, &txn, user_id, name, email, now).await?;
        account_members::Entity::insert(account_members::ActiveModel {
            account_id: Set(account_id.to_string()),
            user_id: Set(user_id.to_string()),
            role: Set(role.as_str().to_string()),
            created_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([
                account_members::Column::AccountId,
                account_members::Column::UserId,
            ])
            .update_column(account_members::Column::Role)
            .to_owned(),
        )
        .exec(&txn)
        .await?;
        let rooms = rooms_of_account(&txn, account_id).await?;
        let details = serde_json::json!({"user": user_id, "role": role.as_str()});
        let entry = actor.entry(
            AuditAction::AccountMemberPut,
            &format!("account:{account_id}"),
            Purpose::Participation,
            details,
        );
        self.append_audit_in(&txn, &[entry]).await?;
        txn.commit().await?;
        Ok(rooms)
    }

    /// Remove a user from a team account. Returns the rooms the user lost access through
    /// this account, or `NotFound` when they were not a member.
    pub async fn remove_account_member(
        &self,
        account_id: &str,
        user_id: &str,
        actor: &Actor,
    ) -> Result<Vec<String>, StorageError> {
        let txn = self.begin_write().await?;
        let deleted = account_members::Entity::delete_many()
            .filter(account_members::Column::AccountId.eq(account_id))
            .filter(account_members::Column::UserId.eq(user_id))
            .exec(&txn)
            .await?;
        if deleted.rows_affected == 0 {
            return Err(StorageError::NotFound);
        }
        let rooms = rooms_of_account(&txn, account_id).await?;
        let entry = actor.entry(
            AuditAction::AccountMemberRemoved,
            &format!("account:{account_id}"),
            Purpose::Participation,
            serde_json::json!({"user": user_id}),
        );
        self.append_audit_in(&txn, &[entry]).await?;
        txn.commit().await?;
        Ok(rooms)
    }

    /// The room's members: contract parties with name and email (released when the room
    /// opened, C1), and the other members of the party accounts with their role only.
    /// The last committed seq of each of these rooms (rooms that do not exist are left
    /// out): what a node compares with what it delivered, to find events another node
    /// committed whose signal it missed. Counters only, no content: no proof needed.
    pub async fn room_heads(&self, rooms: &[RoomId]) -> Result<Vec<(RoomId, u64)>, StorageError> {
        let mut heads = Vec::with_capacity(rooms.len());
        for chunk in rooms.chunks(500) {
            let rows: Vec<(String, i64)> = rooms::Entity::find()
                .select_only()
                .column(rooms::Column::Id)
                .column(rooms::Column::LastSeq)
                .filter(rooms::Column::Id.is_in(chunk.iter().map(|r| r.as_str().to_string())))
                .into_tuple()
                .all(&self.db)
                .await?;
            heads.extend(rows.into_iter().filter_map(|(id, last)| {
                Some((
                    RoomId::try_from(id.as_str()).ok()?,
                    u64::try_from(last).ok()?,
                ))
            }));
        }
        Ok(heads)
    }

    pub async fn room_members(&self, read: &RoomRead) -> Result<Vec<MemberRow>, StorageError> {
        let room_id = read.room();
        let parties = room_parties::Entity::find()
            .filter(room_parties::Column::RoomId.eq(room_id))
            .all(&self.db)
            .await?;
        if parties.is_empty() {
            return Err(StorageError::NotFound);
        }
        let accounts: Vec<String> = parties.iter().map(|p| p.account_id.clone()).collect();
        let members = account_members::Entity::find()
            .filter(account_members::Column::AccountId.is_in(accounts))
            .all(&self.db)
            .await?;
        let party_users: Vec<String> = parties.iter().map(|p| p.user_id.clone()).collect();
        let people: std::collections::HashMap<String, users::Model> = users::Entity::find()
            .filter(users::Column::Id.is_in(party_users))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|u| (u.id.clone(), u))
            .collect();
        let mut rows = Vec::new();
        for member in members {
            let Some(party) = parties.iter().find(|p| p.account_id == member.account_id) else {
                continue;
            };
            let is_party = parties
                .iter()
                .any(|p| p.account_id == member.account_id && p.user_id == member.user_id);
            let person = if is_party {
                people.get(&member.user_id)
            } else {
                None
            };
            let (name, email, erased) = match person {
                Some(p) => self.open_person(p).await?,
                None => (None, None, false),
            };
            rows.push(MemberRow {
                data_purpose: person.map(|p| p.purpose.clone()),
                role: AccountRole::parse(&member.role).unwrap_or(AccountRole::Viewer),
                side: party.side.clone(),
                party: is_party,
                name,
                email,
                erased,
                former: false,
                user: member.user_id,
                account: member.account_id,
            });
        }
        // Contract parties who were terminated and erased: listed by their label.
        for party in &parties {
            if party.user_id.starts_with(crate::FORMER_PREFIX) {
                rows.push(MemberRow {
                    user: party.user_id.clone(),
                    account: party.account_id.clone(),
                    side: party.side.clone(),
                    role: AccountRole::Viewer,
                    party: true,
                    name: None,
                    email: None,
                    erased: true,
                    data_purpose: None,
                    former: true,
                });
            }
        }
        rows.sort_by(|a, b| (&a.side, &a.user).cmp(&(&b.side, &b.user)));
        Ok(rows)
    }
}

impl Store {
    /// A user's name and email, opened with their person key; `erased` when the key is gone.
    pub(crate) async fn open_person(
        &self,
        person: &users::Model,
    ) -> Result<(Option<String>, Option<String>, bool), StorageError> {
        let key = self
            .opening_key(&self.db, KeyScope::Person(&person.id))
            .await?;
        let open = |field: &str, sealed: &Option<Vec<u8>>| {
            open_text(
                key.as_deref(),
                &person_item(&person.id, field),
                sealed.as_deref(),
            )
        };
        match (
            open("name", &person.name_sealed),
            open("email", &person.email_sealed),
        ) {
            (Ok(name), Ok(email)) => Ok((name, email, false)),
            (Err(Unreadable::Damaged), _) | (_, Err(Unreadable::Damaged)) => {
                tracing::error!(user = %person.id, "personal data failed its integrity check");
                Ok((None, None, false))
            }
            _ => Ok((None, None, true)),
        }
    }
}

async fn accept_bid_in(
    store: &Store,
    txn: &DatabaseTransaction,
    bid_id: &str,
    project_id: &str,
    client: &PartyInput,
    contractor: &PartyInput,
) -> Result<AcceptOutcome, StorageError> {
    if let Some(existing) = rooms::Entity::find()
        .filter(rooms::Column::BidId.eq(bid_id))
        .one(txn)
        .await?
    {
        if existing.purge_started_at.is_some() {
            return Err(StorageError::Conflict(
                "this bid's workroom was purged: it cannot be opened again".into(),
            ));
        }
        let parties = room_parties::Entity::find()
            .filter(room_parties::Column::RoomId.eq(existing.id.as_str()))
            .all(txn)
            .await?;
        let same = existing.project_id == project_id
            && parties.iter().any(|p| {
                p.side == "client" && p.user_id == client.user && p.account_id == client.account
            })
            && parties.iter().any(|p| {
                p.side == "contractor"
                    && p.user_id == contractor.user
                    && p.account_id == contractor.account
            });
        if !same {
            return Err(StorageError::Conflict(
                "this bid was accepted with a different project or parties".into(),
            ));
        }
        let shared = project_shared_rooms::Entity::find_by_id(project_id.to_string())
            .one(txn)
            .await?
            .map(|s| s.room_id);
        return Ok(AcceptOutcome {
            room_id: existing.id,
            created: false,
            shared_room_id: shared,
            changed_rooms: Vec::new(),
        });
    }
    store
        .refuse_terminated(
            txn,
            &[&client.user, &contractor.user],
            &[&client.account, &contractor.account],
        )
        .await?;
    let now = store.clock.now_ms();
    for party in [client, contractor] {
        ensure_account(txn, &party.account, now).await?;
        upsert_user(
            store,
            txn,
            &party.user,
            Some(&party.name),
            Some(&party.email),
            now,
        )
        .await?;
        ensure_party_member(txn, &party.account, &party.user, now).await?;
    }
    let room_id = new_room_id();
    insert_room(txn, &room_id, "private", project_id, Some(bid_id), now).await?;
    store
        .count_analytics(txn, Metric::WorkroomsOpened, &[Share::one(&room_id)])
        .await?;
    insert_party(txn, &room_id, client, "client", now).await?;
    insert_party(txn, &room_id, contractor, "contractor", now).await?;
    let mut changed_rooms = vec![room_id.clone()];

    let private_rooms = rooms::Entity::find()
        .filter(rooms::Column::ProjectId.eq(project_id))
        .filter(rooms::Column::Kind.eq("private"))
        .all(txn)
        .await?;
    let mut shared_room_id = None;
    if private_rooms.len() >= 2 {
        let shared = match project_shared_rooms::Entity::find_by_id(project_id.to_string())
            .one(txn)
            .await?
        {
            Some(row) => row.room_id,
            None => {
                let shared_id = new_room_id();
                insert_room(txn, &shared_id, "shared", project_id, None, now).await?;
                store
                    .count_analytics(txn, Metric::WorkroomsOpened, &[Share::one(&shared_id)])
                    .await?;
                project_shared_rooms::Entity::insert(project_shared_rooms::ActiveModel {
                    project_id: Set(project_id.to_string()),
                    room_id: Set(shared_id.clone()),
                })
                .exec(txn)
                .await?;
                shared_id
            }
        };
        // The shared room holds the client side and every hired contractor side.
        let all_parties = room_parties::Entity::find()
            .filter(room_parties::Column::RoomId.is_in(private_rooms.iter().map(|r| r.id.clone())))
            .all(txn)
            .await?;
        let present = room_parties::Entity::find()
            .filter(room_parties::Column::RoomId.eq(shared.as_str()))
            .all(txn)
            .await?;
        for party in all_parties {
            let already = present
                .iter()
                .any(|p| p.account_id == party.account_id && p.user_id == party.user_id);
            if !already {
                room_parties::Entity::insert(room_parties::ActiveModel {
                    room_id: Set(shared.clone()),
                    account_id: Set(party.account_id),
                    user_id: Set(party.user_id),
                    side: Set(party.side),
                    created_at: Set(now),
                })
                .on_conflict_do_nothing()
                .exec(txn)
                .await?;
            }
        }
        changed_rooms.push(shared.clone());
        shared_room_id = Some(shared);
    }
    Ok(AcceptOutcome {
        room_id,
        created: true,
        shared_room_id,
        changed_rooms,
    })
}

async fn close_room(txn: &DatabaseTransaction, room_id: &str, now: i64) -> Result<(), DbErr> {
    rooms::Entity::update_many()
        .col_expr(rooms::Column::ClosedAt, now.into())
        .filter(rooms::Column::Id.eq(room_id))
        .filter(rooms::Column::ClosedAt.is_null())
        .exec(txn)
        .await?;
    Ok(())
}

async fn ensure_account(
    txn: &DatabaseTransaction,
    account_id: &str,
    now: i64,
) -> Result<(), DbErr> {
    accounts::Entity::insert(accounts::ActiveModel {
        id: Set(account_id.to_string()),
        created_at: Set(now),
        ..Default::default()
    })
    .on_conflict_do_nothing()
    .exec(txn)
    .await?;
    Ok(())
}

/// Insert or update a user; the name and email are sealed under the person's data key.
async fn upsert_user(
    store: &Store,
    txn: &DatabaseTransaction,
    user_id: &str,
    name: Option<&str>,
    email: Option<&str>,
    now: i64,
) -> Result<(), StorageError> {
    let key = store.sealing_key(txn, KeyScope::Person(user_id)).await?;
    let name_sealed = name.map(|n| key.seal(&person_item(user_id, "name"), n.as_bytes()));
    let email_sealed = email.map(|e| key.seal(&person_item(user_id, "email"), e.as_bytes()));
    let mut on_conflict = OnConflict::column(users::Column::Id);
    let mut update = vec![users::Column::UpdatedAt];
    if name.is_some() {
        update.push(users::Column::NameSealed);
    }
    if email.is_some() {
        update.push(users::Column::EmailSealed);
    }
    on_conflict.update_columns(update);
    users::Entity::insert(users::ActiveModel {
        id: Set(user_id.to_string()),
        name_sealed: Set(name_sealed),
        email_sealed: Set(email_sealed),
        created_at: Set(now),
        updated_at: Set(now),
        purpose: Set(Purpose::Participation.as_str().to_string()),
        ..Default::default()
    })
    .on_conflict(on_conflict)
    .exec(txn)
    .await?;
    Ok(())
}

/// A user named on a bid belongs to the account they act for: the account's first member
/// becomes its owner, later ones members. An existing role is kept.
async fn ensure_party_member(
    txn: &DatabaseTransaction,
    account_id: &str,
    user_id: &str,
    now: i64,
) -> Result<(), DbErr> {
    let has_members = account_members::Entity::find()
        .filter(account_members::Column::AccountId.eq(account_id))
        .one(txn)
        .await?
        .is_some();
    let role = if has_members {
        AccountRole::Member
    } else {
        AccountRole::Owner
    };
    account_members::Entity::insert(account_members::ActiveModel {
        account_id: Set(account_id.to_string()),
        user_id: Set(user_id.to_string()),
        role: Set(role.as_str().to_string()),
        created_at: Set(now),
    })
    .on_conflict_do_nothing()
    .exec(txn)
    .await?;
    Ok(())
}

async fn insert_room(
    txn: &DatabaseTransaction,
    room_id: &str,
    kind: &str,
    project_id: &str,
    bid_id: Option<&str>,
    now: i64,
) -> Result<(), DbErr> {
    rooms::Entity::insert(rooms::ActiveModel {
        id: Set(room_id.to_string()),
        kind: Set(kind.to_string()),
        project_id: Set(project_id.to_string()),
        bid_id: Set(bid_id.map(str::to_string)),
        last_seq: Set(0),
        file_bytes: Set(0),
        purpose: Set(Purpose::Participation.as_str().to_string()),
        created_at: Set(now),
        closed_at: Set(None),
        ..Default::default()
    })
    .exec(txn)
    .await?;
    Ok(())
}

async fn insert_party(
    txn: &DatabaseTransaction,
    room_id: &str,
    party: &PartyInput,
    side: &str,
    now: i64,
) -> Result<(), DbErr> {
    room_parties::Entity::insert(room_parties::ActiveModel {
        room_id: Set(room_id.to_string()),
        account_id: Set(party.account.clone()),
        user_id: Set(party.user.clone()),
        side: Set(side.to_string()),
        created_at: Set(now),
    })
    .exec(txn)
    .await?;
    Ok(())
}

async fn rooms_of_account(
    txn: &DatabaseTransaction,
    account_id: &str,
) -> Result<Vec<String>, DbErr> {
    let mut rooms: Vec<String> = room_parties::Entity::find()
        .filter(room_parties::Column::AccountId.eq(account_id))
        .all(txn)
        .await?
        .into_iter()
        .map(|p| p.room_id)
        .collect();
    rooms.sort();
    rooms.dedup();
    Ok(rooms)
}
