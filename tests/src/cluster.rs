//! Several server nodes in this process, as a cluster behind a load balancer would run them
//! (C15): one PostgreSQL database, the same keys and TLS certificate (copied as
//! [`TestServer::start_sibling`] does), the same S3 bucket when `WORKROOM_TEST_FILES=s3`, and
//! a real NATS server as the bus between them, with a subject prefix of the cluster's own so
//! that clusters of parallel tests sharing one NATS do not hear each other.
//!
//! The multi-node suite is about PostgreSQL + S3 + NATS: without PostgreSQL
//! (`WORKROOM_TEST_BACKEND=postgres`) or without a NATS server, [`Cluster::start`] fails
//! under CI and otherwise returns `None` after printing why (the test skips).

use crate::nats::{NatsServer, missing};
use crate::{TestClient, TestServer, Tweak, WAIT, eventually};
use serde_json::Value;
use std::time::Duration;

/// N nodes on one database and one bus.
pub struct Cluster {
    pub nodes: Vec<TestServer>,
    pub nats: NatsServer,
    /// Every node's `bus.subject_prefix`.
    pub subject_prefix: String,
}

impl std::ops::Index<usize> for Cluster {
    type Output = TestServer;
    fn index(&self, node: usize) -> &TestServer {
        &self.nodes[node]
    }
}

impl Cluster {
    /// `n` nodes with the default configuration.
    pub async fn start(n: usize) -> Option<Cluster> {
        Self::start_with(n, Box::new(|_| {})).await
    }

    /// `n` nodes; `tweak` adjusts the configuration every node shares.
    /// `WORKROOM_TEST_NATS_URL` may name a NATS server to use instead of a new process.
    pub async fn start_with(n: usize, tweak: Tweak) -> Option<Cluster> {
        Self::start_inner(n, tweak, false).await
    }

    /// `n` nodes on a NATS server of the test's own, which it may stop and start
    /// ([`NatsServer::kill`], [`NatsServer::stop`], [`NatsServer::start_again`]).
    pub async fn start_with_own_nats(n: usize, tweak: Tweak) -> Option<Cluster> {
        Self::start_inner(n, tweak, true).await
    }

    async fn start_inner(n: usize, tweak: Tweak, own_nats: bool) -> Option<Cluster> {
        assert!(n >= 1, "a cluster has nodes");
        if crate::postgres_admin_url().is_none() {
            return missing(
                "the multi-node suite runs on PostgreSQL: set WORKROOM_TEST_BACKEND=postgres \
                 and WORKROOM_TEST_POSTGRES_URL (`.ci/run` does)",
            );
        }
        let nats = if own_nats {
            NatsServer::start_own().await?
        } else {
            NatsServer::start().await?
        };
        let subject_prefix = format!("wrt_{}", uuid::Uuid::now_v7().simple());
        let url = nats.url();
        let prefix = subject_prefix.clone();
        let first = TestServer::start_with(Box::new(move |config| {
            config.bus.url = Some(url);
            config.bus.subject_prefix = prefix;
            // Three nodes per test, two tests at a time, on one PostgreSQL (100 connections).
            config.database.max_connections = 8;
            tweak(config);
        }))
        .await;
        let mut nodes = vec![first];
        for _ in 1..n {
            let sibling = nodes[0].start_sibling().await;
            nodes.push(sibling);
        }
        let cluster = Cluster {
            nodes,
            nats,
            subject_prefix,
        };
        cluster.wait_bus_up().await;
        Some(cluster)
    }

    /// How many nodes are running.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// A member connection on `node`, past its `hello`.
    pub async fn client(&self, node: usize, user: &str) -> TestClient {
        self.nodes[node].client(user).await
    }

    /// A member token (every node shares the dev key, so it is good on all of them).
    pub fn member(&self, user: &str) -> String {
        self.nodes[0].member(user)
    }

    /// Accept a bid through node 0 (see [`TestServer::open_room`]); the room id.
    pub async fn open_room(
        &self,
        bid: &str,
        project: &str,
        client: &str,
        contractor: &str,
    ) -> String {
        self.nodes[0]
            .open_room(bid, project, client, contractor)
            .await
            .room
    }

    /// Wait until every node is ready and says its bus is up (or reports no bus at all), as
    /// a load balancer would before sending it clients.
    pub async fn wait_bus_up(&self) {
        for (i, node) in self.nodes.iter().enumerate() {
            eventually(
                Duration::from_secs(30),
                &format!("node {i}: /readyz says it is ready and the bus is up"),
                || async move {
                    let body = readyz(node).await?;
                    (body["ready"] == true && !bus_degraded(&body)).then_some(())
                },
            )
            .await;
        }
    }

    /// Wait until every node's `/readyz` names the bus as degraded.
    pub async fn wait_bus_degraded(&self) {
        for (i, node) in self.nodes.iter().enumerate() {
            eventually(
                Duration::from_secs(30),
                &format!("node {i}: /readyz names the bus as degraded"),
                || async move {
                    let body = readyz(node).await?;
                    bus_degraded(&body).then_some(())
                },
            )
            .await;
        }
    }
}

/// `/readyz`'s body (any status), or `None` when it did not answer.
pub async fn readyz(node: &TestServer) -> Option<Value> {
    let request = node.http.inner.get(node.http.url("/readyz")).send();
    let response = tokio::time::timeout(WAIT, request).await.ok()?.ok()?;
    response.json().await.ok()
}

/// Whether a `/readyz` body names the bus as not up: `"bus": "down"` (or any state other
/// than `up`), `"bus": {"status": …}`, or `bus` listed under `degraded`.
pub fn bus_degraded(body: &Value) -> bool {
    let listed = body["degraded"]
        .as_array()
        .is_some_and(|list| list.iter().any(|d| d == "bus"));
    let state = match &body["bus"] {
        Value::String(state) => Some(state.as_str()),
        Value::Object(bus) => bus
            .get("status")
            .or_else(|| bus.get("state"))
            .and_then(Value::as_str),
        _ => None,
    };
    listed || state.is_some_and(|s| s != "up")
}
