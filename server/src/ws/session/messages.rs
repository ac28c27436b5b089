//! `send`, `edit`, `delete`: checked and queued by the service; the `ack` (or the error)
//! goes out once the commit answered, in the order the frames came.

use super::{Reply, Session};
use crate::service::Post;
use crate::ws::writer::Gone;
use axum::extract::ws::Utf8Bytes;
use futures_util::{FutureExt, StreamExt};
use std::time::Duration;
use workroom_protocol::{ClientMsgId, RoomId, ServerFrame};
use workroom_storage::AppendOutcome;

impl Session {
    /// Queue a send, edit or delete for commit; the ack follows the commit.
    pub(super) async fn submit(
        &mut self,
        id: Option<String>,
        room: RoomId,
        client_msg_id: Option<ClientMsgId>,
        post: Post,
    ) -> Result<(), Gone> {
        let access = self.rooms.get(&room).and_then(|r| r.access.as_ref());
        let submitted = self
            .state
            .service
            .submit(&self.identity, access, room.clone(), client_msg_id, post)
            .await;
        let submitted = match submitted {
            Ok(submitted) => submitted,
            Err(failure) => return self.fail(id, failure).await,
        };
        self.inflight.push_back(Box::pin(async move {
            Reply {
                id,
                room,
                result: submitted.committed().await,
            }
        }));
        Ok(())
    }

    /// Write the ack (or error) of a committed send, and those of the sends whose commits
    /// are answered too, then flush once: one commit batch answers many sends of one
    /// connection, and a flush per ack cost a TLS record and a system call each.
    pub(super) async fn on_replies(&mut self, first: Reply) -> Result<(), Gone> {
        self.on_reply(first).await?;
        for _ in 0..64 {
            match self.inflight.next().now_or_never() {
                Some(Some(reply)) => self.on_reply(reply).await?,
                _ => break,
            }
        }
        self.writer.flush().await
    }

    /// Queue one reply's frame without flushing.
    async fn on_reply(&mut self, reply: Reply) -> Result<(), Gone> {
        let Reply { id, room, result } = reply;
        match result {
            Ok(outcome) => {
                let event = match &outcome {
                    AppendOutcome::Stored(e) | AppendOutcome::Duplicate(e) => e,
                };
                let ack = ServerFrame::Ack {
                    id,
                    room,
                    seq: event.seq,
                    msg_id: event.msg_id.clone(),
                    ts: crate::events::rfc3339(event.created_at),
                };
                self.writer.feed(Utf8Bytes::from(ack.to_json())).await
            }
            Err(failure) => self.fail(id, failure).await,
        }
    }

    /// On shutdown: wait (bounded) for queued sends to commit and acknowledge them.
    pub(super) async fn drain_inflight(&mut self) {
        let deadline = Duration::from_secs(self.state.config.shutdown.drain_timeout_secs);
        let _ = tokio::time::timeout(deadline, async {
            while let Some(reply) = self.inflight.next().await {
                if self.on_replies(reply).await.is_err() {
                    break;
                }
            }
        })
        .await;
    }
}
