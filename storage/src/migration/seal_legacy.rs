//! Seals rows that an older release stored in clear: message bodies, prior versions, user
//! names and emails. Runs inside `Store::migrate` between `m0002_sealed_columns` and
//! `m0003_drop_plaintext`, in bounded batches, each batch one transaction; safe to resume
//! after a crash (a row is sealed and cleared in one statement).

use crate::Store;
use crate::error::StorageError;
use crate::keyring::KeyScope;
use crate::repo::sealing::{message_body_item, person_item};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DatabaseTransaction, TransactionTrait};

const BATCH: u64 = 500;

/// Seal every legacy plaintext row. Returns how many rows were sealed.
pub(crate) async fn seal_legacy_rows(store: &Store) -> Result<u64, StorageError> {
    let mut sealed = 0;
    loop {
        let txn = store.db.begin().await?;
        let n = seal_messages(store, &txn).await?
            + seal_versions(store, &txn).await?
            + seal_users(store, &txn).await?;
        txn.commit().await?;
        if n == 0 {
            return Ok(sealed);
        }
        sealed += n;
    }
}

async fn seal_messages(store: &Store, txn: &DatabaseTransaction) -> Result<u64, StorageError> {
    let select = Query::select()
        .columns(["room_id", "msg_id", "body"])
        .expr(Expr::col("seq"))
        .expr(Expr::col("version"))
        .from("messages")
        .and_where(Expr::col("body").is_not_null())
        .limit(BATCH)
        .to_owned();
    let rows = txn.query_all(&select).await?;
    for row in &rows {
        let room: String = row.try_get("", "room_id")?;
        let msg_id: String = row.try_get("", "msg_id")?;
        let body: String = row.try_get("", "body")?;
        let seq: i64 = row.try_get("", "seq")?;
        let version: i32 = row.try_get("", "version")?;
        let key = store.sealing_key(txn, KeyScope::Room(&room)).await?;
        let sealed = key.seal(&message_body_item(&msg_id, version), body.as_bytes());
        let update = Query::update()
            .table("messages")
            .value("body_sealed", sealed)
            .value("body", Option::<String>::None)
            .and_where(Expr::col("room_id").eq(room.as_str()))
            .and_where(Expr::col("seq").eq(seq))
            .to_owned();
        txn.execute(&update).await?;
    }
    Ok(rows.len() as u64)
}

async fn seal_versions(store: &Store, txn: &DatabaseTransaction) -> Result<u64, StorageError> {
    let select = Query::select()
        .columns(["msg_id", "room_id", "body"])
        .expr(Expr::col("version"))
        .expr(Expr::col("created_at"))
        .expr(Expr::col("replaced_at"))
        .from("message_versions")
        .limit(BATCH)
        .to_owned();
    let rows = txn.query_all(&select).await?;
    for row in &rows {
        let msg_id: String = row.try_get("", "msg_id")?;
        let room: String = row.try_get("", "room_id")?;
        let body: String = row.try_get("", "body")?;
        let version: i32 = row.try_get("", "version")?;
        let created_at: i64 = row.try_get("", "created_at")?;
        let replaced_at: i64 = row.try_get("", "replaced_at")?;
        let key = store.sealing_key(txn, KeyScope::Room(&room)).await?;
        let sealed = key.seal(&message_body_item(&msg_id, version), body.as_bytes());
        let insert = Query::insert()
            .into_table("prior_versions")
            .columns([
                "msg_id",
                "version",
                "room_id",
                "body_sealed",
                "created_at",
                "replaced_at",
            ])
            .values_panic([
                msg_id.clone().into(),
                version.into(),
                room.into(),
                sealed.into(),
                created_at.into(),
                replaced_at.into(),
            ])
            .to_owned();
        txn.execute(&insert).await?;
        let delete = Query::delete()
            .from_table("message_versions")
            .and_where(Expr::col("msg_id").eq(msg_id.as_str()))
            .and_where(Expr::col("version").eq(version))
            .to_owned();
        txn.execute(&delete).await?;
    }
    Ok(rows.len() as u64)
}

async fn seal_users(store: &Store, txn: &DatabaseTransaction) -> Result<u64, StorageError> {
    let select = Query::select()
        .columns(["id", "name", "email"])
        .from("users")
        .cond_where(
            Expr::col("name")
                .is_not_null()
                .or(Expr::col("email").is_not_null()),
        )
        .limit(BATCH)
        .to_owned();
    let rows = txn.query_all(&select).await?;
    for row in &rows {
        let id: String = row.try_get("", "id")?;
        let name: Option<String> = row.try_get("", "name")?;
        let email: Option<String> = row.try_get("", "email")?;
        let key = store.sealing_key(txn, KeyScope::Person(&id)).await?;
        let update = Query::update()
            .table("users")
            .value(
                "name_sealed",
                name.map(|n| key.seal(&person_item(&id, "name"), n.as_bytes())),
            )
            .value(
                "email_sealed",
                email.map(|e| key.seal(&person_item(&id, "email"), e.as_bytes())),
            )
            .value("name", Option::<String>::None)
            .value("email", Option::<String>::None)
            .and_where(Expr::col("id").eq(id.as_str()))
            .to_owned();
        txn.execute(&update).await?;
    }
    Ok(rows.len() as u64)
}
