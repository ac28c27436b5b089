//! The bus between nodes (C15): many Workroom nodes behind a load balancer, on one
//! PostgreSQL database and one object store, tell each other what their sessions must see
//! through NATS.
//!
//! The database is the truth and the bus only a signal layer. A committed timeline batch is
//! signalled as `{room, first, last}` after its commit, and each node that has followers of
//! the room reads those events once and hands them to its hub ([`relay`]); ephemeral and
//! control events (typing, presence, contact and screenshot frames, rooms changed or closed,
//! grants ended, tokens revoked, keys destroyed) travel whole. Everything is sealed with a
//! key derived from the cluster's master keys ([`wire`]). Nothing is lost when the bus loses
//! a message or goes down: sessions fill gaps by seq from the database, the relay sweeps the
//! heads of followed rooms (every `bus.poll_interval_ms` while the bus is down), revocations
//! are also read from the audit trail every second (`tasks::revocations`), and grant expiry
//! runs on every node. `/readyz` names `bus` while it is down.
//!
//! Modules: [`wire`] (the sealed envelope), [`link`] (the NATS client and its tasks),
//! [`inbound`] (applying what arrives), [`relay`] (other nodes' commits to local sessions),
//! [`nodes`] (who is alive).

pub mod inbound;
pub mod link;
pub mod nodes;
pub mod relay;
pub mod wire;

use crate::app::AppState;
use crate::config::BusConfig;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The bus's parts other code asks about.
#[derive(Debug, Clone)]
pub struct Bus {
    pub node: String,
    pub nodes: Arc<nodes::Nodes>,
}

/// Start the bus when one is configured: the link connects in the background, so the node
/// serves at once whether NATS is there or not.
pub async fn start(
    config: &BusConfig,
    state: &AppState,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) -> Result<Option<Bus>, async_nats::Error> {
    let Some(urls) = &config.url else {
        return Ok(None);
    };
    let Some(outbox) = state.hub.outbox().open(config.publish_queue) else {
        return Ok(None);
    };
    state.health.expect_bus();
    let node = config
        .node_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
    let nodes = Arc::new(nodes::Nodes::default());
    let relay = relay::Relay::new(state.clone());
    relay.spawn(
        Duration::from_millis(config.poll_interval_ms),
        tracker,
        shutdown,
    );
    {
        let hub = state.hub.clone();
        state.service.on_key_destroyed(move |key| {
            hub.outbox().send(|| crate::signals::Signal::KeyDestroyed {
                key: key.to_string(),
            });
        });
    }
    let link = link::Link {
        state: state.clone(),
        node: node.clone(),
        subject: format!("{}.signals", config.subject_prefix),
        sealer: Arc::new(wire::Sealer::new(state.service.keyring())),
        nodes: nodes.clone(),
        heartbeat: Duration::from_millis(config.heartbeat_interval_ms),
    };
    let inbound = inbound::Inbound {
        state: state.clone(),
        relay,
        nodes: nodes.clone(),
    };
    link.start(urls, outbox, inbound, tracker, shutdown).await?;
    tracing::info!(%node, "bus configured: other nodes' events arrive through NATS");
    Ok(Some(Bus { node, nodes }))
}
