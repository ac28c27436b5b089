//! Envelope encryption: the key hierarchy every sealed column and stored object hangs off.
//!
//! ```text
//! master key (config: key file or env; never in the database)
//!   └─ wraps data keys (table `data_keys`, AES-256-GCM, item = the data key's id)
//!        ├─ room:<id>    message bodies, prior versions, file names, file keys
//!        │    └─ file:<id>  one key per stored object, chunks sealed with counter nonces
//!        ├─ person:<id>  personal data: names, emails (contact details later)
//!        └─ export:<id>  one legal disclosure bundle (a sealed chunked object)
//! ```
//!
//! Rotation adds a master key and re-wraps data keys; no data is re-encrypted. Destroying a
//! data key deletes its wrapped bytes, so everything sealed under it (including the file
//! keys it wrapped) is unrecoverable: that is how erasure is made real. Reads of such items
//! report them as erased instead of failing.

mod aead;
mod master;

pub use aead::{CHUNK_OVERHEAD, OpenError, SEAL_OVERHEAD, SealingKey};
pub use master::{KEY_LEN, MasterKey, MasterKeyError, MasterKeySet};

use crate::Store;
use crate::entity::data_keys;
use crate::error::StorageError;
use master::fill_random;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// Whose data a data key protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyScope<'a> {
    /// A workroom: message bodies, prior versions, files, screenshots.
    Room(&'a str),
    /// A person (a marketplace member): names, emails, contact details.
    Person(&'a str),
    /// A legal disclosure bundle: destroyed when the export expires.
    Export(&'a str),
}

impl KeyScope<'_> {
    /// The data key's id, also bound into every item it seals.
    pub fn key_id(&self) -> String {
        match self {
            KeyScope::Room(id) => format!("room:{id}"),
            KeyScope::Person(id) => format!("person:{id}"),
            KeyScope::Export(id) => format!("export:{id}"),
        }
    }
}

/// Why a sealed item could not be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreadable {
    /// Its data key was destroyed (erasure): gone for good, by design.
    Erased,
    /// It failed its integrity check: altered, or moved from another row.
    Damaged,
}

/// Counts from a re-wrap pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RewrapReport {
    pub rewrapped: u64,
    pub already_current: u64,
    pub destroyed: u64,
}

struct CachedKey {
    key: Arc<SealingKey>,
    loaded_at: Instant,
}

/// What is told of each data key this process destroys (its id).
type DestroyedHook = Box<dyn Fn(&str) + Send + Sync>;

/// Master keys plus a bounded cache of unwrapped data keys. One per process.
pub struct Keyring {
    masters: MasterKeySet,
    cache: RwLock<HashMap<String, CachedKey>>,
    cache_capacity: usize,
    /// Entries older than this are unwrapped again, so that a key destroyed by another
    /// process stops working here within this time (at once when a bus tells it).
    cache_ttl: Duration,
    /// Told of every data key this process destroys (the server tells the other nodes).
    on_destroyed: OnceLock<DestroyedHook>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("masters", &self.masters.ids().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Keyring {
    pub fn new(masters: MasterKeySet) -> Keyring {
        Keyring {
            masters,
            cache: RwLock::new(HashMap::new()),
            cache_capacity: 65_536,
            cache_ttl: Duration::from_secs(60),
            on_destroyed: OnceLock::new(),
        }
    }

    /// Call `hook` with the id of every data key this process destroys from now on. Set
    /// once; a second call is ignored.
    pub fn on_destroyed(&self, hook: impl Fn(&str) + Send + Sync + 'static) {
        let _ = self.on_destroyed.set(Box::new(hook));
    }

    /// Another process destroyed this data key: drop it from the cache now, so nothing
    /// here opens or seals with it again.
    pub fn forget_destroyed(&self, key_id: &str) {
        self.forget(key_id);
    }

    pub fn masters(&self) -> &MasterKeySet {
        &self.masters
    }

    /// A key derived from the newest master key for a named purpose (e.g. signing file
    /// links), and the same derivation for every master key, newest first, for checking.
    pub fn derived_keys(&self, purpose: &str) -> Vec<Zeroizing<[u8; KEY_LEN]>> {
        let mut ids: Vec<&str> = self.masters.ids().collect();
        ids.reverse();
        ids.into_iter()
            .filter_map(|id| self.masters.get(id))
            .map(|master| {
                let key =
                    aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, master.bytes.as_ref());
                let tag = aws_lc_rs::hmac::sign(&key, purpose.as_bytes());
                let mut out = Zeroizing::new([0u8; KEY_LEN]);
                out.copy_from_slice(&tag.as_ref()[..KEY_LEN]);
                out
            })
            .collect()
    }

    fn cached(&self, id: &str) -> Option<Arc<SealingKey>> {
        let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
        let entry = cache.get(id)?;
        (entry.loaded_at.elapsed() < self.cache_ttl).then(|| entry.key.clone())
    }

    fn remember(&self, key: Arc<SealingKey>) {
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= self.cache_capacity {
            // Crude but O(1) amortised: a full cache starts over; hot keys come back on
            // their next use at the cost of one row read each.
            cache.clear();
        }
        cache.insert(
            key.id().to_string(),
            CachedKey {
                key,
                loaded_at: Instant::now(),
            },
        );
    }

    /// Drop the cached keys past their time to live, and return how many. A cached key
    /// holds its unwrapped bytes and an AES-GCM context (~600 bytes) in memory; looked up
    /// after its time to live it is unwrapped again anyway, so keeping it only keeps key
    /// material and memory a room no longer uses: after a storm of rooms opened once, the
    /// contexts left among the storm's freed pages are what keeps them from going back to
    /// the system. Called every few seconds by the server's memory task.
    pub fn drop_expired(&self) -> usize {
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        let before = cache.len();
        cache.retain(|_, entry| entry.loaded_at.elapsed() < self.cache_ttl);
        if cache.len() < before / 2 {
            cache.shrink_to_fit();
        }
        before - cache.len()
    }

    fn forget(&self, id: &str) {
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }

    fn wrap(&self, key_id: &str, bytes: &[u8; KEY_LEN]) -> (String, Vec<u8>) {
        let master = self.masters.newest();
        let wrapping = SealingKey::new(master.id.clone(), &master.bytes);
        (master.id.clone(), wrapping.seal(key_id, bytes))
    }

    /// The raw bytes of a stored data key; `None` when it was destroyed.
    fn unwrap_bytes(
        &self,
        row: &data_keys::Model,
    ) -> Result<Option<Zeroizing<[u8; KEY_LEN]>>, StorageError> {
        let (Some(master_id), Some(wrapped)) = (&row.master_key_id, &row.wrapped) else {
            return Ok(None);
        };
        let master = self.masters.get(master_id).ok_or_else(|| {
            StorageError::Keyring(format!(
                "data key `{}` is wrapped by master key `{master_id}`, which is not configured",
                row.id
            ))
        })?;
        let wrapping = SealingKey::new(master.id.clone(), &master.bytes);
        let plain = Zeroizing::new(wrapping.open(&row.id, wrapped).map_err(|_| {
            StorageError::Keyring(format!("data key `{}` failed to unwrap", row.id))
        })?);
        if plain.len() != KEY_LEN {
            return Err(StorageError::Keyring(format!(
                "data key `{}` has the wrong length",
                row.id
            )));
        }
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        bytes.copy_from_slice(&plain);
        Ok(Some(bytes))
    }

    fn unwrap_row(&self, row: &data_keys::Model) -> Result<Option<SealingKey>, StorageError> {
        Ok(self
            .unwrap_bytes(row)?
            .map(|bytes| SealingKey::new(row.id.clone(), &bytes)))
    }
}

impl Store {
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// The data key of `scope` for writing: created on first use. Fails with
    /// `StorageError::Erased` once the key was destroyed (nothing new may be sealed for an
    /// erased room or person).
    pub(crate) async fn sealing_key<C: ConnectionTrait>(
        &self,
        conn: &C,
        scope: KeyScope<'_>,
    ) -> Result<Arc<SealingKey>, StorageError> {
        let id = scope.key_id();
        if let Some(key) = self.keyring.cached(&id) {
            return Ok(key);
        }
        if let Some(key) = self.load_key(conn, &id).await? {
            return Ok(key);
        }
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        fill_random(bytes.as_mut());
        let (master_id, wrapped) = self.keyring.wrap(&id, &bytes);
        data_keys::Entity::insert(data_keys::ActiveModel {
            id: Set(id.clone()),
            master_key_id: Set(Some(master_id)),
            wrapped: Set(Some(wrapped)),
            created_at: Set(self.clock.now_ms()),
            rewrapped_at: Set(None),
            destroyed_at: Set(None),
        })
        .on_conflict(
            OnConflict::column(data_keys::Column::Id)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
        // Another writer may have created it first: the stored row is the truth.
        self.load_key(conn, &id).await?.ok_or(StorageError::Erased)
    }

    /// The data key of `scope` for reading, or `None` when it was destroyed or never made
    /// (in both cases nothing under it can be read).
    pub(crate) async fn opening_key<C: ConnectionTrait>(
        &self,
        conn: &C,
        scope: KeyScope<'_>,
    ) -> Result<Option<Arc<SealingKey>>, StorageError> {
        let id = scope.key_id();
        if let Some(key) = self.keyring.cached(&id) {
            return Ok(Some(key));
        }
        match self.load_key(conn, &id).await {
            Err(StorageError::Erased) => Ok(None),
            other => other,
        }
    }

    /// Whether the data key of `scope` was destroyed (one never made was not).
    pub(crate) async fn key_destroyed(&self, scope: KeyScope<'_>) -> Result<bool, StorageError> {
        Ok(data_keys::Entity::find_by_id(scope.key_id())
            .one(&self.db)
            .await?
            .is_some_and(|row| row.destroyed_at.is_some()))
    }

    /// `Ok(None)`: no such key; `Err(Erased)`: destroyed.
    async fn load_key<C: ConnectionTrait>(
        &self,
        conn: &C,
        id: &str,
    ) -> Result<Option<Arc<SealingKey>>, StorageError> {
        let Some(row) = data_keys::Entity::find_by_id(id.to_string())
            .one(conn)
            .await?
        else {
            return Ok(None);
        };
        match self.keyring.unwrap_row(&row)? {
            Some(key) => {
                let key = Arc::new(key);
                self.keyring.remember(key.clone());
                Ok(Some(key))
            }
            None => Err(StorageError::Erased),
        }
    }

    /// Destroy the data key of `scope`: its wrapped bytes are deleted, so every item sealed
    /// under it is unrecoverable. Returns false when there was no live key.
    pub async fn destroy_data_key(&self, scope: KeyScope<'_>) -> Result<bool, StorageError> {
        let id = scope.key_id();
        let now = self.clock.now_ms();
        // Keep a tombstone row (also for a key never made), so that a later write cannot
        // create a fresh key for an erased room or person.
        data_keys::Entity::insert(data_keys::ActiveModel {
            id: Set(id.clone()),
            master_key_id: Set(None),
            wrapped: Set(None),
            created_at: Set(now),
            rewrapped_at: Set(None),
            destroyed_at: Set(Some(now)),
        })
        .on_conflict(
            OnConflict::column(data_keys::Column::Id)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        let destroyed = data_keys::Entity::update_many()
            .col_expr(
                data_keys::Column::Wrapped,
                Expr::value(Option::<Vec<u8>>::None),
            )
            .col_expr(
                data_keys::Column::MasterKeyId,
                Expr::value(Option::<String>::None),
            )
            .col_expr(data_keys::Column::DestroyedAt, Expr::value(now))
            .filter(data_keys::Column::Id.eq(id.as_str()))
            .filter(data_keys::Column::Wrapped.is_not_null())
            .exec(&self.db)
            .await?;
        self.keyring.forget(&id);
        if let Some(tell) = self.keyring.on_destroyed.get() {
            tell(&id);
        }
        Ok(destroyed.rows_affected > 0)
    }

    /// Re-wrap every live data key under the newest master key (after a rotation). Data is
    /// not touched. Safe to run while servers are up and to run again.
    pub async fn rewrap_data_keys(&self) -> Result<RewrapReport, StorageError> {
        let newest = self.keyring.masters.newest().id.clone();
        let mut report = RewrapReport::default();
        let mut after = String::new();
        loop {
            let rows = data_keys::Entity::find()
                .filter(data_keys::Column::Id.gt(after.as_str()))
                .order_by_asc(data_keys::Column::Id)
                .limit(500)
                .all(&self.db)
                .await?;
            let Some(last) = rows.last() else {
                break;
            };
            after = last.id.clone();
            let txn = self.begin_write().await?;
            for row in rows {
                if row.master_key_id.as_deref() == Some(newest.as_str()) {
                    report.already_current += 1;
                    continue;
                }
                let Some(bytes) = self.keyring.unwrap_bytes(&row)? else {
                    report.destroyed += 1;
                    continue;
                };
                let (master_id, wrapped) = self.keyring.wrap(&row.id, &bytes);
                data_keys::Entity::update_many()
                    .col_expr(data_keys::Column::MasterKeyId, Expr::value(master_id))
                    .col_expr(data_keys::Column::Wrapped, Expr::value(wrapped))
                    .col_expr(
                        data_keys::Column::RewrappedAt,
                        Expr::value(self.clock.now_ms()),
                    )
                    .filter(data_keys::Column::Id.eq(row.id.as_str()))
                    .filter(data_keys::Column::MasterKeyId.eq(row.master_key_id.clone()))
                    .exec(&txn)
                    .await?;
                report.rewrapped += 1;
            }
            txn.commit().await?;
        }
        Ok(report)
    }

    /// How many live data keys each master key wraps (to tell when one can be retired).
    pub async fn data_keys_per_master(&self) -> Result<Vec<(String, u64)>, StorageError> {
        let rows: Vec<(Option<String>, i64)> = data_keys::Entity::find()
            .select_only()
            .column(data_keys::Column::MasterKeyId)
            .column_as(data_keys::Column::Id.count(), "n")
            .filter(data_keys::Column::Wrapped.is_not_null())
            .group_by(data_keys::Column::MasterKeyId)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, n)| Some((id?, u64::try_from(n).unwrap_or(0))))
            .collect())
    }
}

/// Open a sealed text column. `None` in, `None` out.
pub(crate) fn open_text(
    key: Option<&SealingKey>,
    item: &str,
    sealed: Option<&[u8]>,
) -> Result<Option<String>, Unreadable> {
    let Some(sealed) = sealed else {
        return Ok(None);
    };
    let Some(key) = key else {
        return Err(Unreadable::Erased);
    };
    let plain = key.open(item, sealed).map_err(|_| Unreadable::Damaged)?;
    String::from_utf8(plain)
        .map(Some)
        .map_err(|_| Unreadable::Damaged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_keys_are_dropped_and_fresh_ones_kept() {
        let mut keyring = Keyring::new(MasterKeySet::new(vec![MasterKey::generate()]).unwrap());
        keyring.cache_ttl = Duration::from_millis(50);
        keyring.remember(Arc::new(SealingKey::new("k_old", &[1; KEY_LEN])));
        std::thread::sleep(Duration::from_millis(80));
        keyring.remember(Arc::new(SealingKey::new("k_new", &[2; KEY_LEN])));

        assert_eq!(keyring.drop_expired(), 1);
        assert!(
            keyring.cached("k_new").is_some(),
            "a fresh key stays cached"
        );
        let cache = keyring.cache.read().unwrap();
        assert!(
            !cache.contains_key("k_old"),
            "an expired key is gone from memory"
        );
        assert_eq!(cache.len(), 1);
    }
}
