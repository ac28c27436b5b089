//! Validation of request fields, shared by the routes: each failure is an `invalid` error
//! that names the field.

use super::error::ApiError;
use workroom_protocol::{ErrorCode, RoomId};

/// An identifier (the same rules as room ids).
pub(super) fn check_id(what: &str, value: &str) -> Result<(), ApiError> {
    RoomId::try_from(value)
        .map(|_| ())
        .map_err(|e| ApiError::new(ErrorCode::Invalid, format!("{what}: {e}")))
}

pub(super) fn check_text(what: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.trim().is_empty() || value.len() > max || value.chars().any(char::is_control) {
        return Err(ApiError::new(
            ErrorCode::Invalid,
            format!("{what}: must be 1..={max} bytes without control characters"),
        ));
    }
    Ok(())
}

pub(super) fn check_email(what: &str, value: &str) -> Result<(), ApiError> {
    check_text(what, value, 254)?;
    let valid = value
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !value.contains(char::is_whitespace);
    if !valid {
        return Err(ApiError::new(
            ErrorCode::Invalid,
            format!("{what}: not an email address"),
        ));
    }
    Ok(())
}

/// Free text written by a person (a reason, an outcome): `min_chars..=max_bytes`, line breaks
/// allowed, no other control characters.
pub(super) fn check_prose(
    what: &str,
    value: &str,
    min_chars: usize,
    max_bytes: usize,
) -> Result<(), ApiError> {
    let trimmed = value.trim();
    let bad_control = value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t');
    if trimmed.chars().count() < min_chars || value.len() > max_bytes || bad_control {
        return Err(ApiError::new(
            ErrorCode::Invalid,
            format!(
                "{what}: must be at least {min_chars} characters and at most {max_bytes} bytes, \
                 without control characters"
            ),
        ));
    }
    Ok(())
}

/// A justification: at least a sentence (20 characters, four words).
pub(super) fn check_sentence(what: &str, value: &str) -> Result<(), ApiError> {
    check_prose(what, value, 20, 2000)?;
    if value.split_whitespace().count() < 4 {
        return Err(ApiError::new(
            ErrorCode::Invalid,
            format!("{what}: must be at least a sentence (four words or more)"),
        ));
    }
    Ok(())
}
