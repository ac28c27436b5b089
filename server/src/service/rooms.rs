//! Rooms and access: the caller's rooms, their access to one (the policy's input for every
//! member act), its members, read markers, typing, and the ended grants of a room
//! (transparency).

use super::{Failure, Service};
use crate::auth::Identity;
use crate::events::rfc3339;
use crate::hub::ConnId;
use crate::policy::{self, Act, Caller, Resource};
use axum::extract::ws::Utf8Bytes;
use workroom_protocol::frames::{MemberView, RoomSummary};
use workroom_protocol::moderation::{EndedGrantList, EndedGrantView};
use workroom_protocol::{Purpose, Role, RoomId, ServerFrame};
use workroom_storage::proof::RoomRead;
use workroom_storage::{MemberRow, RoomAccessRow};

/// A member row as shown to other members, for participation: personal data collected for
/// another purpose is left out.
fn member_view(row: MemberRow) -> MemberView {
    let shown = row
        .data_purpose
        .as_deref()
        .is_none_or(|p| policy::readable_name(p, Purpose::Participation));
    let (name, email) = if shown {
        (row.name, row.email)
    } else {
        (None, None)
    };
    let role = if row.former {
        "former"
    } else {
        row.role.as_str()
    };
    MemberView {
        former: row.former,
        user: row.user,
        account: row.account,
        side: row.side,
        role: role.to_string(),
        party: row.party,
        name,
        email,
        erased: row.erased,
        online: None,
    }
}

impl Service {
    /// A room summary as listed to the caller (`None` for a malformed stored id), with its
    /// purge date once closed.
    pub fn room_summary(&self, row: &RoomAccessRow) -> Option<RoomSummary> {
        let retention = row
            .retention_secs
            .map_or(self.config.retention.closed_room_secs, |s| {
                u64::try_from(s).unwrap_or(0)
            });
        let purge_at = row.closed_at.map(|closed| {
            let ms = i64::try_from(retention.saturating_mul(1000)).unwrap_or(i64::MAX);
            rfc3339(closed.saturating_add(ms))
        });
        Some(RoomSummary {
            id: RoomId::try_from(row.room_id.as_str()).ok()?,
            last_seq: row.last_seq,
            read_seq: row.read_seq,
            closed: row.closed,
            can_send: policy::can_send(row.role, row.closed),
            purge_at,
        })
    }

    /// The caller's access to a room (`None` for anyone but a member, or a malformed id).
    /// A purged workroom answers for everyone with an access that the policy refuses as
    /// purged: its parties are gone with it, and its id names nothing else.
    pub async fn access_of(
        &self,
        identity: &Identity,
        room: &str,
    ) -> Result<Option<RoomAccessRow>, Failure> {
        if RoomId::try_from(room).is_err() || identity.role() != Role::Member {
            return Ok(None);
        }
        self.member_access(identity.user(), room).await
    }

    /// A member's access to a room, or the purged access of a purged one (see
    /// [`Service::access_of`]); the one lookup every member act starts from.
    pub(super) async fn member_access(
        &self,
        user: &str,
        room: &str,
    ) -> Result<Option<RoomAccessRow>, Failure> {
        if let Some(access) = self.store.room_access(user, room).await? {
            return Ok(Some(access));
        }
        let tombstone = self
            .store
            .room_retention(room)
            .await?
            .filter(|r| r.purge_started_at.is_some());
        Ok(tombstone.map(|r| RoomAccessRow {
            room_id: r.room,
            role: workroom_storage::AccountRole::Viewer,
            last_seq: 0,
            read_seq: 0,
            closed: true,
            closed_at: r.closed_at,
            retention_secs: r.retention_secs,
            purged: true,
        }))
    }

    /// The proof that the caller reads a room (history, resume, members) through `access`.
    pub fn room_read(
        &self,
        identity: &Identity,
        access: Option<&RoomAccessRow>,
    ) -> Result<RoomRead, Failure> {
        Ok(self.proofs.read_room(Caller::Token(identity), access)?)
    }

    /// [`Service::room_read`] for a room the caller names.
    pub async fn room_read_by_id(
        &self,
        identity: &Identity,
        room: &str,
    ) -> Result<RoomRead, Failure> {
        let access = self.access_of(identity, room).await?;
        self.room_read(identity, access.as_ref())
    }

    /// Whether the policy allows `act` for `purpose` in a room, through `access`.
    pub fn allow_in_room(
        &self,
        identity: &Identity,
        access: Option<&RoomAccessRow>,
        act: Act,
        purpose: Purpose,
    ) -> Result<(), Failure> {
        policy::decide(
            Caller::Token(identity),
            act,
            purpose,
            Resource::Room(access),
        )?;
        Ok(())
    }

    /// The room a member acts on, once the policy allowed `act` for `purpose` there.
    pub(super) async fn room_for(
        &self,
        identity: &Identity,
        room: &str,
        act: Act,
        purpose: Purpose,
    ) -> Result<RoomId, Failure> {
        let access = self.access_of(identity, room).await?;
        self.allow_in_room(identity, access.as_ref(), act, purpose)?;
        RoomId::try_from(room).map_err(|_| Failure::not_found("no such room"))
    }

    /// The caller's rooms, as listed to them.
    pub async fn list_rooms(&self, identity: &Identity) -> Result<Vec<RoomSummary>, Failure> {
        policy::decide(
            Caller::Token(identity),
            Act::ListRooms,
            Purpose::Participation,
            Resource::Nothing,
        )?;
        let rows = self.store.rooms_for_user(identity.user()).await?;
        Ok(rows
            .iter()
            .filter_map(|row| self.room_summary(row))
            .collect())
    }

    /// The rooms a session follows, with the access the policy decides each frame on. The
    /// session itself was allowed (`OpenSession`); a moderator's follows none.
    pub async fn session_rooms(&self, identity: &Identity) -> Result<Vec<RoomAccessRow>, Failure> {
        if identity.role() != Role::Member {
            return Ok(Vec::new());
        }
        Ok(self.store.rooms_for_user(identity.user()).await?)
    }

    /// A room's members as other members see them, with who is online (presence).
    pub async fn members(&self, read: &RoomRead) -> Result<Vec<MemberView>, Failure> {
        let rows = self.store.room_members(read).await?;
        let room = RoomId::try_from(read.room()).ok();
        Ok(rows
            .into_iter()
            .map(|row| {
                let online = room.as_ref().map(|r| self.hub.is_online(r, &row.user));
                MemberView {
                    online,
                    ..member_view(row)
                }
            })
            .collect())
    }

    /// Move the caller's read marker (never backwards) and tell the room's other
    /// connections; the stored marker.
    pub async fn mark_read(
        &self,
        identity: &Identity,
        read: &RoomRead,
        seq: u64,
        except: Option<ConnId>,
    ) -> Result<u64, Failure> {
        let stored = self
            .store
            .set_read_marker(read.room(), identity.user(), seq)
            .await?;
        if let Ok(room) = RoomId::try_from(read.room()) {
            let frame = ServerFrame::Read {
                id: None,
                room: room.clone(),
                user: identity.user().to_string(),
                seq: stored,
            };
            self.hub
                .publish_ephemeral(&room, Utf8Bytes::from(frame.to_json()), except);
        }
        Ok(stored)
    }

    /// Tell a room's other connections the caller is typing (nothing is stored).
    pub fn typing(
        &self,
        identity: &Identity,
        access: Option<&RoomAccessRow>,
        room: &RoomId,
        except: Option<ConnId>,
    ) -> Result<(), Failure> {
        self.allow_in_room(identity, access, Act::WriteRoom, Purpose::Participation)?;
        let frame = ServerFrame::Typing {
            room: room.clone(),
            user: identity.user().to_string(),
        };
        self.hub
            .publish_ephemeral(room, Utf8Bytes::from(frame.to_json()), except);
        Ok(())
    }

    /// The moderator grants opened on a room that have ended (case id, scope, times; not the
    /// reason, not the moderator). Off when `moderation.transparency = false`.
    pub async fn ended_grants(
        &self,
        identity: &Identity,
        room: &str,
    ) -> Result<EndedGrantList, Failure> {
        let room_id = self
            .room_for(identity, room, Act::ListEndedGrants, Purpose::Moderation)
            .await?;
        if !self.config.moderation.transparency {
            return Err(Failure::new(
                workroom_protocol::ErrorCode::Forbidden,
                "grant transparency is turned off on this server",
            ));
        }
        let now = self.clock.now_ms();
        let grants = self.store.grants(Some(room_id.as_str())).await?;
        Ok(EndedGrantList {
            grants: grants
                .into_iter()
                .filter_map(|g| {
                    let ended_at = g.ended_at(now)?;
                    Some(EndedGrantView {
                        case_id: g.case_id.clone(),
                        scope: g.scope.clone(),
                        state: g.state(now),
                        opened_at: rfc3339(g.opened_at),
                        ended_at: rfc3339(ended_at),
                    })
                })
                .collect(),
        })
    }
}
