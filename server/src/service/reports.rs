//! Reports (C6): members report messages of a workroom they are in; moderators list
//! reports, read a report's case (exactly the reported messages, their earlier versions
//! and files) and close it with an outcome the reporter sees. Filing, every moderator read
//! and closing are recorded in the audit trail.

use super::validate::{check_id, check_prose};
use super::{Download, Failure, Service};
use crate::auth::Identity;
use crate::events::rfc3339;
use crate::policy::{self, Act, Caller, Resource};
use serde_json::json;
use workroom_protocol::moderation::{
    NewReport, ReportCase, ReportList, ReportState, ReportStatus, ReportStatusList, ReportSummary,
};
use workroom_protocol::{Purpose, RoomId};
use workroom_storage::audit::AuditAction;
use workroom_storage::{ReportFilter, ReportRow, Unreadable};

/// At most this many messages in one report.
const MAX_REPORTED: usize = 50;

fn text_or_marker(text: Result<String, Unreadable>) -> String {
    text.unwrap_or_else(|why| match why {
        Unreadable::Erased => "[erased]".to_string(),
        Unreadable::Damaged => "[damaged]".to_string(),
    })
}

fn status(report: ReportRow) -> ReportStatus {
    ReportStatus {
        id: report.id,
        case_id: report.case_id,
        room: report.room_id,
        state: report.state,
        messages: report.msg_ids,
        created_at: rfc3339(report.created_at),
        updated_at: rfc3339(report.updated_at),
        outcome: report.outcome.map(text_or_marker),
    }
}

fn summary(report: &ReportRow) -> ReportSummary {
    ReportSummary {
        id: report.id.clone(),
        case_id: report.case_id.clone(),
        room: report.room_id.clone(),
        reporter: report.reporter_id.clone(),
        state: report.state,
        message_count: report.msg_ids.len(),
        created_at: rfc3339(report.created_at),
        updated_at: rfc3339(report.updated_at),
    }
}

impl Service {
    /// A member reports messages of a room they are in; the report's state.
    pub async fn file_report(
        &self,
        identity: &Identity,
        room: &str,
        body: NewReport,
    ) -> Result<ReportStatus, Failure> {
        let room_id = self
            .room_for(identity, room, Act::FileReport, Purpose::Moderation)
            .await?;
        let mut msg_ids = body.messages;
        msg_ids.sort_unstable();
        msg_ids.dedup();
        if msg_ids.is_empty() || msg_ids.len() > MAX_REPORTED {
            return Err(Failure::invalid(format!(
                "messages: name 1..={MAX_REPORTED} message ids"
            )));
        }
        for id in &msg_ids {
            check_id("messages", id)?;
        }
        check_prose("reason", &body.reason, 1, 2000)?;
        let id = format!("rp_{}", uuid::Uuid::now_v7().simple());
        let new = workroom_storage::NewReport {
            case_id: id.clone(),
            id,
            room_id: room_id.to_string(),
            reporter_id: identity.user().to_string(),
            reason: body.reason.trim().to_string(),
            msg_ids,
        };
        let entry = identity.case_entry(
            AuditAction::ReportFiled,
            room_id.as_str(),
            Purpose::Moderation,
            &new.case_id,
            json!({ "report": new.id, "messages": new.msg_ids.len() }),
        );
        let report = self
            .store
            .file_report(&new, self.clock.now_ms(), entry)
            .await?;
        Ok(status(report))
    }

    /// The caller's own reports and where each stands.
    pub async fn own_reports(&self, identity: &Identity) -> Result<ReportStatusList, Failure> {
        policy::decide(
            Caller::Token(identity),
            Act::ListOwnReports,
            Purpose::Moderation,
            Resource::Nothing,
        )?;
        let filter = ReportFilter {
            reporter: Some(identity.user().to_string()),
            ..ReportFilter::default()
        };
        let reports = self.store.reports(&filter).await?;
        Ok(ReportStatusList {
            reports: reports.into_iter().map(status).collect(),
        })
    }

    /// Reports without their content, for moderators.
    pub async fn list_reports(
        &self,
        identity: &Identity,
        state: Option<ReportState>,
        room: Option<String>,
    ) -> Result<ReportList, Failure> {
        self.moderator_reports(identity)?;
        let filter = ReportFilter {
            state,
            room,
            ..ReportFilter::default()
        };
        let reports = self.store.reports(&filter).await?;
        Ok(ReportList {
            reports: reports.iter().map(summary).collect(),
        })
    }

    fn moderator_reports(&self, identity: &Identity) -> Result<(), Failure> {
        policy::decide(
            Caller::Token(identity),
            Act::ListReports,
            Purpose::Moderation,
            Resource::Nothing,
        )?;
        Ok(())
    }

    /// A report, once the caller is known to be a moderator.
    async fn load_report(&self, identity: &Identity, id: &str) -> Result<ReportRow, Failure> {
        self.moderator_reports(identity)?;
        check_id("report", id).map_err(|_| Failure::not_found("no such report"))?;
        self.store
            .report(id)
            .await?
            .ok_or_else(|| Failure::not_found("no such report"))
    }

    /// A report's case, with exactly the reported messages; the read is recorded (and an
    /// open report moves to `in_review`) before anything is shown.
    pub async fn read_report(&self, identity: &Identity, id: &str) -> Result<ReportCase, Failure> {
        let report = self.load_report(identity, id).await?;
        let read = self.proofs.report(identity, &report)?;
        let entry = identity.case_entry(
            AuditAction::ModerationReportRead,
            &report.room_id,
            Purpose::Moderation,
            &report.case_id,
            json!({ "report": report.id }),
        );
        let read = self
            .store
            .record_report_read(read, &report.id, self.clock.now_ms(), entry)
            .await?;
        let room = RoomId::try_from(report.room_id.as_str())
            .map_err(|_| Failure::not_found("no such room"))?;
        let events = self.store.messages_by_ids(&read).await?;
        let messages = self.moderated_messages(&read, &room, &events).await?;
        let report = self.store.report(&report.id).await?.unwrap_or(report);
        Ok(ReportCase {
            summary: summary(&report),
            reason: text_or_marker(report.reason.clone()),
            outcome: report.outcome.clone().map(text_or_marker),
            messages,
        })
    }

    /// A file attached to one of a report's messages.
    pub async fn reported_file(
        &self,
        identity: &Identity,
        id: &str,
        file: &str,
    ) -> Result<Download, Failure> {
        let report = self.load_report(identity, id).await?;
        let stored = self.existing_file(file).await?;
        let read = self.proofs.reported_file(identity, &report, &stored.meta)?;
        let details = json!({ "report": report.id, "file": stored.meta.id });
        let download = (report.room_id.as_str(), report.case_id.as_str(), details);
        self.moderated_download(identity, read, download, stored)
            .await
    }

    /// Close a report with an outcome the reporter will see.
    pub async fn close_report(
        &self,
        identity: &Identity,
        id: &str,
        outcome: &str,
    ) -> Result<ReportStatus, Failure> {
        let report = self.load_report(identity, id).await?;
        policy::decide(
            Caller::Token(identity),
            Act::CloseReport,
            Purpose::Moderation,
            Resource::Report(&report),
        )?;
        check_prose("outcome", outcome, 1, 2000)?;
        let entry = identity.case_entry(
            AuditAction::ReportClosed,
            &report.room_id,
            Purpose::Moderation,
            &report.case_id,
            json!({ "report": report.id }),
        );
        self.store
            .close_report(&report.id, outcome.trim(), self.clock.now_ms(), entry)
            .await?;
        let report = self
            .store
            .report(&report.id)
            .await?
            .ok_or_else(|| Failure::not_found("no such report"))?;
        Ok(status(report))
    }
}
