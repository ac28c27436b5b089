//! The grant expiry recorder: every `moderation.expiry_check_secs` it writes
//! `grant.expired` (actor `system`) for each grant that ran out, exactly once across all
//! processes, and tells the moderator's sessions on this node so their live views end.
//! Reads never wait for it: a grant's state comes from its times, so an expired grant
//! reads nothing from the moment it expires.

use crate::hub::Hub;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use workroom_protocol::Purpose;
use workroom_storage::Store;
use workroom_storage::audit::Actor;
use workroom_storage::audit::AuditAction;

/// Run until `shutdown` fires.
pub async fn run(store: Store, hub: Arc<Hub>, every: Duration, shutdown: CancellationToken) {
    let system = Actor::new("system", "system");
    let mut ticks = super::Ticks::new(every, shutdown);
    while ticks.next().await {
        let recorded = store
            .record_expired_grants(store.clock().now_ms(), |grant| {
                system
                    .entry(
                        AuditAction::GrantExpired,
                        &format!("room:{}", grant.room_id),
                        Purpose::Moderation,
                        json!({ "grant": grant.id, "moderator": grant.moderator_id }),
                    )
                    .with_case(&grant.case_id)
            })
            .await;
        match recorded {
            Ok(grants) => {
                for grant in grants {
                    hub.grant_ended(
                        &grant.moderator_id,
                        &grant.id,
                        crate::signals::GrantEndReason::Expired,
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "recording grant expiries failed; will retry"),
        }
    }
}
