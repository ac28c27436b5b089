//! Erasure of a person (C10, "Terminating Your Membership"): their person key is destroyed
//! (name, email and contact details become unrecoverable), their contact details, the
//! connection-log links naming them, their Work View setting and revocation rows are
//! deleted, and in each workroom their id is replaced by a former-member label, so the
//! messages they wrote stay readable by the other side, with nothing that names them.
//!
//! The label is `former~` and a keyed hash of (room, user): stable within a workroom (a
//! rerun after a crash picks the same one), different between workrooms, and never a valid
//! user id (`~` is not allowed in ids), so it cannot collide with a real member.
//!
//! Every step is idempotent: a crash part way is finished by the next run (the pending
//! erasure task retries rows left in `pending_erasures`; the termination route reruns).

use crate::Store;
use crate::audit::{Actor, AuditAction};
use crate::entity::{
    connection_users, contact_releases, contacts, files, messages, pending_erasures, read_markers,
    reports, revoked_bots, revoked_tokens, room_parties, screenshots, users, work_view,
};
use crate::error::StorageError;
use crate::keyring::KeyScope;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};
use std::collections::BTreeSet;
use workroom_protocol::Purpose;

/// Labels start with this; a stored sender or party with it is a former member.
pub const FORMER_PREFIX: &str = "former~";

const LABEL_PURPOSE: &str = "workroom former member label v1";

impl Store {
    /// The stable label of `user` in `room`.
    fn former_label(&self, room: &str, user: &str) -> String {
        let keys = self.keyring.derived_keys(LABEL_PURPOSE);
        let Some(key) = keys.last() else {
            // No master key cannot happen on an opened store; an unkeyed label still
            // never names the user.
            return format!(
                "{FORMER_PREFIX}{}",
                &uuid::Uuid::now_v7().simple().to_string()[..12]
            );
        };
        // The oldest master key: the label must not change when keys rotate.
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key.as_ref());
        let tag = aws_lc_rs::hmac::sign(&key, format!("{room}\u{0}{user}").as_bytes());
        let hex: String = tag.as_ref()[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{FORMER_PREFIX}{hex}")
    }

    /// Erase a person now (see the module doc). Returns the rooms where they were
    /// replaced by a label. Audited (`user.erased`). A person erased before is left alone.
    pub async fn erase_person(
        &self,
        user: &str,
        actor: &Actor,
    ) -> Result<Vec<String>, StorageError> {
        let done = users::Entity::find_by_id(user.to_string())
            .one(&self.db)
            .await?
            .is_some_and(|row| row.erased_at.is_some());
        if done {
            return Ok(Vec::new());
        }
        // Crypto-shred first: whatever happens next, nothing sealed under the key opens.
        self.destroy_data_key(KeyScope::Person(user)).await?;
        let pending = pending_erasures::Entity::find_by_id(KeyScope::Person(user).key_id())
            .one(&self.db)
            .await?;
        let mut accounts: BTreeSet<String> = pending
            .map(|p| p.account_list().into_iter().collect())
            .unwrap_or_default();
        accounts.extend(self.accounts_of(&self.db, user).await?);
        let accounts: Vec<String> = accounts.into_iter().collect();
        let mut rooms: BTreeSet<String> = room_parties::Entity::find()
            .filter(room_parties::Column::UserId.eq(user))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|p| p.room_id)
            .collect();
        rooms.extend(super::termination::rooms_of_accounts(&self.db, &accounts).await?);
        for room in &rooms {
            self.relabel_in_room(room, user).await?;
        }
        let txn = self.begin_write().await?;
        let now = self.clock.now_ms();
        // Marked first, in the transaction that deletes their rows: the update locks the
        // person's row, and the connection log's writer takes that lock before it adds a
        // link (see `Store::record_connections`), so a link queued before the termination
        // either commits first and is deleted here, or waits and sees the person erased.
        // Only the run that marks the person erased records it: the termination route and
        // the pending-erasure task may both get here (each passed the check above), and
        // the trail must say `user.erased` once.
        let marked = users::Entity::update_many()
            .col_expr(
                users::Column::NameSealed,
                Expr::value(Option::<Vec<u8>>::None),
            )
            .col_expr(
                users::Column::EmailSealed,
                Expr::value(Option::<Vec<u8>>::None),
            )
            .col_expr(users::Column::ErasedAt, Expr::value(now))
            .filter(users::Column::Id.eq(user))
            .filter(users::Column::ErasedAt.is_null())
            .exec(&txn)
            .await?;
        if marked.rows_affected == 0 {
            let erased_elsewhere = users::Entity::find_by_id(user.to_string())
                .one(&txn)
                .await?
                .is_some_and(|row| row.erased_at.is_some());
            if erased_elsewhere {
                txn.rollback().await?;
                return Ok(rooms.into_iter().collect());
            }
        }
        contacts::Entity::delete_by_id(user.to_string())
            .exec(&txn)
            .await?;
        connection_users::Entity::delete_many()
            .filter(connection_users::Column::UserId.eq(user))
            .exec(&txn)
            .await?;
        work_view::Entity::delete_by_id(user.to_string())
            .exec(&txn)
            .await?;
        revoked_bots::Entity::delete_many()
            .filter(revoked_bots::Column::ActsFor.eq(user))
            .exec(&txn)
            .await?;
        revoked_tokens::Entity::delete_many()
            .filter(revoked_tokens::Column::UserId.eq(user))
            .exec(&txn)
            .await?;
        pending_erasures::Entity::delete_by_id(KeyScope::Person(user).key_id())
            .exec(&txn)
            .await?;
        let entry = actor.entry(
            AuditAction::UserErased,
            &format!("user:{user}"),
            Purpose::Participation,
            serde_json::json!({"rooms_relabelled": rooms.len()}),
        );
        self.append_audit_in(&txn, &[entry]).await?;
        txn.commit().await?;
        Ok(rooms.into_iter().collect())
    }

    /// Replace `user` by their label in one room's rows; their read marker and the contact
    /// releases involving them go.
    async fn relabel_in_room(&self, room: &str, user: &str) -> Result<(), StorageError> {
        let label = self.former_label(room, user);
        let txn = self.begin_write().await?;
        messages::Entity::update_many()
            .col_expr(messages::Column::SenderId, Expr::value(label.as_str()))
            .filter(messages::Column::RoomId.eq(room))
            .filter(messages::Column::SenderId.eq(user))
            .exec(&txn)
            .await?;
        files::Entity::update_many()
            .col_expr(files::Column::UploaderId, Expr::value(label.as_str()))
            .filter(files::Column::RoomId.eq(room))
            .filter(files::Column::UploaderId.eq(user))
            .exec(&txn)
            .await?;
        screenshots::Entity::update_many()
            .col_expr(
                screenshots::Column::ContractorId,
                Expr::value(label.as_str()),
            )
            .filter(screenshots::Column::RoomId.eq(room))
            .filter(screenshots::Column::ContractorId.eq(user))
            .exec(&txn)
            .await?;
        reports::Entity::update_many()
            .col_expr(reports::Column::ReporterId, Expr::value(label.as_str()))
            .filter(reports::Column::RoomId.eq(room))
            .filter(reports::Column::ReporterId.eq(user))
            .exec(&txn)
            .await?;
        room_parties::Entity::update_many()
            .col_expr(room_parties::Column::UserId, Expr::value(label.as_str()))
            .filter(room_parties::Column::RoomId.eq(room))
            .filter(room_parties::Column::UserId.eq(user))
            .exec(&txn)
            .await?;
        read_markers::Entity::delete_many()
            .filter(read_markers::Column::RoomId.eq(room))
            .filter(read_markers::Column::UserId.eq(user))
            .exec(&txn)
            .await?;
        contact_releases::Entity::delete_many()
            .filter(contact_releases::Column::RoomId.eq(room))
            .filter(
                Condition::any()
                    .add(contact_releases::Column::FromUser.eq(user))
                    .add(contact_releases::Column::ToUser.eq(user)),
            )
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Clock;
    use crate::db::{DatabaseOptions, SqliteSync};
    use crate::entity::audit_entries;
    use crate::keyring::{Keyring, MasterKey, MasterKeySet};
    use sea_orm::PaginatorTrait;
    use std::sync::Arc;
    use std::time::Duration;

    async fn store(dir: &std::path::Path) -> Store {
        let keyring = Arc::new(Keyring::new(
            MasterKeySet::new(vec![MasterKey::generate()]).unwrap(),
        ));
        let store = Store::open(
            &DatabaseOptions {
                url: None,
                sqlite_path: dir.join("workroom.db"),
                sqlite_synchronous: SqliteSync::Full,
                max_connections: 4,
                acquire_timeout: Duration::from_secs(5),
            },
            keyring,
            Clock::system(),
        )
        .await
        .unwrap();
        store.migrate().await.unwrap();
        store
    }

    async fn terminated_user(store: &Store, user: &str) {
        users::Entity::insert(users::ActiveModel {
            id: sea_orm::Set(user.to_string()),
            name_sealed: sea_orm::Set(None),
            email_sealed: sea_orm::Set(None),
            created_at: sea_orm::Set(0),
            updated_at: sea_orm::Set(0),
            purpose: sea_orm::Set("participation".into()),
            terminated_at: sea_orm::Set(Some(0)),
            terminated_reason: sea_orm::Set(Some("closed".into())),
            tokens_valid_after: sea_orm::Set(None),
            erased_at: sea_orm::Set(None),
        })
        .exec(&store.db)
        .await
        .unwrap();
    }

    fn link(session: &str, user: &str) -> crate::SessionUser {
        crate::SessionUser {
            session_id: session.into(),
            user_id: user.into(),
            first_seen: 1,
        }
    }

    async fn links_naming(store: &Store, user: &str) -> u64 {
        connection_users::Entity::find()
            .filter(connection_users::Column::UserId.eq(user))
            .count(&store.db)
            .await
            .unwrap()
    }

    /// The connection log's writer commits in batches, after the fact: a link queued when
    /// the person authenticated can reach the database after their erasure. (Seen in CI on
    /// PostgreSQL: a link naming a terminated member outlived the erasure.)
    #[tokio::test]
    async fn a_connection_link_arriving_after_the_erasure_is_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let actor = Actor::new("marketplace", "service");
        terminated_user(&store, "gone").await;
        terminated_user(&store, "stays").await;
        store
            .record_connections(&[], &[link("s_before", "gone")])
            .await
            .unwrap();
        store.erase_person("gone", &actor).await.unwrap();
        assert_eq!(
            links_naming(&store, "gone").await,
            0,
            "deleted by the erasure"
        );
        store
            .record_connections(&[], &[link("s_late", "gone"), link("s_late", "stays")])
            .await
            .unwrap();
        assert_eq!(
            links_naming(&store, "gone").await,
            0,
            "a late link is dropped"
        );
        assert_eq!(links_naming(&store, "stays").await, 1, "others are kept");
    }

    /// The termination route and the pending-erasure task can erase the same person at
    /// once; the trail records it once. (Seen in CI on PostgreSQL as two `user.erased`.)
    #[tokio::test]
    async fn two_erasures_of_one_person_at_once_record_it_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let actor = Actor::new("marketplace", "service");
        for round in 0..5 {
            let user = format!("u{round}");
            terminated_user(&store, &user).await;
            let (a, b) = tokio::join!(
                store.erase_person(&user, &actor),
                store.erase_person(&user, &actor)
            );
            a.unwrap();
            b.unwrap();
            let recorded = audit_entries::Entity::find()
                .filter(audit_entries::Column::Action.eq("user.erased"))
                .filter(audit_entries::Column::Target.eq(format!("user:{user}")))
                .count(&store.db)
                .await
                .unwrap();
            assert_eq!(recorded, 1, "round {round}");
        }
    }
}
