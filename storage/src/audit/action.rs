//! Every kind of act the audit trail records, as one closed set: an entry cannot name an
//! action that is not listed here (and documented in `docs/protocol.md` § 6.6), and a
//! filter or a report can enumerate them. The names are the stored form.

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    // Workrooms and team accounts (marketplace calls).
    RoomOpened,
    RoomMembersChanged,
    RoomClosed,
    AccountMemberPut,
    AccountMemberRemoved,
    // Moderator grants.
    GrantOpened,
    GrantApproved,
    GrantRevoked,
    GrantExpired,
    // Reports.
    ReportFiled,
    ReportClosed,
    // Moderator reads and acts, recorded before anything is returned.
    ModerationHistoryRead,
    ModerationFileDownloaded,
    ModerationConnectionsRead,
    ModerationReportRead,
    ModerationNoticePosted,
    ModerationLiveViewStarted,
    ModerationLiveViewEnded,
    // Contact release and the Tracker.
    ContactReleased,
    TrackerWorkView,
    BotRevoked,
    ScreenshotShared,
    ScreenshotUnshared,
    ScreenshotsReviewed,
    ScreenshotReviewDownloaded,
    // Operator acts on the keyring (CLI).
    KeysRewrapped,
    KeysRetired,
    KeysDestroyed,
    // The data lifecycle: retention, termination, legal holds, token revocation.
    RetentionChanged,
    RetentionPurged,
    RetentionSwept,
    ErasureDeferred,
    UserTerminated,
    UserErased,
    AccountTerminated,
    HoldPlaced,
    HoldLifted,
    TokenRevoked,
    TokensRevoked,
    // Legal disclosure.
    LegalExportRequested,
    LegalExported,
    LegalExportDownloaded,
    LegalExportExpired,
}

impl AuditAction {
    /// Every action, in the order above.
    pub const ALL: &'static [AuditAction] = &[
        AuditAction::RoomOpened,
        AuditAction::RoomMembersChanged,
        AuditAction::RoomClosed,
        AuditAction::AccountMemberPut,
        AuditAction::AccountMemberRemoved,
        AuditAction::GrantOpened,
        AuditAction::GrantApproved,
        AuditAction::GrantRevoked,
        AuditAction::GrantExpired,
        AuditAction::ReportFiled,
        AuditAction::ReportClosed,
        AuditAction::ModerationHistoryRead,
        AuditAction::ModerationFileDownloaded,
        AuditAction::ModerationConnectionsRead,
        AuditAction::ModerationReportRead,
        AuditAction::ModerationNoticePosted,
        AuditAction::ModerationLiveViewStarted,
        AuditAction::ModerationLiveViewEnded,
        AuditAction::ContactReleased,
        AuditAction::TrackerWorkView,
        AuditAction::BotRevoked,
        AuditAction::ScreenshotShared,
        AuditAction::ScreenshotUnshared,
        AuditAction::ScreenshotsReviewed,
        AuditAction::ScreenshotReviewDownloaded,
        AuditAction::KeysRewrapped,
        AuditAction::KeysRetired,
        AuditAction::KeysDestroyed,
        AuditAction::RetentionChanged,
        AuditAction::RetentionPurged,
        AuditAction::RetentionSwept,
        AuditAction::ErasureDeferred,
        AuditAction::UserTerminated,
        AuditAction::UserErased,
        AuditAction::AccountTerminated,
        AuditAction::HoldPlaced,
        AuditAction::HoldLifted,
        AuditAction::TokenRevoked,
        AuditAction::TokensRevoked,
        AuditAction::LegalExportRequested,
        AuditAction::LegalExported,
        AuditAction::LegalExportDownloaded,
        AuditAction::LegalExportExpired,
    ];

    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::RoomOpened => "room.opened",
            AuditAction::RoomMembersChanged => "room.members_changed",
            AuditAction::RoomClosed => "room.closed",
            AuditAction::AccountMemberPut => "account.member_put",
            AuditAction::AccountMemberRemoved => "account.member_removed",
            AuditAction::GrantOpened => "grant.opened",
            AuditAction::GrantApproved => "grant.approved",
            AuditAction::GrantRevoked => "grant.revoked",
            AuditAction::GrantExpired => "grant.expired",
            AuditAction::ReportFiled => "report.filed",
            AuditAction::ReportClosed => "report.closed",
            AuditAction::ModerationHistoryRead => "moderation.history_read",
            AuditAction::ModerationFileDownloaded => "moderation.file_downloaded",
            AuditAction::ModerationConnectionsRead => "moderation.connections_read",
            AuditAction::ModerationReportRead => "moderation.report_read",
            AuditAction::ModerationNoticePosted => "moderation.notice_posted",
            AuditAction::ModerationLiveViewStarted => "moderation.live_view_started",
            AuditAction::ModerationLiveViewEnded => "moderation.live_view_ended",
            AuditAction::ContactReleased => "contact.released",
            AuditAction::TrackerWorkView => "tracker.work_view",
            AuditAction::BotRevoked => "bot.revoked",
            AuditAction::ScreenshotShared => "screenshot.shared",
            AuditAction::ScreenshotUnshared => "screenshot.unshared",
            AuditAction::ScreenshotsReviewed => "screenshots.reviewed",
            AuditAction::ScreenshotReviewDownloaded => "screenshot.review_downloaded",
            AuditAction::KeysRewrapped => "keys.rewrapped",
            AuditAction::KeysRetired => "keys.retired",
            AuditAction::KeysDestroyed => "keys.destroyed",
            AuditAction::RetentionChanged => "retention.changed",
            AuditAction::RetentionPurged => "retention.purged",
            AuditAction::RetentionSwept => "retention.swept",
            AuditAction::ErasureDeferred => "erasure.deferred",
            AuditAction::UserTerminated => "user.terminated",
            AuditAction::UserErased => "user.erased",
            AuditAction::AccountTerminated => "account.terminated",
            AuditAction::HoldPlaced => "hold.placed",
            AuditAction::HoldLifted => "hold.lifted",
            AuditAction::TokenRevoked => "token.revoked",
            AuditAction::TokensRevoked => "tokens.revoked",
            AuditAction::LegalExportRequested => "legal.export_requested",
            AuditAction::LegalExported => "legal.exported",
            AuditAction::LegalExportDownloaded => "legal.export_downloaded",
            AuditAction::LegalExportExpired => "legal.export_expired",
        }
    }

    /// The action a stored name stands for.
    pub fn parse(name: &str) -> Option<AuditAction> {
        AuditAction::ALL
            .iter()
            .copied()
            .find(|a| a.as_str() == name)
    }
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::AuditAction;

    #[test]
    fn every_action_has_its_own_name_and_reads_back() {
        let mut names: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(*action));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), AuditAction::ALL.len());
        assert_eq!(AuditAction::parse("room.deleted"), None);
    }
}
