//! Master keys: the root of the key hierarchy. They live outside the database (a key file or
//! an environment variable) so that a stolen database alone opens nothing. Each has an id;
//! the newest (last listed) wraps new data keys, older ones still unwrap what they wrapped
//! until `workroom keys rotate` re-wraps everything and they can be retired.
//!
//! Text form, one key per line: `<id> <base64 of 32 bytes>`; blank lines and `#` comments
//! are ignored. In an environment variable the lines may also be separated by `,`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

/// Length of every key in the hierarchy (AES-256).
pub const KEY_LEN: usize = 32;

/// One master key. The bytes are wiped from memory when dropped.
pub struct MasterKey {
    pub(crate) id: String,
    pub(crate) bytes: Zeroizing<[u8; KEY_LEN]>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl MasterKey {
    /// A fresh random key named `mk-<unix seconds>-<random>`.
    pub fn generate() -> MasterKey {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        fill_random(bytes.as_mut());
        let mut tag = [0u8; 3];
        fill_random(&mut tag);
        let secs = crate::clock::system_now_ms() / 1000;
        MasterKey {
            id: format!("mk-{secs}-{:02x}{:02x}{:02x}", tag[0], tag[1], tag[2]),
            bytes,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key's line in the text form.
    pub fn to_line(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "{} {}",
            self.id,
            STANDARD.encode(self.bytes.as_ref())
        ))
    }
}

/// Why a master key list could not be read. Never carries key material.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MasterKeyError {
    #[error("no master key given")]
    Empty,
    #[error("master key entry {entry}: expected `<id> <base64 key>`")]
    Malformed { entry: usize },
    #[error("master key `{id}`: id may use only letters, digits, `-`, `_` and `.`")]
    BadId { id: String },
    #[error("master key `{id}`: expected {KEY_LEN} bytes of base64")]
    BadKey { id: String },
    #[error("master key id `{id}` is listed twice")]
    Duplicate { id: String },
}

/// The configured master keys, oldest first.
#[derive(Debug)]
pub struct MasterKeySet {
    keys: Vec<MasterKey>,
}

impl MasterKeySet {
    pub fn new(keys: Vec<MasterKey>) -> Result<MasterKeySet, MasterKeyError> {
        if keys.is_empty() {
            return Err(MasterKeyError::Empty);
        }
        for (i, key) in keys.iter().enumerate() {
            if keys[..i].iter().any(|k| k.id == key.id) {
                return Err(MasterKeyError::Duplicate { id: key.id.clone() });
            }
        }
        Ok(MasterKeySet { keys })
    }

    /// Parse the text form (see the module docs).
    pub fn parse(text: &str) -> Result<MasterKeySet, MasterKeyError> {
        let mut keys = Vec::new();
        let entries = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.starts_with('#'))
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .filter(|entry| !entry.is_empty());
        for (index, entry) in entries.enumerate() {
            let line = index + 1;
            let mut parts = entry.split_whitespace();
            let (Some(id), Some(encoded), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(MasterKeyError::Malformed { entry: line });
            };
            if !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            {
                return Err(MasterKeyError::BadId { id: id.to_string() });
            }
            let decoded = Zeroizing::new(
                STANDARD
                    .decode(encoded)
                    .map_err(|_| MasterKeyError::BadKey { id: id.to_string() })?,
            );
            let bytes: [u8; KEY_LEN] = decoded
                .as_slice()
                .try_into()
                .map_err(|_| MasterKeyError::BadKey { id: id.to_string() })?;
            keys.push(MasterKey {
                id: id.to_string(),
                bytes: Zeroizing::new(bytes),
            });
        }
        MasterKeySet::new(keys)
    }

    /// The text form, with a header comment, ready for a 0600 key file.
    pub fn to_text(&self) -> Zeroizing<String> {
        let mut out = String::from(
            "# Workroom master keys, oldest first; the last one wraps new data keys.\n\
             # Secret: anyone with this file and the database can read everything.\n",
        );
        for key in &self.keys {
            out.push_str(&key.to_line());
            out.push('\n');
        }
        Zeroizing::new(out)
    }

    /// The key that wraps new data keys.
    pub fn newest(&self) -> &MasterKey {
        // `new` refuses an empty list.
        &self.keys[self.keys.len() - 1]
    }

    pub fn get(&self, id: &str) -> Option<&MasterKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.id.as_str())
    }

    /// This set plus one new key, which becomes the newest.
    pub fn push(&mut self, key: MasterKey) -> Result<(), MasterKeyError> {
        if self.get(&key.id).is_some() {
            return Err(MasterKeyError::Duplicate { id: key.id });
        }
        self.keys.push(key);
        Ok(())
    }

    /// Drop a key. Refuses to drop the last one.
    pub fn remove(&mut self, id: &str) -> Result<(), MasterKeyError> {
        if self.keys.len() == 1 && self.keys[0].id == id {
            return Err(MasterKeyError::Empty);
        }
        self.keys.retain(|k| k.id != id);
        Ok(())
    }
}

/// Fill `buf` from the operating system's CSPRNG (through aws-lc).
pub(crate) fn fill_random(buf: &mut [u8]) {
    // aws-lc's RNG fails only when the OS has no entropy source at all, in which case no
    // key can be made safely and stopping is the only correct answer.
    #[allow(clippy::expect_used)]
    aws_lc_rs::rand::fill(buf).expect("the operating system's random source failed");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips_and_the_last_key_is_newest() {
        let mut set = MasterKeySet::new(vec![MasterKey::generate()]).unwrap();
        let second = MasterKey::generate();
        let second_id = format!("{}-b", second.id);
        set.push(MasterKey {
            id: second_id.clone(),
            bytes: second.bytes,
        })
        .unwrap();
        let parsed = MasterKeySet::parse(&set.to_text()).unwrap();
        assert_eq!(parsed.newest().id(), second_id);
        assert_eq!(parsed.ids().count(), 2);
    }

    #[test]
    fn bad_entries_are_named_without_key_material() {
        assert_eq!(MasterKeySet::parse("").err(), Some(MasterKeyError::Empty));
        assert_eq!(
            MasterKeySet::parse("k1").err(),
            Some(MasterKeyError::Malformed { entry: 1 })
        );
        assert_eq!(
            MasterKeySet::parse("k1 c2hvcnQ=").err(),
            Some(MasterKeyError::BadKey { id: "k1".into() })
        );
        let key = STANDARD.encode([7u8; KEY_LEN]);
        assert_eq!(
            MasterKeySet::parse(&format!("k1 {key},k1 {key}")).err(),
            Some(MasterKeyError::Duplicate { id: "k1".into() })
        );
        assert_eq!(
            MasterKeySet::parse(&format!("k/1 {key}")).err(),
            Some(MasterKeyError::BadId { id: "k/1".into() })
        );
    }
}
