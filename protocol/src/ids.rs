//! Identifier newtypes that can only hold valid values ("parse, don't validate"): a frame
//! with an over-long or empty id fails to decode at the edge and never reaches a handler.

use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} bytes")]
    TooLong { max: usize },
    #[error("must contain only letters, digits, '-', '_', '.' or ':'")]
    BadChar,
}

fn check_id(value: &str, max: usize) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty);
    }
    if value.len() > max {
        return Err(IdError::TooLong { max });
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    {
        return Err(IdError::BadChar);
    }
    Ok(())
}

/// A workroom id. Cheap to clone (shared string), because it is copied into every
/// subscription and every fan-out event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoomId(Arc<str>);

impl RoomId {
    pub const MAX_LEN: usize = 64;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RoomId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        check_id(&value, Self::MAX_LEN)?;
        Ok(RoomId(value.into()))
    }
}

impl TryFrom<&str> for RoomId {
    type Error = IdError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        check_id(value, Self::MAX_LEN)?;
        Ok(RoomId(value.into()))
    }
}

impl From<RoomId> for String {
    fn from(value: RoomId) -> Self {
        value.0.to_string()
    }
}

impl std::fmt::Display for RoomId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The client's idempotency key for a send: any printable string of 1..=128 bytes without
/// control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientMsgId(String);

impl ClientMsgId {
    pub const MAX_LEN: usize = 128;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClientMsgId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        if value.is_empty() {
            return Err(IdError::Empty);
        }
        if value.len() > Self::MAX_LEN {
            return Err(IdError::TooLong { max: Self::MAX_LEN });
        }
        if value.chars().any(char::is_control) {
            return Err(IdError::BadChar);
        }
        Ok(ClientMsgId(value))
    }
}

impl From<ClientMsgId> for String {
    fn from(value: ClientMsgId) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_ids_are_bounded_and_plain() {
        assert!(RoomId::try_from("r-1_a.b:c").is_ok());
        assert_eq!(RoomId::try_from(""), Err(IdError::Empty));
        assert_eq!(RoomId::try_from("a/b"), Err(IdError::BadChar));
        assert!(RoomId::try_from("x".repeat(65)).is_err());
    }

    #[test]
    fn client_msg_ids_refuse_control_characters() {
        assert!(ClientMsgId::try_from("ok id ✓".to_string()).is_ok());
        assert_eq!(
            ClientMsgId::try_from("a\nb".to_string()),
            Err(IdError::BadChar)
        );
    }
}
