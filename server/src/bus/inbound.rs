//! What arrives from the other nodes, applied here: each signal to the hub method that
//! delivers it to this node's sessions without signalling it again, timeline signals to the
//! relay, key destructions to the keyring's cache, and the cluster's membership (heartbeats,
//! hello, leaving) to the node list and presence.

use super::nodes::Nodes;
use super::relay::Relay;
use super::wire::Envelope;
use crate::app::AppState;
use crate::signals::Signal;
use axum::extract::ws::Utf8Bytes;
use std::sync::Arc;

#[derive(Debug)]
pub struct Inbound {
    pub state: AppState,
    pub relay: Arc<Relay>,
    pub nodes: Arc<Nodes>,
}

impl Inbound {
    pub fn apply(&self, envelope: Envelope) {
        let Envelope { node, signal } = envelope;
        let hub = &self.state.hub;
        if self.nodes.heard(&node) {
            // A node joined: the budgets are shared by one more from now on.
            self.state
                .service
                .rate_limits()
                .cluster()
                .set(self.nodes.cluster_size());
        }
        match signal {
            Signal::Events { room, first, last } => self.relay.signalled(room, first, last),
            Signal::Ephemeral { room, text } => {
                hub.ephemeral_from_bus(&room, Utf8Bytes::from(text))
            }
            Signal::Presence { room, user, online } => {
                hub.presence_from_bus(&node, &room, &user, online);
            }
            Signal::Notify {
                users,
                room,
                text,
                purpose,
            } => hub.notify_users_from_bus(&users, &room, Utf8Bytes::from(text), purpose),
            Signal::RoomsChanged { users } => hub.rooms_changed_from_bus(&users),
            Signal::RoomClosed { room } => hub.room_closed_from_bus(&room),
            Signal::GrantEnded {
                moderator,
                grant,
                reason,
            } => hub.grant_ended_from_bus(&moderator, &grant, reason),
            Signal::Revoked { user, tokens } => hub.tokens_revoked_from_bus(&user, tokens),
            Signal::KeyDestroyed { key } => self.state.service.forget_destroyed_key(&key),
            Signal::Heartbeat => {}
            Signal::Hello => hub.outbox().send(|| Signal::PresenceState {
                online: hub.local_presence(),
            }),
            Signal::PresenceState { online } => hub.presence_state_from_bus(&node, &online),
            Signal::Leaving => {
                self.nodes.left(&node);
                hub.node_gone(&node);
                let size = self.nodes.cluster_size();
                self.state.service.rate_limits().cluster().set(size);
            }
        }
    }
}
