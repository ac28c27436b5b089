//! Who may see which room. A user reaches a room only through membership in one of the
//! room's party accounts (C2); their best account role decides what they may do there.

use crate::Store;
use crate::entity::{account_members, read_markers, room_parties, rooms};
use crate::error::StorageError;
use crate::time::to_seq;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A user's role in a team account, ordered from least to most powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccountRole {
    /// Reads the account's workrooms, cannot send.
    Viewer,
    /// Reads and sends.
    Member,
    /// Reads and sends; manages the account on the marketplace side.
    Owner,
}

impl AccountRole {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountRole::Viewer => "viewer",
            AccountRole::Member => "member",
            AccountRole::Owner => "owner",
        }
    }

    pub fn parse(value: &str) -> Option<AccountRole> {
        match value {
            "viewer" => Some(AccountRole::Viewer),
            "member" => Some(AccountRole::Member),
            "owner" => Some(AccountRole::Owner),
            _ => None,
        }
    }

    /// Owners and members post; viewers only read.
    pub fn can_send(self) -> bool {
        self >= AccountRole::Member
    }
}

/// One room a user can see, with what they need at connect time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomAccessRow {
    pub room_id: String,
    pub role: AccountRole,
    pub last_seq: u64,
    pub read_seq: u64,
    pub closed: bool,
    /// When the contract ended.
    pub closed_at: Option<i64>,
    /// The room's own retention after closing (seconds), if it has one.
    pub retention_secs: Option<i64>,
    /// Its purge began (or finished): nobody reads it any more.
    pub purged: bool,
}

impl Store {
    /// Every room the user can see, through any of their accounts.
    pub async fn rooms_for_user(&self, user_id: &str) -> Result<Vec<RoomAccessRow>, StorageError> {
        let memberships = account_members::Entity::find()
            .filter(account_members::Column::UserId.eq(user_id))
            .all(&self.db)
            .await?;
        if memberships.is_empty() {
            return Ok(Vec::new());
        }
        let role_by_account: HashMap<String, AccountRole> = memberships
            .into_iter()
            .filter_map(|m| AccountRole::parse(&m.role).map(|r| (m.account_id, r)))
            .collect();
        let parties = room_parties::Entity::find()
            .filter(room_parties::Column::AccountId.is_in(role_by_account.keys().cloned()))
            .all(&self.db)
            .await?;
        let mut role_by_room: HashMap<String, AccountRole> = HashMap::new();
        for party in parties {
            if let Some(role) = role_by_account.get(&party.account_id) {
                let best = role_by_room.entry(party.room_id).or_insert(*role);
                *best = (*best).max(*role);
            }
        }
        if role_by_room.is_empty() {
            return Ok(Vec::new());
        }
        let rooms = rooms::Entity::find()
            .filter(rooms::Column::Id.is_in(role_by_room.keys().cloned()))
            .filter(rooms::Column::PurgeStartedAt.is_null())
            .all(&self.db)
            .await?;
        let markers: HashMap<String, i64> = read_markers::Entity::find()
            .filter(read_markers::Column::UserId.eq(user_id))
            .filter(read_markers::Column::RoomId.is_in(role_by_room.keys().cloned()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| (m.room_id, m.seq))
            .collect();
        let mut rows: Vec<RoomAccessRow> = rooms
            .into_iter()
            .map(|room| RoomAccessRow {
                role: role_by_room[&room.id],
                read_seq: to_seq(markers.get(&room.id).copied().unwrap_or(0)),
                last_seq: to_seq(room.last_seq),
                closed: room.closed_at.is_some(),
                closed_at: room.closed_at,
                retention_secs: room.retention_secs,
                purged: false,
                room_id: room.id,
            })
            .collect();
        rows.sort_by(|a, b| a.room_id.cmp(&b.room_id));
        Ok(rows)
    }

    /// The user's access to one room, or `None` when they may not see it.
    pub async fn room_access(
        &self,
        user_id: &str,
        room_id: &str,
    ) -> Result<Option<RoomAccessRow>, StorageError> {
        let accounts = self.party_accounts(room_id).await?;
        if accounts.is_empty() {
            return Ok(None);
        }
        let best = account_members::Entity::find()
            .filter(account_members::Column::UserId.eq(user_id))
            .filter(account_members::Column::AccountId.is_in(accounts))
            .all(&self.db)
            .await?
            .into_iter()
            .filter_map(|m| AccountRole::parse(&m.role))
            .max();
        let Some(role) = best else {
            return Ok(None);
        };
        let Some(room) = rooms::Entity::find_by_id(room_id.to_string())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let read_seq = read_markers::Entity::find_by_id((room_id.to_string(), user_id.to_string()))
            .one(&self.db)
            .await?
            .map(|m| to_seq(m.seq))
            .unwrap_or(0);
        Ok(Some(RoomAccessRow {
            room_id: room.id,
            role,
            last_seq: to_seq(room.last_seq),
            read_seq,
            closed: room.closed_at.is_some(),
            closed_at: room.closed_at,
            retention_secs: room.retention_secs,
            purged: room.purge_started_at.is_some(),
        }))
    }

    /// The team accounts a room belongs to.
    async fn party_accounts(&self, room_id: &str) -> Result<Vec<String>, StorageError> {
        let mut accounts: Vec<String> = room_parties::Entity::find()
            .filter(room_parties::Column::RoomId.eq(room_id))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|p| p.account_id)
            .collect();
        accounts.sort();
        accounts.dedup();
        Ok(accounts)
    }

    /// Every user who can see the room (for live notifications).
    pub async fn users_of_room(&self, room_id: &str) -> Result<Vec<String>, StorageError> {
        let accounts = self.party_accounts(room_id).await?;
        let mut users: Vec<String> = account_members::Entity::find()
            .filter(account_members::Column::AccountId.is_in(accounts))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| m.user_id)
            .collect();
        users.sort();
        users.dedup();
        Ok(users)
    }

    /// Who stands on which side of the room (see [`RoomSides`]).
    pub async fn room_sides(&self, room_id: &str) -> Result<RoomSides, StorageError> {
        let parties = room_parties::Entity::find()
            .filter(room_parties::Column::RoomId.eq(room_id))
            .all(&self.db)
            .await?;
        let mut sides = RoomSides::default();
        if parties.is_empty() {
            return Ok(sides);
        }
        let accounts: Vec<String> = parties.iter().map(|p| p.account_id.clone()).collect();
        let members = account_members::Entity::find()
            .filter(account_members::Column::AccountId.is_in(accounts))
            .all(&self.db)
            .await?;
        sides.closed_at = rooms::Entity::find_by_id(room_id.to_string())
            .one(&self.db)
            .await?
            .and_then(|room| room.closed_at);
        sides.parties = parties
            .iter()
            .map(|p| RoomParty {
                user: p.user_id.clone(),
                side: p.side.clone(),
            })
            .collect();
        for member in &members {
            if let Some(role) = AccountRole::parse(&member.role) {
                let best = sides.roles.entry(member.user_id.clone()).or_insert(role);
                *best = (*best).max(role);
            }
        }
        for party in &parties {
            let team = members
                .iter()
                .filter(|m| m.account_id == party.account_id)
                .map(|m| m.user_id.clone());
            match party.side.as_str() {
                "client" => sides.client_side.extend(team),
                _ => sides
                    .contractor_teams
                    .entry(party.user_id.clone())
                    .or_default()
                    .extend(team),
            }
        }
        Ok(sides)
    }
}

/// Who stands on which side of a room: the members of its client-side accounts, and for
/// each contractor-side party (a project's shared room has several) the members of that
/// party's account, its team. Work data of one contractor (Tracker screenshots) belongs to
/// that contractor's team and, when shared, to the client side, never to other contractors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomSides {
    pub client_side: BTreeSet<String>,
    /// Contractor party user → the members of their party account.
    pub contractor_teams: BTreeMap<String, BTreeSet<String>>,
    /// Each member's best role across the room's party accounts (as in [`RoomAccessRow`]).
    pub roles: BTreeMap<String, AccountRole>,
    /// The contract parties (the users named on its accepted bids), with their sides.
    pub parties: Vec<RoomParty>,
    /// When the contract ended (the room is read-only from then on).
    pub closed_at: Option<i64>,
}

/// A party of a room (a user named on an accepted bid), with their side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomParty {
    pub user: String,
    /// `client` or `contractor`.
    pub side: String,
}

impl RoomSides {
    /// Whether the contract ended: the room is read-only.
    pub fn closed(&self) -> bool {
        self.closed_at.is_some()
    }

    /// Whether `user` sees the room from the client side.
    pub fn on_client_side(&self, user: &str) -> bool {
        self.client_side.contains(user)
    }

    /// The contractors whose team `user` belongs to.
    pub fn contractors_of(&self, user: &str) -> Vec<String> {
        self.contractor_teams
            .iter()
            .filter(|(_, team)| team.contains(user))
            .map(|(contractor, _)| contractor.clone())
            .collect()
    }

    /// Whether `contractor` is a contractor party still in their own party account.
    pub fn in_own_team(&self, contractor: &str) -> bool {
        self.contractor_teams
            .get(contractor)
            .is_some_and(|team| team.contains(contractor))
    }

    /// The team of `contractor` (empty when they are no contractor party of the room).
    pub fn team_of(&self, contractor: &str) -> Vec<String> {
        self.contractor_teams
            .get(contractor)
            .map(|team| team.iter().cloned().collect())
            .unwrap_or_default()
    }
}
