//! What a moderator reads under a grant (C6): a room's history with every message's
//! earlier versions, its files, its members' connections, a live view; and the system
//! notices a grant may allow. Each read is decided by the policy and recorded in the audit
//! trail before anything is returned (the proof comes out only with the record's receipt):
//! if the record cannot be written, the moderator gets `unavailable` and no data.

use super::history::Window;
use super::{Download, Failure, Service};
use crate::auth::Identity;
use crate::events::{message_view, rfc3339};
use crate::policy::{self, Act, Caller, Resource};
use serde_json::json;
use workroom_protocol::moderation::{
    ConnectionList, ConnectionView, GrantScope, ModeratedHistory, ModeratedMessage, NoticePosted,
    PriorVersion,
};
use workroom_protocol::{ErrorCode, Purpose, RoomId};
use workroom_storage::audit::AuditAction;
use workroom_storage::proof::{FileRead, LiveView, PriorRead, Unrecorded};
use workroom_storage::{GrantRow, NewEvent, NewEventKind, StoredEvent, StoredFile};

/// A live view the policy allowed, not yet recorded (see [`Service::begin_watch`]).
#[derive(Debug)]
pub struct WatchRequest {
    pub room: RoomId,
    grant: GrantRow,
    view: Unrecorded<LiveView>,
}

/// A live view that started: its proof, and where the room's timeline stood.
#[derive(Debug)]
pub struct Watching {
    pub view: LiveView,
    pub grant: String,
    pub case_id: String,
    /// Unix ms at which the grant ends; the view is cut off then.
    pub expires_at: i64,
    pub last_seq: u64,
}

impl Service {
    /// Messages with their earlier versions, as a moderator reads them.
    pub(super) async fn moderated_messages(
        &self,
        read: &impl PriorRead,
        room: &RoomId,
        events: &[StoredEvent],
    ) -> Result<Vec<ModeratedMessage>, Failure> {
        let ids: Vec<String> = events.iter().map(|e| e.msg_id.clone()).collect();
        let mut versions = self.store.prior_versions(read, &ids).await?;
        Ok(events
            .iter()
            .filter(|e| policy::readable_stored(e.purpose, Purpose::Moderation))
            .map(|e| ModeratedMessage {
                message: message_view(room, e),
                versions: versions
                    .remove(&e.msg_id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(version, body)| {
                        let (body, unreadable) = match body {
                            Ok(body) => (body, None),
                            Err(why) => (String::new(), Some(crate::events::unreadable(why))),
                        };
                        PriorVersion {
                            version: u32::try_from(version).unwrap_or(0),
                            body,
                            unreadable,
                        }
                    })
                    .collect(),
            })
            .collect())
    }

    /// A moderator's download (under a grant or through a report): recorded as
    /// `moderation.file_downloaded` in the case of `(room, case id, details)` first.
    pub(super) async fn moderated_download(
        &self,
        identity: &Identity,
        read: Unrecorded<FileRead>,
        (room, case_id, details): (&str, &str, serde_json::Value),
        stored: StoredFile,
    ) -> Result<Download, Failure> {
        let entry = identity.case_entry(
            AuditAction::ModerationFileDownloaded,
            room,
            Purpose::Moderation,
            case_id,
            details,
        );
        let read = self.record_read(read, entry).await?;
        Ok(Download::new(stored, read))
    }

    /// A page of the grant's room's history, every message with its earlier versions
    /// (edited and deleted ones included).
    pub async fn grant_history(
        &self,
        identity: &Identity,
        grant_id: &str,
        window: Window,
    ) -> Result<ModeratedHistory, Failure> {
        let grant = self.grant_for(identity, grant_id).await?;
        let read = self
            .proofs
            .grant_history(identity, &grant, self.clock.now_ms())?;
        let room = RoomId::try_from(grant.room_id.as_str())
            .map_err(|_| Failure::not_found("no such room"))?;
        let entry = identity.case_entry(
            AuditAction::ModerationHistoryRead,
            room.as_str(),
            Purpose::Moderation,
            &grant.case_id,
            json!({ "grant": grant.id, "before_seq": window.before_seq, "limit": window.limit }),
        );
        let read = self.record_read(read, entry).await?;
        let events = self.page(&read, window).await?;
        Ok(ModeratedHistory {
            messages: self.moderated_messages(&read, &room, &events).await?,
            room: room.to_string(),
            grant: grant.id,
        })
    }

    /// Any file that was attached in the grant's room (withdrawn ones included).
    pub async fn grant_file(
        &self,
        identity: &Identity,
        grant_id: &str,
        file: &str,
    ) -> Result<Download, Failure> {
        // The grant first (its own, active, scope `files`): no file id is looked up otherwise.
        let grant = self.grant_for(identity, grant_id).await?;
        self.under_grant(identity, &grant, Act::ReadFileUnderGrant, GrantScope::Files)?;
        let stored = self.existing_file(file).await?;
        let read = self
            .proofs
            .grant_file(identity, &grant, &stored.meta, self.clock.now_ms())?;
        let details = json!({ "grant": grant.id, "file": stored.meta.id });
        let download = (grant.room_id.as_str(), grant.case_id.as_str(), details);
        self.moderated_download(identity, read, download, stored)
            .await
    }

    /// Which of the room's members connected from where (pseudonymised): all of them, or
    /// those from one client address (hashed here; never stored or logged).
    pub async fn grant_connections(
        &self,
        identity: &Identity,
        grant_id: &str,
        address: Option<&str>,
        limit: Option<u64>,
    ) -> Result<ConnectionList, Failure> {
        let grant = self.grant_for(identity, grant_id).await?;
        let read = self
            .proofs
            .grant_connections(identity, &grant, self.clock.now_ms())?;
        let hashes = match address {
            None => None,
            Some(raw) => {
                let ip: std::net::IpAddr = raw
                    .trim()
                    .parse()
                    .map_err(|_| Failure::invalid("address: not an IP address"))?;
                Some(self.connlog.hashes(ip))
            }
        };
        let limit = limit.unwrap_or(200).clamp(1, 1000);
        let entry = identity.case_entry(
            AuditAction::ModerationConnectionsRead,
            &grant.room_id,
            Purpose::Security,
            &grant.case_id,
            json!({ "grant": grant.id, "by_address": hashes.is_some() }),
        );
        let read = self.record_read(read, entry).await?;
        let links = self
            .store
            .connections_of_room(&read, hashes.as_deref(), limit)
            .await?;
        Ok(ConnectionList {
            room: grant.room_id,
            grant: grant.id,
            connections: links
                .into_iter()
                .map(|c| ConnectionView {
                    user: c.user_id,
                    session: c.session_id,
                    address_hash: c.address_hash,
                    connected_at: rfc3339(c.connected_at),
                })
                .collect(),
        })
    }

    /// A system notice in the grant's room's timeline, marked `"notice": true`, sent by the
    /// moderator. Only with `moderation.allow_notices` and a grant whose scope includes
    /// `notice`; recorded before it is posted.
    pub async fn post_notice(
        &self,
        identity: &Identity,
        grant_id: &str,
        body: String,
    ) -> Result<NoticePosted, Failure> {
        let grant = self.grant_for(identity, grant_id).await?;
        self.under_grant(identity, &grant, Act::PostNotice, GrantScope::Notice)?;
        if !self.config.moderation.allow_notices {
            return Err(Failure::new(
                ErrorCode::Forbidden,
                "notices are turned off on this server",
            ));
        }
        let body = self.body(body)?;
        let room = RoomId::try_from(grant.room_id.as_str())
            .map_err(|_| Failure::not_found("no such room"))?;
        let entry = identity.case_entry(
            AuditAction::ModerationNoticePosted,
            room.as_str(),
            Purpose::Moderation,
            &grant.case_id,
            json!({ "grant": grant.id }),
        );
        // Recorded before the notice is posted: a notice without its record is never sent.
        self.committers.record(vec![entry]).await?;
        let event = NewEvent {
            room_id: room.clone(),
            sender_id: identity.user().to_string(),
            client_msg_id: None,
            kind: NewEventKind::Message {
                body,
                attachments: Vec::new(),
            },
            notice: true,
        };
        let outcome = self.queue(room.clone(), event).await?.committed().await?;
        let stored = outcome.event();
        Ok(NoticePosted {
            room: room.to_string(),
            seq: stored.seq,
            msg_id: stored.msg_id.clone(),
        })
    }

    /// A live view of the grant's room: allowed by the policy (grant theirs, active, scope
    /// `live`), not yet recorded.
    pub async fn watch_request(
        &self,
        identity: &Identity,
        grant_id: &str,
    ) -> Result<WatchRequest, Failure> {
        let grant = self
            .store
            .grant(grant_id)
            .await?
            .ok_or_else(|| Failure::not_found("no such grant"))?;
        let view = self.proofs.watch(identity, &grant, self.clock.now_ms())?;
        let room = RoomId::try_from(grant.room_id.as_str())
            .map_err(|_| Failure::not_found("no such room"))?;
        Ok(WatchRequest { room, grant, view })
    }

    /// Start a live view: where the room stands, then `moderation.live_view_started`
    /// recorded; the proof comes with the record.
    pub async fn begin_watch(
        &self,
        identity: &Identity,
        request: WatchRequest,
    ) -> Result<Watching, Failure> {
        let WatchRequest { room, grant, view } = request;
        let last_seq = self
            .store
            .room_last_seq(room.as_str())
            .await?
            .ok_or_else(|| Failure::not_found("no such room"))?;
        let entry = identity.case_entry(
            AuditAction::ModerationLiveViewStarted,
            room.as_str(),
            Purpose::Moderation,
            &grant.case_id,
            json!({ "grant": grant.id }),
        );
        let view = self
            .committers
            .record_read(view, entry)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "recording the live view failed");
                Failure::new(
                    ErrorCode::Unavailable,
                    "the audit trail is unavailable; not watching",
                )
            })?;
        Ok(Watching {
            view,
            grant: grant.id,
            case_id: grant.case_id,
            expires_at: grant.expires_at,
            last_seq,
        })
    }

    /// Record the end of a live view, with why it ended.
    pub async fn end_watch(
        &self,
        identity: &Identity,
        room: &RoomId,
        (grant, case_id): (&str, &str),
        reason: &str,
    ) {
        let entry = identity.case_entry(
            AuditAction::ModerationLiveViewEnded,
            room.as_str(),
            Purpose::Moderation,
            case_id,
            json!({ "grant": grant, "reason": reason }),
        );
        if let Err(e) = self.committers.record(vec![entry]).await {
            tracing::error!(error = %e, %grant, "recording the end of a live view failed");
        }
    }

    /// Whether the policy allows `act` under `grant`, which needs `scope`.
    fn under_grant(
        &self,
        identity: &Identity,
        grant: &GrantRow,
        act: Act,
        scope: GrantScope,
    ) -> Result<(), Failure> {
        policy::decide(
            Caller::Token(identity),
            act,
            Purpose::Moderation,
            Resource::Grant {
                grant,
                scope: Some(scope),
                now: self.clock.now_ms(),
            },
        )?;
        Ok(())
    }
}
