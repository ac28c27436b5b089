//! Who sees a Tracker screenshot (C9): its contractor's team (the members of the
//! contractor's party account) always, and the client side while it is shared (the
//! default). Nobody else: in a project's shared room the other contractors do not see each
//! other's work. The contractor un-shares or re-shares each (audited); from un-sharing on
//! the client side cannot list, fetch or open a link to it, and its live views get
//! `screenshot_removed`. Payment-guarantee review (a service token) sees every screenshot,
//! and each of its reads is audited. Bots post only; they read nothing.

use super::validate::check_id;
use super::{Download, Failure, Service};
use crate::auth::Identity;
use crate::events::rfc3339;
use crate::policy::{self, Act, Caller, Resource};
use axum::extract::ws::Utf8Bytes;
use serde_json::json;
use workroom_protocol::http::FileLink;
use workroom_protocol::tracker::{ScreenshotList, ScreenshotView};
use workroom_protocol::{Purpose, Role, RoomId, ServerFrame};
use workroom_storage::audit::AuditAction;
use workroom_storage::proof::FileRead;
use workroom_storage::{RoomAccessRow, RoomSides, ScreenshotFilter, ScreenshotRow};

/// Screenshots per page when the caller does not say, and at most.
const DEFAULT_PAGE: u64 = 100;
const MAX_PAGE: u64 = 500;

/// Which page of screenshots: those after the screenshot `after`, at most `limit`.
#[derive(Debug, Clone, Default)]
pub struct ScreenshotPage {
    pub after: Option<String>,
    pub limit: Option<u64>,
}

impl ScreenshotPage {
    /// The validated cursor and page size.
    fn checked(&self) -> Result<(Option<&str>, u64), Failure> {
        if let Some(after) = &self.after {
            check_id("after", after)?;
        }
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(Failure::invalid(format!("limit: 1 to {MAX_PAGE}")));
        }
        Ok((self.after.as_deref(), limit))
    }
}

pub(super) fn screenshot_view(shot: ScreenshotRow) -> ScreenshotView {
    ScreenshotView {
        id: shot.id,
        room: shot.room_id,
        contractor: shot.contractor_id,
        captured_at: rfc3339(shot.captured_at),
        activity: shot.activity,
        memo: shot.memo.and_then(Result::ok),
        shared: shot.shared,
        content_type: shot.image_type,
        size: shot.image_size,
    }
}

/// One page of screenshots: `rows` holds up to `limit + 1`, the extra one only saying that
/// another page follows.
fn page(room: String, mut rows: Vec<ScreenshotRow>, limit: u64) -> ScreenshotList {
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = more.then(|| rows.last().map(|r| r.id.clone())).flatten();
    ScreenshotList {
        room,
        screenshots: rows.into_iter().map(screenshot_view).collect(),
        next,
    }
}

/// How a member sees a room's screenshots: their access, the room's sides, and the
/// contractors whose team they are in. Nothing is looked up for other roles.
struct Viewer {
    access: Option<RoomAccessRow>,
    sides: RoomSides,
    teams_of: Vec<String>,
    client_side: bool,
}

impl Viewer {
    fn resource<'a>(&'a self, shot: Option<&'a ScreenshotRow>) -> Resource<'a> {
        Resource::Screenshots {
            room: self.access.as_ref(),
            client_side: self.client_side,
            teams_of: &self.teams_of,
            shot,
        }
    }

    fn filter(&self) -> ScreenshotFilter<'_> {
        ScreenshotFilter::Visible {
            client_side: self.client_side,
            contractors: &self.teams_of,
        }
    }
}

impl Service {
    async fn viewer(&self, user: &str, role: Role, room: &str) -> Result<Viewer, Failure> {
        let mut viewer = Viewer {
            access: None,
            sides: RoomSides::default(),
            teams_of: Vec::new(),
            client_side: false,
        };
        if role != Role::Member || RoomId::try_from(room).is_err() {
            return Ok(viewer);
        }
        viewer.access = self.member_access(user, room).await?;
        if viewer.access.as_ref().is_some_and(|a| !a.purged) {
            viewer.sides = self.store.room_sides(room).await?;
            viewer.teams_of = viewer.sides.contractors_of(user);
            viewer.client_side = viewer.sides.on_client_side(user);
        }
        Ok(viewer)
    }

    /// Tell the room's people what changed, each as they may see it: the contractor's team
    /// gets the screenshot as it now is; the client side gets it while shared, and its
    /// removal when not. Moderators' live views get nothing (payment-guarantee data, C5).
    pub(super) fn announce(&self, sides: &RoomSides, room: &RoomId, view: &ScreenshotView) {
        let team = sides.team_of(&view.contractor);
        let client_side: Vec<String> = sides
            .client_side
            .iter()
            .filter(|user| !team.contains(user))
            .cloned()
            .collect();
        let current = Utf8Bytes::from(
            ServerFrame::Screenshot {
                room: room.clone(),
                screenshot: view.clone(),
            }
            .to_json(),
        );
        let hub = &self.hub;
        hub.notify_users(&team, room, current.clone(), Purpose::PaymentGuarantee);
        let for_client_side = if view.shared {
            current
        } else {
            Utf8Bytes::from(
                ServerFrame::ScreenshotRemoved {
                    room: room.clone(),
                    id: view.id.clone(),
                }
                .to_json(),
            )
        };
        hub.notify_users(
            &client_side,
            room,
            for_client_side,
            Purpose::PaymentGuarantee,
        );
    }

    /// The proof that the bearer of a signed link for `user` may still open the screenshot
    /// whose image is `file_id` (`None`: not any more). Checked at download: an un-share
    /// ends the client side's outstanding links.
    pub(super) async fn linked_screenshot(
        &self,
        user: &str,
        room: &str,
        file_id: &str,
    ) -> Result<Option<FileRead>, Failure> {
        let viewer = self.viewer(user, Role::Member, room).await?;
        let Some(shot) = self.store.screenshot_of_file(file_id).await? else {
            return Ok(None);
        };
        Ok(self
            .proofs
            .screenshot_image(
                Caller::LinkBearer(user),
                viewer.resource(Some(&shot)),
                &shot.file_id,
            )
            .ok())
    }

    /// The screenshots of a room the caller sees, oldest first.
    pub async fn screenshots(
        &self,
        identity: &Identity,
        room: &str,
        which: &ScreenshotPage,
    ) -> Result<ScreenshotList, Failure> {
        let viewer = self.viewer(identity.user(), identity.role(), room).await?;
        let read = self.proofs.screenshots(
            Caller::Token(identity),
            room,
            viewer.resource(None),
            viewer.filter(),
        )?;
        let (after, limit) = which.checked()?;
        let rows = self.store.screenshots(&read, after, limit + 1).await?;
        Ok(page(room.to_string(), rows, limit))
    }

    /// One screenshot of a room and how the caller sees the room. A room the caller cannot
    /// see hides its screenshots (nothing is looked up then); a screenshot the caller may
    /// not see is refused by the policy when they act on it.
    async fn screenshot_for(
        &self,
        identity: &Identity,
        room: &str,
        id: &str,
    ) -> Result<(ScreenshotRow, Viewer), Failure> {
        let viewer = self.viewer(identity.user(), identity.role(), room).await?;
        let shot = match viewer.access {
            Some(_) if check_id("screenshot", id).is_ok() => self.store.screenshot(id).await?,
            _ => None,
        };
        match shot {
            Some(shot) => Ok((shot, viewer)),
            None => {
                policy::decide(
                    Caller::Token(identity),
                    Act::ReadScreenshots,
                    Purpose::PaymentGuarantee,
                    viewer.resource(None),
                )?;
                Err(Failure::not_found("no such screenshot"))
            }
        }
    }

    /// A screenshot's image, while the caller may see it.
    pub async fn screenshot_image(
        &self,
        identity: &Identity,
        room: &str,
        id: &str,
    ) -> Result<Download, Failure> {
        let (shot, viewer) = self.screenshot_for(identity, room, id).await?;
        let read = self.proofs.screenshot_image(
            Caller::Token(identity),
            viewer.resource(Some(&shot)),
            &shot.file_id,
        )?;
        self.image(&shot, read).await
    }

    /// A short-lived link to a screenshot's image that stops working when the caller may no
    /// longer see it (for the client side: when the contractor un-shares it).
    pub async fn screenshot_link(
        &self,
        identity: &Identity,
        room: &str,
        id: &str,
    ) -> Result<FileLink, Failure> {
        let (shot, viewer) = self.screenshot_for(identity, room, id).await?;
        // The link is a download deferred: the same proof, checked again when it is used.
        let _deferred = self.proofs.screenshot_image(
            Caller::Token(identity),
            viewer.resource(Some(&shot)),
            &shot.file_id,
        )?;
        Ok(self.signed_link(&shot.file_id, identity.user()))
    }

    async fn image(&self, shot: &ScreenshotRow, read: FileRead) -> Result<Download, Failure> {
        let stored = self
            .store
            .file(&shot.file_id)
            .await?
            .ok_or_else(|| Failure::not_found("no such screenshot"))?;
        Ok(Download::new(stored, read))
    }

    /// The contractor shares or un-shares one of their screenshots (audited); the room is
    /// told, each side as it may see it.
    pub async fn set_screenshot_shared(
        &self,
        identity: &Identity,
        room: &str,
        id: &str,
        shared: bool,
    ) -> Result<ScreenshotView, Failure> {
        let (shot, viewer) = self.screenshot_for(identity, room, id).await?;
        policy::decide(
            Caller::Token(identity),
            Act::ShareScreenshot,
            Purpose::PaymentGuarantee,
            viewer.resource(Some(&shot)),
        )?;
        if let Err(wait) = self.share_limiter.check(identity.user()) {
            crate::ratelimit::refused("tracker_share_changes");
            return Err(Failure::rate_limited(
                wait,
                format!("too many share changes; retry in {} s", wait.div_ceil(1000)),
            ));
        }
        let action = if shared {
            AuditAction::ScreenshotShared
        } else {
            AuditAction::ScreenshotUnshared
        };
        let entry = identity.actor().entry(
            action,
            &format!("room:{room}"),
            Purpose::PaymentGuarantee,
            json!({ "screenshot": shot.id }),
        );
        let changed = self
            .store
            .set_screenshot_shared(&shot.id, shared, entry)
            .await?;
        let shot = self.store.screenshot(&shot.id).await?.unwrap_or(shot);
        let view = screenshot_view(shot);
        if changed && let Ok(room_id) = RoomId::try_from(room) {
            self.announce(&viewer.sides, &room_id, &view);
        }
        Ok(view)
    }

    /// Payment-guarantee review: every screenshot of the room, shared or not; the read is
    /// audited before it happens.
    pub async fn review_screenshots(
        &self,
        identity: &Identity,
        room: &str,
        which: &ScreenshotPage,
    ) -> Result<ScreenshotList, Failure> {
        let review = self.proofs.review_screenshots(identity, room)?;
        check_id("room", room)?;
        let (after, limit) = which.checked()?;
        let entry = identity.actor().entry(
            AuditAction::ScreenshotsReviewed,
            &format!("room:{room}"),
            Purpose::PaymentGuarantee,
            json!({ "after": after, "limit": limit }),
        );
        let read = self.record_read(review, entry).await?;
        let rows = self.store.screenshots(&read, after, limit + 1).await?;
        Ok(page(room.to_string(), rows, limit))
    }

    /// Payment-guarantee review downloads a screenshot's image; audited before it happens.
    pub async fn review_screenshot_image(
        &self,
        identity: &Identity,
        room: &str,
        id: &str,
    ) -> Result<Download, Failure> {
        // Refused before anything is looked up; the proof comes once the screenshot is known.
        self.allowed(identity, Act::ReviewScreenshots, Purpose::PaymentGuarantee)?;
        check_id("room", room)?;
        check_id("screenshot", id)?;
        let shot = self
            .store
            .screenshot(id)
            .await?
            .filter(|shot| shot.room_id == room)
            .ok_or_else(|| Failure::not_found("no such screenshot"))?;
        let entry = identity.actor().entry(
            AuditAction::ScreenshotReviewDownloaded,
            &format!("room:{room}"),
            Purpose::PaymentGuarantee,
            json!({ "screenshot": shot.id }),
        );
        let review = self
            .proofs
            .review_screenshot_image(identity, &shot.file_id)?;
        let read = self.record_read(review, entry).await?;
        self.image(&shot, read).await
    }
}
