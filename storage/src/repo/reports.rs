//! Reports (C6): a member reports messages of a workroom; the report is a moderation case
//! that exposes exactly those messages (their latest state, prior versions and files) to
//! moderators. Filing, reading and closing each commit with their audit entry.

use crate::Store;
use crate::audit::NewAuditEntry;
use crate::entity::{messages, report_messages, reports};
use crate::error::StorageError;
use crate::keyring::{KeyScope, Unreadable, open_text};
use crate::proof::{Receipt, ReportRead, Unrecorded};
use crate::repo::sealing::{report_outcome_item, report_reason_item};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use std::collections::{HashMap, HashSet};
use workroom_protocol::Purpose;
use workroom_protocol::moderation::ReportState;

/// A report to file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReport {
    pub id: String,
    pub case_id: String,
    pub room_id: String,
    pub reporter_id: String,
    pub reason: String,
    pub msg_ids: Vec<String>,
}

/// A stored report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    pub id: String,
    pub case_id: String,
    pub room_id: String,
    pub reporter_id: String,
    pub reason: Result<String, Unreadable>,
    pub state: ReportState,
    pub outcome: Option<Result<String, Unreadable>>,
    pub created_at: i64,
    pub updated_at: i64,
    pub msg_ids: Vec<String>,
}

/// Why a report was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("no message {0} in this workroom")]
    UnknownMessage(String),
    #[error("no such report")]
    NotFound,
    #[error("the report is closed")]
    Closed,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<sea_orm::DbErr> for ReportError {
    fn from(e: sea_orm::DbErr) -> Self {
        ReportError::Storage(e.into())
    }
}

/// Which reports to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportFilter {
    pub reporter: Option<String>,
    pub room: Option<String>,
    pub state: Option<ReportState>,
}

impl Store {
    /// File a report on messages of one room. Every message must be a message (not an edit
    /// or delete event) of that room.
    pub async fn file_report(
        &self,
        new: &NewReport,
        now: i64,
        entry: NewAuditEntry,
    ) -> Result<ReportRow, ReportError> {
        let txn = self.begin_write().await?;
        let found: HashSet<String> = messages::Entity::find()
            .filter(messages::Column::RoomId.eq(new.room_id.as_str()))
            .filter(messages::Column::Kind.eq("message"))
            .filter(messages::Column::MsgId.is_in(new.msg_ids.iter().cloned()))
            .all(&txn)
            .await?
            .into_iter()
            .map(|m| m.msg_id)
            .collect();
        if let Some(missing) = new.msg_ids.iter().find(|id| !found.contains(*id)) {
            return Err(ReportError::UnknownMessage(missing.clone()));
        }
        let key = self.sealing_key(&txn, KeyScope::Room(&new.room_id)).await?;
        let model = reports::Model {
            id: new.id.clone(),
            case_id: new.case_id.clone(),
            room_id: new.room_id.clone(),
            reporter_id: new.reporter_id.clone(),
            reason_sealed: key.seal(&report_reason_item(&new.id), new.reason.as_bytes()),
            state: ReportState::Open.as_str().to_string(),
            outcome_sealed: None,
            created_at: now,
            updated_at: now,
            purpose: Purpose::Moderation.as_str().to_string(),
        };
        reports::Entity::insert(reports::ActiveModel::from(model.clone()))
            .exec_without_returning(&txn)
            .await?;
        let links = new
            .msg_ids
            .iter()
            .map(|msg_id| report_messages::ActiveModel {
                report_id: Set(new.id.clone()),
                msg_id: Set(msg_id.clone()),
            });
        report_messages::Entity::insert_many(links)
            .exec_without_returning(&txn)
            .await?;
        self.append_audit_in(&txn, &[entry]).await?;
        txn.commit().await?;
        Ok(self.report_row(model, new.msg_ids.clone()).await)
    }

    /// One report with its message ids.
    pub async fn report(&self, id: &str) -> Result<Option<ReportRow>, StorageError> {
        let Some(model) = reports::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let msg_ids = report_messages::Entity::find()
            .filter(report_messages::Column::ReportId.eq(id))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|l| l.msg_id)
            .collect();
        Ok(Some(self.report_row(model, msg_ids).await))
    }

    /// Reports, newest first.
    pub async fn reports(&self, filter: &ReportFilter) -> Result<Vec<ReportRow>, StorageError> {
        let mut query = reports::Entity::find().order_by_desc(reports::Column::CreatedAt);
        if let Some(reporter) = &filter.reporter {
            query = query.filter(reports::Column::ReporterId.eq(reporter.as_str()));
        }
        if let Some(room) = &filter.room {
            query = query.filter(reports::Column::RoomId.eq(room.as_str()));
        }
        if let Some(state) = filter.state {
            query = query.filter(reports::Column::State.eq(state.as_str()));
        }
        let models = query.all(&self.db).await?;
        let ids: Vec<String> = models.iter().map(|m| m.id.clone()).collect();
        let mut links: HashMap<String, Vec<String>> = HashMap::new();
        for chunk in ids.chunks(500) {
            for link in report_messages::Entity::find()
                .filter(report_messages::Column::ReportId.is_in(chunk.iter().cloned()))
                .all(&self.db)
                .await?
            {
                links.entry(link.report_id).or_default().push(link.msg_id);
            }
        }
        let mut out = Vec::with_capacity(models.len());
        for m in models {
            let msg_ids = links.remove(&m.id).unwrap_or_default();
            out.push(self.report_row(m, msg_ids).await);
        }
        Ok(out)
    }

    /// A moderator reads a report: record the read (and move an open report to
    /// `in_review`) in one transaction, before anything is shown.
    pub async fn record_report_read(
        &self,
        read: Unrecorded<ReportRead>,
        id: &str,
        now: i64,
        entry: NewAuditEntry,
    ) -> Result<ReportRead, ReportError> {
        let txn = self.begin_write().await?;
        reports::Entity::update_many()
            .col_expr(
                reports::Column::State,
                Expr::value(ReportState::InReview.as_str()),
            )
            .col_expr(reports::Column::UpdatedAt, Expr::value(now))
            .filter(reports::Column::Id.eq(id))
            .filter(reports::Column::State.eq(ReportState::Open.as_str()))
            .exec(&txn)
            .await?;
        self.append_audit_in(&txn, &[entry]).await?;
        txn.commit().await?;
        Ok(read.redeem(Receipt::one()))
    }

    /// Close a report with an outcome the reporter will see.
    pub async fn close_report(
        &self,
        id: &str,
        outcome: &str,
        now: i64,
        entry: NewAuditEntry,
    ) -> Result<(), ReportError> {
        let txn = self.begin_write().await?;
        let model = reports::Entity::find_by_id(id.to_string())
            .one(&txn)
            .await?
            .ok_or(ReportError::NotFound)?;
        if model.state == ReportState::Closed.as_str() {
            return Err(ReportError::Closed);
        }
        let key = self
            .sealing_key(&txn, KeyScope::Room(&model.room_id))
            .await?;
        let sealed = key.seal(&report_outcome_item(id), outcome.as_bytes());
        reports::Entity::update_many()
            .col_expr(
                reports::Column::State,
                Expr::value(ReportState::Closed.as_str()),
            )
            .col_expr(reports::Column::OutcomeSealed, Expr::value(sealed))
            .col_expr(reports::Column::UpdatedAt, Expr::value(now))
            .filter(reports::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        self.append_audit_in(&txn, &[entry]).await?;
        txn.commit().await?;
        Ok(())
    }

    async fn report_row(&self, m: reports::Model, msg_ids: Vec<String>) -> ReportRow {
        let key = self
            .opening_key(&self.db, KeyScope::Room(&m.room_id))
            .await
            .ok()
            .flatten();
        let reason = open_text(
            key.as_deref(),
            &report_reason_item(&m.id),
            Some(&m.reason_sealed),
        )
        .map(Option::unwrap_or_default);
        let outcome = match open_text(
            key.as_deref(),
            &report_outcome_item(&m.id),
            m.outcome_sealed.as_deref(),
        ) {
            Ok(None) => None,
            Ok(Some(text)) => Some(Ok(text)),
            Err(why) => Some(Err(why)),
        };
        ReportRow {
            state: ReportState::parse(&m.state).unwrap_or(ReportState::Open),
            id: m.id,
            case_id: m.case_id,
            room_id: m.room_id,
            reporter_id: m.reporter_id,
            reason,
            outcome,
            created_at: m.created_at,
            updated_at: m.updated_at,
            msg_ids,
        }
    }
}
