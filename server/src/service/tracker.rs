//! The Tracker (C9): a contractor's Work View switch, the revocation of bot tokens acting
//! for them, and the screenshots their Tracker posts into their workrooms while Work View
//! is on. The image goes through the file pipeline (sealed, sniffed: PNG, JPEG or WebP
//! only) as data collected for payment guarantee, and commits with its screenshot row.
//! Who then sees a screenshot is in [`super::screenshots`].

use super::screenshots::screenshot_view;
use super::validate::{check_id, check_prose};
use super::{Failure, Service};
use crate::auth::Identity;
use crate::policy::{self, Act, Caller, Resource};
use bytes::Bytes;
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use workroom_protocol::tracker::ScreenshotView;
use workroom_protocol::{Purpose, Role, RoomId};
use workroom_storage::audit::AuditAction;
use workroom_storage::{NewFile, NewScreenshot, RoomSides};

/// The image types a screenshot may be.
const IMAGE_TYPES: &[&str] = &["image/png", "image/jpeg", "image/webp"];
/// How far ahead of the server's clock a capture time may be.
const MAX_CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

/// A contractor's Work View: whether their Tracker may post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkView {
    pub on: bool,
}

/// A screenshot as the Tracker sends it.
pub struct ScreenshotPost<S> {
    pub room: String,
    /// RFC 3339.
    pub captured_at: String,
    /// 0–100.
    pub activity: u8,
    /// The memo as the transport decoded it; a decoding failure is reported in its turn,
    /// after the policy's answer and the other fields.
    pub memo: Result<Option<String>, Failure>,
    pub declared_length: Option<u64>,
    pub image: S,
}

impl Service {
    pub(super) fn allowed(
        &self,
        identity: &Identity,
        act: Act,
        purpose: Purpose,
    ) -> Result<(), Failure> {
        policy::decide(Caller::Token(identity), act, purpose, Resource::Nothing)?;
        Ok(())
    }

    /// The caller's Work View (off until turned on).
    pub async fn work_view(&self, identity: &Identity) -> Result<WorkView, Failure> {
        self.allowed(identity, Act::KeepWorkView, Purpose::PaymentGuarantee)?;
        let on = self.store.work_view(identity.user()).await?;
        Ok(WorkView { on })
    }

    /// Turn the caller's Work View on or off; recorded as `tracker.work_view`.
    pub async fn set_work_view(
        &self,
        identity: &Identity,
        view: WorkView,
    ) -> Result<WorkView, Failure> {
        self.allowed(identity, Act::KeepWorkView, Purpose::PaymentGuarantee)?;
        let entry = identity.actor().entry(
            AuditAction::TrackerWorkView,
            &format!("user:{}", identity.user()),
            Purpose::PaymentGuarantee,
            json!({ "on": view.on }),
        );
        self.store
            .set_work_view(identity.user(), view.on, entry)
            .await?;
        Ok(view)
    }

    /// Refuse the bot token with that `jti` acting for the caller from now on, on every
    /// node. Idempotent; recorded as `bot.revoked` the first time.
    pub async fn revoke_bot(&self, identity: &Identity, jti: &str) -> Result<(), Failure> {
        self.allowed(identity, Act::RevokeOwnBot, Purpose::Security)?;
        check_id("jti", jti)?;
        let entry = identity.actor().entry(
            AuditAction::BotRevoked,
            &format!("user:{}", identity.user()),
            Purpose::Security,
            json!({ "jti": jti }),
        );
        self.store.revoke_bot(jti, identity.user(), entry).await?;
        Ok(())
    }

    /// The capture time in ms: RFC 3339, no older than `tracker.max_capture_age_secs`, at
    /// most a few minutes ahead of the server's clock.
    fn capture_time(&self, text: &str) -> Result<i64, Failure> {
        let captured_at = OffsetDateTime::parse(text, &Rfc3339)
            .map_err(|_| Failure::invalid("captured_at: an RFC 3339 time"))?;
        let captured = i64::try_from(captured_at.unix_timestamp_nanos() / 1_000_000)
            .map_err(|_| Failure::invalid("captured_at: out of range"))?;
        let now = self.clock.now_ms();
        let max_age = self.config.tracker.max_capture_age_secs;
        let max_age_ms = i64::try_from(max_age)
            .unwrap_or(i64::MAX / 1000)
            .saturating_mul(1000);
        if captured > now + MAX_CLOCK_SKEW_MS || captured < now.saturating_sub(max_age_ms) {
            return Err(Failure::invalid(format!(
                "captured_at: within the last {max_age} s and not in the future"
            )));
        }
        Ok(captured)
    }

    /// The Tracker posts a screenshot for its contractor into one of their workrooms.
    pub async fn post_screenshot<S, E>(
        &self,
        identity: &Identity,
        post: ScreenshotPost<S>,
    ) -> Result<ScreenshotView, Failure>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        let contractor = identity.acts_for().unwrap_or_default().to_string();
        let room_id = RoomId::try_from(post.room.as_str()).ok();
        let (sides, work_view) = match &room_id {
            Some(room) if identity.role() == Role::Bot => {
                let sides = self.store.room_sides(room.as_str()).await?;
                let party = sides.contractor_teams.contains_key(&contractor);
                let work_view = party && self.store.work_view(&contractor).await?;
                (sides, work_view)
            }
            _ => (RoomSides::default(), false),
        };
        policy::decide(
            Caller::Token(identity),
            Act::PostScreenshot,
            Purpose::PaymentGuarantee,
            Resource::TrackerTarget {
                contractor_party: sides.contractor_teams.contains_key(&contractor),
                // Their role, as long as they are still in their own party account.
                contractor_role: sides
                    .in_own_team(&contractor)
                    .then(|| sides.roles.get(&contractor).copied())
                    .flatten(),
                closed: sides.closed(),
                work_view,
            },
        )?;
        let Some(room) = room_id else {
            return Err(Failure::not_found("no such room"));
        };
        if post.activity > 100 {
            return Err(Failure::invalid("activity: 0 to 100"));
        }
        let captured_at = self.capture_time(&post.captured_at)?;
        let memo = post.memo?;
        if let Some(memo) = &memo {
            check_prose("memo", memo, 1, 500)?;
        }
        let key = format!("{}\n{}", identity.jti(), room);
        if let Err(wait) = self.screenshot_limiter.check(&key) {
            crate::ratelimit::refused("tracker_screenshots");
            return Err(Failure::rate_limited(
                wait,
                format!(
                    "too many screenshots for this workroom; retry in {} s",
                    wait.div_ceil(1000)
                ),
            ));
        }
        let new = NewFile {
            room_id: room.to_string(),
            uploader_id: contractor.clone(),
            name: format!("screenshot-{}", post.captured_at.replace(':', "-")),
            declared_type: None,
            max_size: self.config.tracker.max_screenshot_bytes,
            room_quota: self.config.files.room_quota_bytes,
            purpose: Purpose::PaymentGuarantee,
        };
        let shot = NewScreenshot {
            room_id: room.to_string(),
            contractor_id: contractor,
            bot_jti: identity.jti().to_string(),
            captured_at,
            activity: post.activity,
            memo: memo.map(|m| m.trim().to_string()),
        };
        let only_images = |sniffed: &str| {
            if IMAGE_TYPES.contains(&sniffed) {
                Ok(())
            } else {
                Err(Failure::invalid(
                    "a screenshot must be a PNG, JPEG or WebP image",
                ))
            }
        };
        let (_, shot) = self
            .receive(new, post.declared_length, post.image, only_images, &shot)
            .await?;
        let view = screenshot_view(shot);
        self.announce(&sides, &room, &view);
        Ok(view)
    }
}
