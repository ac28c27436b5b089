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
