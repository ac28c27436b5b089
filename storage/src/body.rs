//! A message body that was checked: not blank and within the server's byte limit. The
//! repository appends only these, so no path (a frame, a notice, a later import) can store
//! a body nobody measured.

use std::fmt;

/// A message or edit body, not blank and at most the limit it was made with.
#[derive(Clone, PartialEq, Eq)]
pub struct MessageBody(String);

/// Why a text is not a message body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("body must not be empty")]
    Empty,
    #[error("body is over the limit of {limit} bytes")]
    TooLarge { limit: usize },
}

impl MessageBody {
    /// `text` as a body, if it is not blank and at most `max_bytes` long.
    pub fn new(text: String, max_bytes: usize) -> Result<MessageBody, BodyError> {
        if text.len() > max_bytes {
            return Err(BodyError::TooLarge { limit: max_bytes });
        }
        if text.trim().is_empty() {
            return Err(BodyError::Empty);
        }
        Ok(MessageBody(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Bodies are people's words: they are never printed in logs or panics.
impl fmt::Debug for MessageBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageBody({} bytes)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_blank_and_oversized_bodies() {
        assert_eq!(MessageBody::new(" \n".into(), 10), Err(BodyError::Empty));
        assert_eq!(
            MessageBody::new("x".repeat(11), 10),
            Err(BodyError::TooLarge { limit: 10 })
        );
        assert_eq!(MessageBody::new("hi".into(), 2).unwrap().as_str(), "hi");
        assert_eq!(
            format!("{:?}", MessageBody::new("secret".into(), 10).unwrap()),
            "MessageBody(6 bytes)"
        );
    }
}
