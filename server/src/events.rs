//! Stored events as wire frames: the single place that decides how a timeline row looks to
//! a client, so live delivery, resume and history can never disagree.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use workroom_protocol::RoomId;
use workroom_protocol::frames::{MessageView, ServerFrame, Unreadable};
use workroom_storage::{EventKindRow, StoredEvent};

/// Unix milliseconds as RFC 3339 UTC (`2026-11-29T21:34:50.123Z`).
pub fn rfc3339(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string())
}

/// A message row in its latest state, as in `message` and `history` frames.
pub fn message_view(room: &RoomId, event: &StoredEvent) -> MessageView {
    MessageView {
        room: room.clone(),
        seq: event.seq,
        msg_id: event.msg_id.clone(),
        sender: event.sender_id.clone(),
        body: event.body.clone().unwrap_or_default(),
        ts: rfc3339(event.created_at),
        client_msg_id: event.client_msg_id.clone(),
        edited_ts: event.edited_at.map(rfc3339),
        deleted: event.deleted_at.is_some(),
        attachments: event.attachments.clone(),
        unreadable: event.unreadable.map(unreadable),
        notice: event.notice,
    }
}

/// The wire form of why a stored body cannot be shown.
pub fn unreadable(why: workroom_storage::Unreadable) -> Unreadable {
    match why {
        workroom_storage::Unreadable::Erased => Unreadable::Erased,
        workroom_storage::Unreadable::Damaged => Unreadable::Damaged,
    }
}

/// Any timeline event as the frame delivered live and on resume.
pub fn event_frame(room: &RoomId, event: &StoredEvent) -> ServerFrame {
    match event.kind {
        EventKindRow::Message => ServerFrame::Message(message_view(room, event)),
        EventKindRow::Edit => ServerFrame::Edited {
            room: room.clone(),
            seq: event.seq,
            target_seq: event.target_seq.unwrap_or_default(),
            msg_id: event.msg_id.clone(),
            sender: event.sender_id.clone(),
            body: event.body.clone().unwrap_or_default(),
            ts: rfc3339(event.created_at),
        },
        EventKindRow::Delete => ServerFrame::Deleted {
            room: room.clone(),
            seq: event.seq,
            target_seq: event.target_seq.unwrap_or_default(),
            msg_id: event.msg_id.clone(),
            sender: event.sender_id.clone(),
            ts: rfc3339(event.created_at),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_milliseconds_in_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_500), "1970-01-01T00:00:01.5Z");
    }
}
