//! Read markers: per member and room, persisted, only moving forward.

use crate::Store;
use crate::entity::{read_markers, rooms};
use crate::error::StorageError;
use crate::time::{now_ms, to_seq};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{EntityTrait, Set};

impl Store {
    /// Move the user's marker to `seq` (never backwards, never past the room's last seq).
    /// Returns the marker now stored.
    pub async fn set_read_marker(
        &self,
        room_id: &str,
        user_id: &str,
        seq: u64,
    ) -> Result<u64, StorageError> {
        let room = rooms::Entity::find_by_id(room_id.to_string())
            .one(&self.db)
            .await?
            .ok_or(StorageError::NotFound)?;
        let seq = (seq.min(to_seq(room.last_seq))) as i64;
        let model = read_markers::ActiveModel {
            room_id: Set(room_id.to_string()),
            user_id: Set(user_id.to_string()),
            seq: Set(seq),
            updated_at: Set(now_ms()),
        };
        read_markers::Entity::insert(model)
            .on_conflict(
                OnConflict::columns([read_markers::Column::RoomId, read_markers::Column::UserId])
                    .value(
                        read_markers::Column::Seq,
                        Expr::cust_with_exprs(
                            "CASE WHEN $1 > $2 THEN $1 ELSE $2 END",
                            [
                                Expr::col((read_markers::Entity, read_markers::Column::Seq)).into(),
                                Expr::val(seq).into(),
                            ],
                        ),
                    )
                    .update_column(read_markers::Column::UpdatedAt)
                    .to_owned(),
            )
            .exec(&self.db)
            .await?;
        let stored = read_markers::Entity::find_by_id((room_id.to_string(), user_id.to_string()))
            .one(&self.db)
            .await?
            .map(|m| to_seq(m.seq))
            .unwrap_or(0);
        Ok(stored)
    }
}
