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

/// The wire pattern of [`RoomId`] (and of the other plain ids it shares `check_id` with).
pub const ROOM_ID_PATTERN: &str = "^[A-Za-z0-9._:-]+$";

const ROOM_ID_DOC: &str = "A workroom id: 1 to 64 ASCII letters, digits, '-', '_', '.' or ':'.";
const CLIENT_MSG_ID_DOC: &str =
    "The client's idempotency key for a send: 1 to 128 bytes, no control characters.";

impl utoipa::PartialSchema for RoomId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .description(Some(ROOM_ID_DOC))
            .min_length(Some(1))
            .max_length(Some(RoomId::MAX_LEN))
            .pattern(Some(ROOM_ID_PATTERN))
            .into()
    }
}

impl utoipa::ToSchema for RoomId {}

impl schemars::JsonSchema for RoomId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RoomId".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": ROOM_ID_DOC,
            "type": "string",
            "minLength": 1,
            "maxLength": RoomId::MAX_LEN,
            "pattern": ROOM_ID_PATTERN,
        })
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

impl utoipa::PartialSchema for ClientMsgId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .description(Some(CLIENT_MSG_ID_DOC))
            .min_length(Some(1))
            .max_length(Some(ClientMsgId::MAX_LEN))
            .into()
    }
}

impl utoipa::ToSchema for ClientMsgId {}

impl schemars::JsonSchema for ClientMsgId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ClientMsgId".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        // `maxLength` counts characters, the limit bytes: the schema states the looser bound.
        schemars::json_schema!({
            "description": CLIENT_MSG_ID_DOC,
            "type": "string",
            "minLength": 1,
            "maxLength": ClientMsgId::MAX_LEN,
        })
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
