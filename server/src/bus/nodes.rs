//! The other nodes this node hears on the bus, and when each was last heard. A node silent
//! for three heartbeat intervals counts as gone (its process died, or its link to NATS
//! did): the members it held go offline, and the cluster-wide rate limits count one node
//! fewer.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Heartbeats a node may miss before it counts as gone.
pub const MISSED_HEARTBEATS: u32 = 3;

#[derive(Debug, Default)]
pub struct Nodes {
    seen: Mutex<HashMap<String, Instant>>,
}

impl Nodes {
    fn seen(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `node` was heard now; true when it was not known.
    pub fn heard(&self, node: &str) -> bool {
        self.seen()
            .insert(node.to_string(), Instant::now())
            .is_none()
    }

    /// `node` said it leaves; true when it was known.
    pub fn left(&self, node: &str) -> bool {
        self.seen().remove(node).is_some()
    }

    /// The nodes not heard for `silence`, now forgotten.
    pub fn expire(&self, silence: Duration) -> Vec<String> {
        let mut seen = self.seen();
        let gone: Vec<String> = seen
            .iter()
            .filter(|(_, at)| at.elapsed() > silence)
            .map(|(node, _)| node.clone())
            .collect();
        for node in &gone {
            seen.remove(node);
        }
        gone
    }

    /// How many nodes the cluster has, this one included.
    pub fn cluster_size(&self) -> usize {
        self.seen().len() + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silent_node_is_forgotten_and_a_leaving_one_at_once() {
        let nodes = Nodes::default();
        assert!(nodes.heard("a"));
        assert!(!nodes.heard("a"), "known already");
        assert!(nodes.heard("b"));
        assert_eq!(nodes.cluster_size(), 3);
        assert!(nodes.left("b"));
        assert!(nodes.expire(Duration::from_secs(60)).is_empty());
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(nodes.expire(Duration::from_millis(1)), ["a"]);
        assert_eq!(nodes.cluster_size(), 1);
    }
}
