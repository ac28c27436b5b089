//! Validation of request fields, for both transports: each failure is an `invalid` error
//! that names the field.

use super::Failure;
use workroom_protocol::RoomId;

/// An identifier (the same rules as room ids).
pub fn check_id(what: &str, value: &str) -> Result<(), Failure> {
    RoomId::try_from(value)
        .map(|_| ())
        .map_err(|e| Failure::invalid(format!("{what}: {e}")))
}

pub fn check_text(what: &str, value: &str, max: usize) -> Result<(), Failure> {
    if value.trim().is_empty() || value.len() > max || value.chars().any(char::is_control) {
        return Err(Failure::invalid(format!(
            "{what}: must be 1..={max} bytes without control characters"
        )));
    }
    Ok(())
}

pub fn check_email(what: &str, value: &str) -> Result<(), Failure> {
    check_text(what, value, 254)?;
    let valid = value
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !value.contains(char::is_whitespace);
    if !valid {
        return Err(Failure::invalid(format!("{what}: not an email address")));
    }
    Ok(())
}

/// Free text written by a person (a reason, an outcome): `min_chars..=max_bytes`, line breaks
/// allowed, no other control characters.
pub fn check_prose(
    what: &str,
    value: &str,
    min_chars: usize,
    max_bytes: usize,
) -> Result<(), Failure> {
    let trimmed = value.trim();
    let bad_control = value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t');
    if trimmed.chars().count() < min_chars || value.len() > max_bytes || bad_control {
        return Err(Failure::invalid(format!(
            "{what}: must be at least {min_chars} characters and at most {max_bytes} bytes, \
                 without control characters"
        )));
    }
    Ok(())
}

/// A justification: at least a sentence (20 characters, four words).
pub fn check_sentence(what: &str, value: &str) -> Result<(), Failure> {
    check_prose(what, value, 20, 2000)?;
    if value.split_whitespace().count() < 4 {
        return Err(Failure::invalid(format!(
            "{what}: must be at least a sentence (four words or more)"
        )));
    }
    Ok(())
}
