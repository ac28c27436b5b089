//! Moderator routes (C6): opening, approving, listing and revoking access grants, and the
//! reads a live grant allows (history with prior versions, file downloads, connection
//! links), plus system notices.
//!
//! Every read is decided by [`crate::policy`] and recorded in the audit trail *before*
//! anything is returned: if the record cannot be written, the moderator gets `unavailable`
//! and no data. Grant changes commit together with their audit entry.

use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, Authenticated};
use super::validate::{check_id, check_sentence};
use crate::app::AppState;
use crate::auth::Identity;
use crate::events::{message_view, rfc3339};
use crate::policy::{self, Act, Caller, Resource};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use workroom_protocol::frames::{HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT};
use workroom_protocol::moderation::{
    ConnectionList, ConnectionView, GrantList, GrantScope, GrantState, GrantView, ModeratedHistory,
    ModeratedMessage, NewNotice, NoticePosted, OpenGrant, PriorVersion,
};
use workroom_protocol::{ErrorCode, Purpose, RoomId};
use workroom_storage::audit::AuditAction;
use workroom_storage::proof::{FileRead, PriorRead, Unrecorded};
use workroom_storage::{
    GrantChangeError, GrantRow, NewEvent, NewEventKind, NewGrant, StoredEvent, Unreadable,
};

fn grant_view(grant: GrantRow, now: i64) -> GrantView {
    GrantView {
        state: grant.state(now),
        id: grant.id,
        room: grant.room_id,
        case_id: grant.case_id,
        reason: grant.reason.unwrap_or_else(|why| match why {
            Unreadable::Erased => "[erased]".to_string(),
            Unreadable::Damaged => "[damaged]".to_string(),
        }),
        scope: grant.scope,
        moderator: grant.moderator_id,
        opened_at: rfc3339(grant.opened_at),
        duration_secs: u64::try_from(grant.duration_ms / 1000).unwrap_or(0),
        expires_at: rfc3339(grant.expires_at),
        approved_by: grant.approved_by,
        approved_at: grant.approved_at.map(rfc3339),
        revoked_by: grant.revoked_by,
        revoked_at: grant.revoked_at.map(rfc3339),
    }
}

/// Messages with their earlier versions, as a moderator reads them.
pub(super) async fn moderated_messages(
    state: &AppState,
    read: &impl PriorRead,
    room: &RoomId,
    events: &[StoredEvent],
) -> Result<Vec<ModeratedMessage>, ApiError> {
    let ids: Vec<String> = events.iter().map(|e| e.msg_id.clone()).collect();
    let mut versions = state.store.prior_versions(read, &ids).await?;
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

async fn load_grant(state: &AppState, id: &str) -> Result<GrantRow, ApiError> {
    state
        .store
        .grant(id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such grant"))
}

fn moderation_list(identity: &Identity, act: Act) -> Result<(), ApiError> {
    policy::decide(
        Caller::Token(identity),
        act,
        Purpose::Moderation,
        Resource::Nothing,
    )?;
    Ok(())
}

impl From<GrantChangeError> for ApiError {
    fn from(error: GrantChangeError) -> Self {
        match error {
            GrantChangeError::NotFound => ApiError::new(ErrorCode::NotFound, "no such grant"),
            GrantChangeError::WrongState(state) => ApiError::new(
                ErrorCode::Conflict,
                format!("the grant is {}", state.as_str()),
            ),
            GrantChangeError::Storage(e) => e.into(),
        }
    }
}

/// `POST /v1/moderation/grants` → 201 the grant (pending when four-eyes is on).
pub(super) async fn open_grant(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    ApiJson(body): ApiJson<OpenGrant>,
) -> Result<(StatusCode, Json<GrantView>), ApiError> {
    let decision = policy::decide(
        Caller::Token(&identity),
        Act::OpenGrant,
        Purpose::Moderation,
        Resource::Nothing,
    )?;
    let config = &state.config.moderation;
    check_id("room", &body.room)?;
    check_id("case_id", &body.case_id)?;
    check_sentence("reason", &body.reason)?;
    if body.scope.is_empty() {
        return Err(ApiError::new(
            ErrorCode::Invalid,
            "scope: name at least one of history, files, live, connections, notice",
        ));
    }
    if body.scope.contains(&GrantScope::Notice) && !config.allow_notices {
        return Err(ApiError::new(
            ErrorCode::Invalid,
            "scope: notices are turned off on this server (moderation.allow_notices)",
        ));
    }
    let duration = body.duration_secs.unwrap_or(config.default_grant_secs);
    if duration == 0 || duration > config.max_grant_secs {
        return Err(ApiError::new(
            ErrorCode::Invalid,
            format!(
                "duration_secs: must be 1..={} (moderation.max_grant_secs)",
                config.max_grant_secs
            ),
        ));
    }
    if state.store.room_last_seq(&body.room).await?.is_none() {
        return Err(ApiError::new(ErrorCode::NotFound, "no such room"));
    }
    let new = NewGrant {
        id: format!("g_{}", uuid::Uuid::now_v7().simple()),
        room_id: body.room.clone(),
        moderator_id: identity.user.clone(),
        case_id: body.case_id.clone(),
        reason: body.reason.trim().to_string(),
        scope: body.scope.clone(),
        duration_ms: i64::try_from(duration.saturating_mul(1000)).unwrap_or(i64::MAX),
        needs_approval: config.require_approval,
    };
    debug_assert!(decision.audited);
    let entry = identity.case_entry(
        AuditAction::GrantOpened,
        &new.room_id,
        Purpose::Moderation,
        &new.case_id,
        json!({
            "grant": new.id,
            "scope": new.scope.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            "duration_secs": duration,
            "needs_approval": new.needs_approval,
        }),
    );
    let now = state.clock.now_ms();
    let grant = state.store.open_grant(&new, now, entry).await?;
    tracing::info!(grant = %grant.id, room = %grant.room_id, "moderator grant opened");
    Ok((StatusCode::CREATED, Json(grant_view(grant, now))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GrantListQuery {
    room: Option<String>,
    state: Option<GrantState>,
}

/// `GET /v1/moderation/grants?room=&state=`.
pub(super) async fn list_grants(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    ApiQuery(query): ApiQuery<GrantListQuery>,
) -> Result<Json<GrantList>, ApiError> {
    moderation_list(&identity, Act::ListGrants)?;
    let now = state.clock.now_ms();
    let grants = state.store.grants(query.room.as_deref()).await?;
    Ok(Json(GrantList {
        grants: grants
            .into_iter()
            .filter(|g| query.state.is_none_or(|s| g.state(now) == s))
            .map(|g| grant_view(g, now))
            .collect(),
    }))
}

/// `GET /v1/moderation/grants/{grant}`.
pub(super) async fn get_grant(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<GrantView>, ApiError> {
    moderation_list(&identity, Act::ListGrants)?;
    let grant = load_grant(&state, &id).await?;
    Ok(Json(grant_view(grant, state.clock.now_ms())))
}

/// A grant a moderator wants to change (`ApproveGrant`, `RevokeGrant`), once the policy
/// allowed it; with the time of the decision.
async fn grant_to_change(
    state: &AppState,
    identity: &Identity,
    id: &str,
    act: Act,
) -> Result<(GrantRow, i64), ApiError> {
    // Only moderators learn whether a grant exists.
    moderation_list(identity, Act::ListGrants)?;
    let grant = load_grant(state, id).await?;
    let now = state.clock.now_ms();
    policy::decide(
        Caller::Token(identity),
        act,
        Purpose::Moderation,
        Resource::Grant {
            grant: &grant,
            scope: None,
            now,
        },
    )?;
    Ok((grant, now))
}

/// `POST /v1/moderation/grants/{grant}/approve`: a second moderator activates a pending
/// grant; its duration runs from now.
pub(super) async fn approve_grant(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<GrantView>, ApiError> {
    let (grant, now) = grant_to_change(&state, &identity, &id, Act::ApproveGrant).await?;
    let entry = identity.case_entry(
        AuditAction::GrantApproved,
        &grant.room_id,
        Purpose::Moderation,
        &grant.case_id,
        json!({ "grant": grant.id, "opened_by": grant.moderator_id }),
    );
    let grant = state
        .store
        .approve_grant(&id, &identity.user, now, entry)
        .await?;
    Ok(Json(grant_view(grant, now)))
}

/// `POST /v1/moderation/grants/{grant}/revoke`: ends a grant at once; live views under it
/// are cut off with `watch_ended` (`reason: revoked`).
pub(super) async fn revoke_grant(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<GrantView>, ApiError> {
    let (grant, now) = grant_to_change(&state, &identity, &id, Act::RevokeGrant).await?;
    let entry = identity.case_entry(
        AuditAction::GrantRevoked,
        &grant.room_id,
        Purpose::Moderation,
        &grant.case_id,
        json!({ "grant": grant.id }),
    );
    let grant = state
        .store
        .revoke_grant(&id, &identity.user, now, entry)
        .await?;
    state
        .hub
        .grant_ended(&grant.moderator_id, &grant.id, "revoked");
    Ok(Json(grant_view(grant, now)))
}

/// The grant a moderator acts under (anyone else is refused before it is looked up); the
/// act itself is decided by the handler.
async fn grant_for(state: &AppState, identity: &Identity, id: &str) -> Result<GrantRow, ApiError> {
    moderation_list(identity, Act::ListGrants)?;
    load_grant(state, id).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HistoryQuery {
    before_seq: Option<u64>,
    limit: Option<u32>,
}

/// `GET /v1/moderation/grants/{grant}/messages?before_seq=&limit=`: a page of history with
/// every message's earlier versions (edited and deleted ones included).
pub(super) async fn grant_history(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<ModeratedHistory>, ApiError> {
    let grant = grant_for(&state, &identity, &id).await?;
    let read = state
        .proofs
        .grant_history(&identity, &grant, state.clock.now_ms())?;
    let room = RoomId::try_from(grant.room_id.as_str())
        .map_err(|_| ApiError::new(ErrorCode::NotFound, "no such room"))?;
    let limit = query
        .limit
        .unwrap_or(HISTORY_DEFAULT_LIMIT)
        .clamp(1, HISTORY_MAX_LIMIT);
    let before = query.before_seq.unwrap_or(u64::MAX);
    let entry = identity.case_entry(
        AuditAction::ModerationHistoryRead,
        room.as_str(),
        Purpose::Moderation,
        &grant.case_id,
        json!({ "grant": grant.id, "before_seq": query.before_seq, "limit": limit }),
    );
    let read = state.committers.record_read(read, entry).await?;
    let events = state.store.history(&read, before, u64::from(limit)).await?;
    Ok(Json(ModeratedHistory {
        messages: moderated_messages(&state, &read, &room, &events).await?,
        room: room.to_string(),
        grant: grant.id,
    }))
}

/// `GET /v1/moderation/grants/{grant}/files/{file}/content`: any file that was attached in
/// the grant's room (withdrawn ones included).
pub(super) async fn grant_file(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path((id, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // The grant first (its own, active, scope `files`): no file id is looked up otherwise.
    let grant = grant_for(&state, &identity, &id).await?;
    policy::decide(
        Caller::Token(&identity),
        Act::ReadFileUnderGrant,
        Purpose::Moderation,
        Resource::Grant {
            grant: &grant,
            scope: Some(GrantScope::Files),
            now: state.clock.now_ms(),
        },
    )?;
    let stored = super::files::existing_file(&state, &file).await?;
    let read = state
        .proofs
        .grant_file(&identity, &grant, &stored.meta, state.clock.now_ms())?;
    let details = json!({ "grant": grant.id, "file": stored.meta.id });
    let download = (grant.room_id.as_str(), grant.case_id.as_str(), details);
    record_download(&state, &identity, read, download, stored, &headers).await
}

/// A moderator's download (under a grant or through a report): recorded as
/// `moderation.file_downloaded` in the case of `(room, case id, details)`, then served.
pub(super) async fn record_download(
    state: &AppState,
    identity: &Identity,
    read: Unrecorded<FileRead>,
    (room, case_id, details): (&str, &str, serde_json::Value),
    stored: workroom_storage::StoredFile,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let entry = identity.case_entry(
        AuditAction::ModerationFileDownloaded,
        room,
        Purpose::Moderation,
        case_id,
        details,
    );
    let read = state.committers.record_read(read, entry).await?;
    super::files::serve(state, stored, &read, headers).await
}

/// The body of a connection lookup: in the body, not the URL, because URLs end up in
/// proxy and load-balancer logs and the address must not.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConnectionQuery {
    /// Only connections from this client address (hashed here; never stored or logged).
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    limit: Option<u64>,
}

/// `POST /v1/moderation/grants/{grant}/connections` `{"address"?, "limit"?}`: which of the
/// room's members connected from where (pseudonymised), e.g. "which accounts used this
/// address".
pub(super) async fn grant_connections(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(id): Path<String>,
    ApiJson(query): ApiJson<ConnectionQuery>,
) -> Result<Json<ConnectionList>, ApiError> {
    let grant = grant_for(&state, &identity, &id).await?;
    let read = state
        .proofs
        .grant_connections(&identity, &grant, state.clock.now_ms())?;
    let hashes = match query.address.as_deref() {
        None => None,
        Some(raw) => {
            let ip: std::net::IpAddr = raw
                .trim()
                .parse()
                .map_err(|_| ApiError::new(ErrorCode::Invalid, "address: not an IP address"))?;
            Some(state.connlog.hashes(ip))
        }
    };
    let limit = query.limit.unwrap_or(200).clamp(1, 1000);
    let entry = identity.case_entry(
        AuditAction::ModerationConnectionsRead,
        &grant.room_id,
        Purpose::Security,
        &grant.case_id,
        json!({ "grant": grant.id, "by_address": hashes.is_some() }),
    );
    let read = state.committers.record_read(read, entry).await?;
    let links = state
        .store
        .connections_of_room(&read, hashes.as_deref(), limit)
        .await?;
    Ok(Json(ConnectionList {
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
    }))
}

/// `POST /v1/moderation/grants/{grant}/notices` `{"body"}` → 201: a system notice in the
/// room's timeline, marked `"notice": true`, sent by the moderator. Only with
/// `moderation.allow_notices` and a grant whose scope includes `notice`.
pub(super) async fn post_notice(
    State(state): State<AppState>,
    Authenticated(identity): Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewNotice>,
) -> Result<(StatusCode, Json<NoticePosted>), ApiError> {
    let grant = grant_for(&state, &identity, &id).await?;
    policy::decide(
        Caller::Token(&identity),
        Act::PostNotice,
        Purpose::Moderation,
        Resource::Grant {
            grant: &grant,
            scope: Some(GrantScope::Notice),
            now: state.clock.now_ms(),
        },
    )?;
    if !state.config.moderation.allow_notices {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "notices are turned off on this server",
        ));
    }
    if body.body.trim().is_empty() {
        return Err(ApiError::new(ErrorCode::Invalid, "body must not be empty"));
    }
    if body.body.len() > state.config.limits.max_body_bytes {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            format!(
                "body is over the limit of {} bytes",
                state.config.limits.max_body_bytes
            ),
        ));
    }
    let room = RoomId::try_from(grant.room_id.as_str())
        .map_err(|_| ApiError::new(ErrorCode::NotFound, "no such room"))?;
    let entry = identity.case_entry(
        AuditAction::ModerationNoticePosted,
        room.as_str(),
        Purpose::Moderation,
        &grant.case_id,
        json!({ "grant": grant.id }),
    );
    // Recorded before the notice is posted: a notice without its record is never sent.
    state.committers.record(vec![entry]).await?;
    let event = NewEvent {
        room_id: room.to_string(),
        sender_id: identity.user.clone(),
        client_msg_id: None,
        kind: NewEventKind::Message {
            body: body.body,
            attachments: Vec::new(),
        },
        notice: true,
    };
    let receiver = state
        .committers
        .submit(room.clone(), event)
        .await
        .map_err(|_| ApiError::new(ErrorCode::Unavailable, "server is shutting down"))?;
    let outcome = receiver
        .await
        .map_err(|_| ApiError::new(ErrorCode::Unavailable, "the commit was interrupted"))?
        .map_err(|e| {
            let (code, message) = crate::committer::append_error_reply(&e);
            ApiError::new(code, message)
        })?;
    let stored = outcome.event();
    Ok((
        StatusCode::CREATED,
        Json(NoticePosted {
            room: room.to_string(),
            seq: stored.seq,
            msg_id: stored.msg_id.clone(),
        }),
    ))
}
