//! The link to NATS: one client per node, one subject per cluster
//! (`<subject_prefix>.signals`), core NATS only (no JetStream: nothing is stored there).
//!
//! Four tasks share the client: the publisher drains the hub's outbox, the subscriber
//! opens and applies what other nodes sent, the watcher turns connection events into the
//! `bus` health state (and says hello after each connect, so the others send their presence
//! state), and the heartbeat says this node is alive and forgets silent ones. The client
//! connects in the background and reconnects forever: a node starts and serves without
//! NATS, and catches up by polling until it returns (`relay`).

use super::inbound::Inbound;
use super::nodes::{MISSED_HEARTBEATS, Nodes};
use super::wire::{Envelope, Sealer};
use crate::app::AppState;
use crate::signals::Signal;
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What the link needs to run.
#[derive(Debug)]
pub struct Link {
    pub state: AppState,
    pub node: String,
    pub subject: String,
    pub sealer: Arc<Sealer>,
    pub nodes: Arc<Nodes>,
    pub heartbeat: Duration,
}

impl Link {
    /// Connect (in the background) and start the link's tasks.
    pub async fn start(
        self,
        urls: &str,
        outbox: mpsc::Receiver<Signal>,
        inbound: Inbound,
        tracker: &TaskTracker,
        shutdown: &CancellationToken,
    ) -> Result<(), async_nats::Error> {
        let addrs = urls
            .split(',')
            .map(|url| url.trim().parse::<async_nats::ServerAddr>())
            .collect::<Result<Vec<_>, _>>()?;
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let client = async_nats::ConnectOptions::new()
            .name(format!("workroom {}", self.node))
            .no_echo()
            .retry_on_initial_connect()
            .max_reconnects(None)
            // While the bus is down, delivery across nodes runs at the poll's pace: come
            // back soon after NATS does (the library's default backoff grows to seconds).
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis(100 * attempts.min(5) as u64)
            })
            .connection_timeout(Duration::from_secs(2))
            .subscription_capacity(65_536)
            .event_callback(move |event| {
                let events_tx = events_tx.clone();
                async move {
                    let _ = events_tx.send(event);
                }
            })
            .connect(addrs)
            .await?;
        let subscriber = client.subscribe(self.subject.clone()).await?;
        let link = Arc::new(self);
        tracker.spawn(
            link.clone()
                .publish(client.clone(), outbox, shutdown.clone()),
        );
        tracker.spawn(link.clone().receive(subscriber, inbound, shutdown.clone()));
        tracker.spawn(link.clone().watch(events_rx, shutdown.clone()));
        tracker.spawn(link.beat(shutdown.clone()));
        Ok(())
    }

    fn envelope(&self, signal: Signal) -> Vec<u8> {
        self.sealer.seal(&Envelope {
            node: self.node.clone(),
            signal,
        })
    }

    /// Drain the outbox onto the bus. While the link is down signals are dropped, not
    /// buffered: the others catch up from the database, and stale typing or presence
    /// would only mislead.
    async fn publish(
        self: Arc<Self>,
        client: async_nats::Client,
        mut outbox: mpsc::Receiver<Signal>,
        shutdown: CancellationToken,
    ) {
        while let Some(signal) = shutdown.run_until_cancelled(outbox.recv()).await.flatten() {
            if !self.state.health.bus_up() {
                metrics::counter!("workroom_bus_signals_dropped_total", "stage" => "link_down")
                    .increment(1);
                continue;
            }
            let bytes = self.envelope(signal);
            match client.publish(self.subject.clone(), bytes.into()).await {
                Ok(()) => metrics::counter!("workroom_bus_signals_sent_total").increment(1),
                Err(error) => {
                    metrics::counter!("workroom_bus_signals_dropped_total", "stage" => "publish")
                        .increment(1);
                    tracing::debug!(%error, "publishing a signal failed");
                }
            }
        }
        // The others forget this node's sessions at once rather than after its silence.
        if self.state.health.bus_up() {
            let bytes = self.envelope(Signal::Leaving);
            let _ = client.publish(self.subject.clone(), bytes.into()).await;
            let _ = tokio::time::timeout(Duration::from_secs(1), client.flush()).await;
        }
    }

    /// Apply what the other nodes send.
    async fn receive(
        self: Arc<Self>,
        mut subscriber: async_nats::Subscriber,
        inbound: Inbound,
        shutdown: CancellationToken,
    ) {
        while let Some(message) = shutdown
            .run_until_cancelled(subscriber.next())
            .await
            .flatten()
        {
            match self.sealer.open(&message.payload) {
                Ok(envelope) => {
                    metrics::counter!("workroom_bus_signals_received_total").increment(1);
                    inbound.apply(envelope);
                }
                Err(error) => {
                    metrics::counter!("workroom_bus_signals_rejected_total").increment(1);
                    tracing::warn!(%error, "dropped a message on the bus subject");
                }
            }
        }
    }

    /// Follow the connection's state.
    async fn watch(
        self: Arc<Self>,
        mut events: mpsc::UnboundedReceiver<async_nats::Event>,
        shutdown: CancellationToken,
    ) {
        while let Some(event) = shutdown.run_until_cancelled(events.recv()).await.flatten() {
            match event {
                async_nats::Event::Connected => {
                    self.state.health.bus_changed(true);
                    // This node's presence replaces whatever the others remember of it (a
                    // restart under the same `node_id` starts empty), and whoever is
                    // already there answers with theirs.
                    let hub = &self.state.hub;
                    hub.outbox().send(|| Signal::PresenceState {
                        online: hub.local_presence(),
                    });
                    hub.outbox().send(|| Signal::Hello);
                }
                async_nats::Event::Disconnected | async_nats::Event::Closed => {
                    self.state.health.bus_changed(false);
                }
                async_nats::Event::SlowConsumer(_) => {
                    // NATS dropped messages for this node: the sweep finds the events.
                    metrics::counter!("workroom_bus_slow_consumer_total").increment(1);
                }
                other => tracing::debug!(event = %other, "bus event"),
            }
        }
    }

    /// Say this node is alive; forget nodes that went silent.
    async fn beat(self: Arc<Self>, shutdown: CancellationToken) {
        let silence = self.heartbeat * MISSED_HEARTBEATS;
        let mut ticks = tokio::time::interval(self.heartbeat);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = shutdown.cancelled() => return,
            }
            self.state.hub.outbox().send(|| Signal::Heartbeat);
            for node in self.nodes.expire(silence) {
                tracing::info!(%node, "a node went silent: its sessions count as gone");
                self.state.hub.node_gone(&node);
            }
            let size = self.nodes.cluster_size();
            self.state.service.rate_limits().cluster().set(size);
            metrics::gauge!("workroom_cluster_nodes").set(size as f64);
        }
    }
}
