//! The item names bound into sealed columns. Each names the row and field a ciphertext
//! belongs to, so one copied elsewhere fails to open. Changing a name makes existing data
//! unreadable: these strings are part of the storage format.

/// A message body (also an edit's body, and a prior version, which keeps its name).
pub(crate) fn message_body_item(msg_id: &str, version: i32) -> String {
    format!("msg:{msg_id}:v{version}")
}

/// A field of a person's personal data (`name`, `email`, …).
pub(crate) fn person_item(user_id: &str, field: &str) -> String {
    format!("person:{user_id}:{field}")
}

/// A file's display name.
pub(crate) fn file_name_item(file_id: &str) -> String {
    format!("file:{file_id}:name")
}

/// A file's own key, wrapped by the room key.
pub(crate) fn file_key_item(file_id: &str) -> String {
    format!("file:{file_id}:key")
}

/// A moderator grant's reason.
pub(crate) fn grant_reason_item(grant_id: &str) -> String {
    format!("grant:{grant_id}:reason")
}

/// A report's reason.
pub(crate) fn report_reason_item(report_id: &str) -> String {
    format!("report:{report_id}:reason")
}

/// A closed report's outcome.
pub(crate) fn report_outcome_item(report_id: &str) -> String {
    format!("report:{report_id}:outcome")
}

/// A Tracker screenshot's memo.
pub(crate) fn screenshot_memo_item(screenshot_id: &str) -> String {
    format!("screenshot:{screenshot_id}:memo")
}
