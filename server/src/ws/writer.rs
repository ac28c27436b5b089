//! The socket's write half: every write has a deadline (`limits.write_timeout_secs`), and a
//! write that misses it, or fails, ends the session ([`Gone`]).

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use std::time::Duration;
use workroom_protocol::ServerFrame;

/// Close codes this server uses besides the standard ones.
pub(super) const CLOSE_TOO_SLOW: u16 = 4008;
pub(super) const CLOSE_POLICY: u16 = 1008;
pub(super) const CLOSE_GOING_AWAY: u16 = 1001;
pub(super) const CLOSE_UNAVAILABLE: u16 = 1011;
/// RFC 6455 (IANA registry): the server refuses for now; the client may retry later.
pub(super) const CLOSE_TRY_AGAIN_LATER: u16 = 1013;
/// RFC 6455 §7.4.1: a protocol error, a text frame that is not UTF-8, a message too big.
const CLOSE_PROTOCOL_ERROR: u16 = 1002;
const CLOSE_INVALID_DATA: u16 = 1007;
const CLOSE_TOO_BIG: u16 = 1009;

/// The close code and reason RFC 6455 gives for a failed read, when the peer broke the
/// protocol (rather than the connection failing, when there is no one left to tell).
pub(super) fn close_for_read_error(error: axum::Error) -> Option<(u16, &'static str)> {
    let error = error.into_inner().downcast::<tungstenite::Error>().ok()?;
    match *error {
        tungstenite::Error::Capacity(_) => Some((CLOSE_TOO_BIG, "frame too large")),
        tungstenite::Error::Utf8(_) => Some((CLOSE_INVALID_DATA, "text frame is not UTF-8")),
        tungstenite::Error::Protocol(_) => Some((CLOSE_PROTOCOL_ERROR, "protocol error")),
        _ => None,
    }
}

/// The socket failed or the peer went away: end the session.
pub(super) struct Gone;

/// The socket's write half with a deadline on every write.
pub(super) struct Writer {
    sink: SplitSink<WebSocket, Message>,
    timeout: Duration,
    /// `workroom_frames_sent_total`, looked up once per session rather than per frame.
    frames_sent: metrics::Counter,
}

impl Writer {
    pub(super) fn new(sink: SplitSink<WebSocket, Message>, timeout: Duration) -> Writer {
        Writer {
            sink,
            timeout,
            frames_sent: metrics::counter!("workroom_frames_sent_total"),
        }
    }

    pub(super) async fn frame(&mut self, frame: &ServerFrame) -> Result<(), Gone> {
        self.text(Utf8Bytes::from(frame.to_json())).await
    }

    pub(super) async fn text(&mut self, text: Utf8Bytes) -> Result<(), Gone> {
        self.feed(text).await?;
        self.flush().await
    }

    /// Queue a text frame without flushing (the caller flushes once after a batch).
    pub(super) async fn feed(&mut self, text: Utf8Bytes) -> Result<(), Gone> {
        self.frames_sent.increment(1);
        match tokio::time::timeout(self.timeout, self.sink.feed(Message::Text(text))).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(Gone),
        }
    }

    pub(super) async fn flush(&mut self) -> Result<(), Gone> {
        match tokio::time::timeout(self.timeout, self.sink.flush()).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(Gone),
        }
    }

    pub(super) async fn raw(&mut self, message: Message) -> Result<(), Gone> {
        match tokio::time::timeout(self.timeout, self.sink.send(message)).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(Gone),
        }
    }

    pub(super) async fn close(&mut self, code: u16, reason: &str) {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from(reason.to_string()),
        };
        let _ = self.raw(Message::Close(Some(frame))).await;
    }
}
