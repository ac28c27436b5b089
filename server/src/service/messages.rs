//! Writing to a timeline: a member's send, edit and delete, and a moderator's notice. Each
//! is checked here (the policy, attachments, the body's bounds) and queued to the
//! committers; what comes back is acknowledged only once it is stored.

use super::{Failure, Service};
use crate::auth::Identity;
use crate::committer::CommitResult;
use crate::policy::Act;
use tokio::sync::oneshot;
use workroom_protocol::{ClientMsgId, ErrorCode, Purpose, RoomId};
use workroom_storage::{
    AppendOutcome, BodyError, MessageBody, NewEvent, NewEventKind, RoomAccessRow,
};

/// What a member writes, as the frames carry it.
#[derive(Debug)]
pub enum Post {
    Message {
        body: String,
        attachments: Vec<String>,
    },
    Edit {
        target_seq: u64,
        body: String,
    },
    Delete {
        target_seq: u64,
    },
}

/// An event queued for commit.
#[derive(Debug)]
pub struct Submitted(oneshot::Receiver<CommitResult>);

impl Submitted {
    /// The stored event (or the one already stored under the same `client_msg_id`), once
    /// committed; or why it was refused.
    pub async fn committed(self) -> Result<AppendOutcome, Failure> {
        match self.0.await {
            Ok(result) => Ok(result?),
            Err(_) => Err(Failure::new(
                ErrorCode::Unavailable,
                "the commit was interrupted; retry with the same client_msg_id",
            )),
        }
    }
}

impl From<BodyError> for Failure {
    fn from(error: BodyError) -> Self {
        match error {
            BodyError::Empty => Failure::invalid(error.to_string()),
            BodyError::TooLarge { .. } => Failure::new(ErrorCode::TooLarge, error.to_string()),
        }
    }
}

impl Service {
    /// Check a send, edit or delete in a room the caller reaches through `access`, and queue
    /// it; the caller acknowledges it when [`Submitted::committed`] says so.
    pub async fn submit(
        &self,
        identity: &Identity,
        access: Option<&RoomAccessRow>,
        room: RoomId,
        client_msg_id: Option<ClientMsgId>,
        post: Post,
    ) -> Result<Submitted, Failure> {
        self.allow_in_room(identity, access, Act::WriteRoom, Purpose::Participation)?;
        let kind = match post {
            Post::Message { body, attachments } => {
                let max = self.config.files.max_attachments;
                if attachments.len() > max {
                    return Err(Failure::invalid(format!(
                        "at most {max} attachments per message"
                    )));
                }
                if attachments.iter().any(|a| a.is_empty() || a.len() > 64) {
                    return Err(Failure::invalid("attachments must be file ids"));
                }
                NewEventKind::Message {
                    body: self.body(body)?,
                    attachments,
                }
            }
            Post::Edit { target_seq, body } => NewEventKind::Edit {
                target_seq,
                body: self.body(body)?,
            },
            Post::Delete { target_seq } => NewEventKind::Delete { target_seq },
        };
        let event = NewEvent {
            room_id: room.clone(),
            sender_id: identity.user().to_string(),
            client_msg_id,
            kind,
            notice: false,
        };
        self.queue(room, event).await
    }

    /// A body within `limits.max_body_bytes`.
    pub(super) fn body(&self, text: String) -> Result<MessageBody, Failure> {
        Ok(MessageBody::new(text, self.config.limits.max_body_bytes)?)
    }

    pub(super) async fn queue(&self, room: RoomId, event: NewEvent) -> Result<Submitted, Failure> {
        let receiver = self
            .committers
            .submit(room, event)
            .await
            .map_err(|_| Failure::new(ErrorCode::Unavailable, "server is shutting down"))?;
        Ok(Submitted(receiver))
    }
}
