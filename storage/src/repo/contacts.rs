//! Reciprocal contact release (C8). A person's full contact details are one sealed document
//! under their person key (so erasing the person erases them). A release is two rows, one
//! per direction, written in one transaction with its audit entry: both sides' details are
//! released together or not at all. Readers always see the current details of the people
//! released to them, in that room only.

use crate::Store;
use crate::audit::NewAuditEntry;
use crate::entity::{contact_releases, contacts};
use crate::error::StorageError;
use crate::keyring::{KeyScope, Unreadable, open_text};
use crate::proof::{OwnContact, ReleasedContacts};
use crate::repo::analytics::{Metric, Share};
use crate::repo::sealing::person_item;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::{Deserialize, Serialize};
use workroom_protocol::Purpose;

/// A person's full contact details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub name: String,
    pub company: Option<String>,
    pub phone: String,
    pub address: String,
}

/// Details released to a reader: who, when, and their current details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleasedContactRow {
    pub user: String,
    pub released_at: i64,
    /// `None`: nothing on file now; `Some(Err)`: erased (or damaged).
    pub details: Option<Result<Contact, Unreadable>>,
}

/// Why a release did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// The requester has no contact details on file: nothing is released.
    #[error("the requester has no contact details on file")]
    NoDetails,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<sea_orm::DbErr> for ReleaseError {
    fn from(e: sea_orm::DbErr) -> Self {
        ReleaseError::Storage(e.into())
    }
}

const CONTACT_FIELD: &str = "contact";

impl Store {
    /// Store (replace) a person's contact details, sealed under their person key.
    pub async fn put_contact(&self, user_id: &str, contact: &Contact) -> Result<(), StorageError> {
        let txn = self.begin_write().await?;
        let key = self.sealing_key(&txn, KeyScope::Person(user_id)).await?;
        let json = serde_json::to_vec(contact)
            .map_err(|e| StorageError::Invalid(format!("contact details: {e}")))?;
        let sealed = key.seal(&person_item(user_id, CONTACT_FIELD), &json);
        contacts::Entity::insert(contacts::ActiveModel {
            user_id: Set(user_id.to_string()),
            details_sealed: Set(sealed),
            updated_at: Set(self.clock.now_ms()),
            purpose: Set(Purpose::Participation.as_str().to_string()),
        })
        .on_conflict(
            OnConflict::column(contacts::Column::UserId)
                .update_columns([contacts::Column::DetailsSealed, contacts::Column::UpdatedAt])
                .to_owned(),
        )
        .exec(&txn)
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// The reader's own current contact details (`None`: none on file).
    pub async fn contact(
        &self,
        read: &OwnContact,
    ) -> Result<Option<Result<Contact, Unreadable>>, StorageError> {
        self.contact_of(read.user()).await
    }

    async fn contact_of(
        &self,
        user_id: &str,
    ) -> Result<Option<Result<Contact, Unreadable>>, StorageError> {
        let Some(row) = contacts::Entity::find_by_id(user_id.to_string())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let key = self
            .opening_key(&self.db, KeyScope::Person(user_id))
            .await?;
        let opened = open_text(
            key.as_deref(),
            &person_item(user_id, CONTACT_FIELD),
            Some(&row.details_sealed),
        )
        .and_then(|text| {
            serde_json::from_str(&text.unwrap_or_default()).map_err(|_| Unreadable::Damaged)
        });
        Ok(Some(opened))
    }

    /// Release `requester`'s details to `other` and `other`'s to `requester`, in one
    /// transaction with `entry`. Idempotent: returns whether anything new was released (the
    /// entry is written only then). Refused, releasing nothing, when the requester has no
    /// details on file.
    pub async fn release_contacts(
        &self,
        room_id: &str,
        requester: &str,
        other: &str,
        entry: NewAuditEntry,
    ) -> Result<bool, ReleaseError> {
        let txn = self.begin_write().await?;
        let on_file = contacts::Entity::find_by_id(requester.to_string())
            .one(&txn)
            .await?
            .is_some();
        if !on_file {
            return Err(ReleaseError::NoDetails);
        }
        let now = self.clock.now_ms();
        let mut newly = false;
        // Both directions, always in the same order (whoever asks), each a no-op when it
        // exists: two requests racing on two nodes wait on each other's row instead of
        // deadlocking, and the second finds nothing new. A failure of the second insert
        // rolls back the first.
        let mut pair = [(requester, other), (other, requester)];
        pair.sort_unstable();
        for (from, to) in pair {
            let inserted = contact_releases::Entity::insert(contact_releases::ActiveModel {
                room_id: Set(room_id.to_string()),
                from_user: Set(from.to_string()),
                to_user: Set(to.to_string()),
                released_at: Set(now),
                purpose: Set(Purpose::Participation.as_str().to_string()),
            })
            .on_conflict(
                OnConflict::columns([
                    contact_releases::Column::RoomId,
                    contact_releases::Column::FromUser,
                    contact_releases::Column::ToUser,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
            newly |= inserted > 0;
        }
        if newly {
            self.append_audit_in(&txn, &[entry]).await?;
            self.count_analytics(&txn, Metric::ContactReleases, &[Share::one(room_id)])
                .await?;
        }
        txn.commit().await?;
        Ok(newly)
    }

    /// The details released to `reader` in `room`, oldest release first, current versions.
    pub async fn contacts_released_to(
        &self,
        read: &ReleasedContacts,
    ) -> Result<Vec<ReleasedContactRow>, StorageError> {
        let (room_id, reader) = (read.room(), read.reader());
        let rows = contact_releases::Entity::find()
            .filter(contact_releases::Column::RoomId.eq(room_id))
            .filter(contact_releases::Column::ToUser.eq(reader))
            .order_by_asc(contact_releases::Column::ReleasedAt)
            .all(&self.db)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(ReleasedContactRow {
                details: self.contact_of(&row.from_user).await?,
                user: row.from_user,
                released_at: row.released_at,
            });
        }
        Ok(out)
    }
}
