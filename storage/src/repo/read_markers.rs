//! Read markers: per member and room, persisted, only moving forward.

use crate::Store;
use crate::entity::{read_markers, rooms};
use crate::error::StorageError;
use crate::time::to_seq;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
use workroom_protocol::Purpose;

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
            updated_at: Set(self.clock.now_ms()),
            purpose: Set(Purpose::Participation.as_str().to_string()),
        };
        // Two single-statement steps keep "only forward" true under concurrent writers:
        // create the row if missing, then raise it if lower.
        read_markers::Entity::insert(model)
            .on_conflict_do_nothing()
            .exec(&self.db)
            .await?;
        read_markers::Entity::update_many()
            .col_expr(read_markers::Column::Seq, Expr::value(seq))
            .col_expr(
                read_markers::Column::UpdatedAt,
                Expr::value(self.clock.now_ms()),
            )
            .filter(read_markers::Column::RoomId.eq(room_id))
            .filter(read_markers::Column::UserId.eq(user_id))
            .filter(read_markers::Column::Seq.lt(seq))
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
