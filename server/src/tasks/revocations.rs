//! Revocations made on other nodes (logout, token revocation, termination) reach this
//! node's sessions within a second: every second it reads the revocations committed since
//! the last look from the audit trail, where every node records them, and tells the hub.
//! (The node that made a revocation tells its own sessions at once, and with a bus the
//! other nodes at once too; this is what holds while the bus is down or lost the signal.)
//! The cost is one indexed read per second, however many
//! connections there are.

use crate::hub::{Hub, Revocation};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use workroom_storage::{RevokedTokens, Store};

/// Run until `shutdown` fires.
pub async fn run(store: Store, hub: Arc<Hub>, every: Duration, shutdown: CancellationToken) {
    // Sessions opened from now on were authenticated against the stored revocations.
    let mut seen = match store.audit_head().await {
        Ok(head) => head.map_or(0, |h| h.seq),
        Err(_) => 0,
    };
    let mut ticks = super::Ticks::new(every, shutdown);
    while ticks.next().await {
        match store.revocations_after(seen).await {
            Ok((events, next)) => {
                seen = next;
                for event in events {
                    let revocation = match event.tokens {
                        RevokedTokens::Token(jti) => Revocation::Token(jti),
                        RevokedTokens::IssuedBefore(before) => {
                            Revocation::IssuedBefore(u64::try_from(before).unwrap_or(0))
                        }
                        RevokedTokens::All => Revocation::All,
                    };
                    hub.tokens_revoked_from_bus(&event.user, revocation);
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading revocations failed; will retry"),
        }
    }
}
