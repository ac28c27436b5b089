//! Client frames from the wire: text becomes a [`ClientFrame`], or a description of why it
//! is not one that is safe to send back (it quotes serde's reason, never the input) with the
//! frame's `id` when that much could be read, so the error answers the right request.
//! It is the first code a hostile client's bytes reach after the WebSocket layer, so it is
//! fuzzed (`fuzz/fuzz_targets/client_frame.rs`).

use crate::ClientFrame;

/// Why a text frame is not a client frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FrameError {
    /// The frame's `id`, when it was a string in an otherwise readable object.
    pub id: Option<String>,
    pub message: String,
}

impl ClientFrame {
    /// Decode one text frame.
    pub fn decode(text: &str) -> Result<ClientFrame, FrameError> {
        serde_json::from_str::<ClientFrame>(text).map_err(|error| describe(text, &error))
    }
}

fn describe(text: &str, error: &serde_json::Error) -> FrameError {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(default)]
        id: Option<serde_json::Value>,
        #[serde(rename = "type", default)]
        kind: Option<serde_json::Value>,
    }
    match serde_json::from_str::<Probe>(text) {
        Err(_) => FrameError {
            id: None,
            message: format!("malformed JSON: {error}"),
        },
        Ok(probe) => {
            let id = probe.id.and_then(|v| v.as_str().map(str::to_string));
            let message = match probe.kind {
                None => "missing field `type`".to_string(),
                Some(serde_json::Value::String(kind))
                    if !ClientFrame::kinds().any(|k| k == kind) =>
                {
                    format!("unknown frame type `{kind}`")
                }
                Some(_) => format!("invalid frame: {error}"),
            };
            FrameError { id, message }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_decodes() {
        assert!(matches!(
            ClientFrame::decode(r#"{"type":"ping","id":"p1"}"#),
            Ok(ClientFrame::Ping { .. })
        ));
    }

    #[test]
    fn refusals_say_why_and_keep_a_readable_id() {
        let e = ClientFrame::decode("{nope").unwrap_err();
        assert!(e.message.starts_with("malformed JSON"), "{e}");
        assert_eq!(e.id, None);
        let e = ClientFrame::decode(r#"{"id":"r1"}"#).unwrap_err();
        assert_eq!(
            (e.id.as_deref(), e.message.as_str()),
            (Some("r1"), "missing field `type`")
        );
        let e = ClientFrame::decode(r#"{"type":"nope","id":"r2"}"#).unwrap_err();
        assert_eq!(e.message, "unknown frame type `nope`");
        let e = ClientFrame::decode(r#"{"type":"send","id":"r3","room":""}"#).unwrap_err();
        assert!(e.message.starts_with("invalid frame:"), "{e}");
        assert_eq!(e.id.as_deref(), Some("r3"));
    }
}
