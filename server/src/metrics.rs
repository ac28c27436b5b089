//! Prometheus metrics. The `metrics` facade is process-global by design; the recorder is
//! installed once per process (several test servers in one process share it), and rendered
//! by our own `/metrics` route rather than a second HTTP server. Labels never carry user or
//! room ids.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Install the recorder (first call) and return the render handle.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let latency = [
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ];
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &latency)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("workroom_commit_batch_size".into()),
                        &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0],
                    )
                })
                .map(|b| b.build_recorder())
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            // Fails only when another recorder is installed; then ours renders empty.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            handle
        })
        .clone()
}

fn describe() {
    metrics::describe_gauge!("workroom_connections", "Open WebSocket sessions.");
    metrics::describe_counter!("workroom_frames_received_total", "Client frames by type.");
    metrics::describe_counter!("workroom_frames_sent_total", "Frames written to sockets.");
    metrics::describe_counter!(
        "workroom_messages_committed_total",
        "Timeline events committed (messages, edits, deletes)."
    );
    metrics::describe_histogram!(
        "workroom_ack_latency_seconds",
        "From queueing a send to its commit result."
    );
    metrics::describe_histogram!("workroom_commit_seconds", "Duration of one batch commit.");
    metrics::describe_histogram!("workroom_commit_batch_size", "Events per batch commit.");
    metrics::describe_counter!("workroom_errors_total", "Error replies by code.");
    metrics::describe_counter!(
        "workroom_slow_consumers_total",
        "Connections disconnected because their queue overflowed."
    );
    metrics::describe_gauge!(
        "workroom_allocator_free_bytes",
        "Bytes glibc's allocator holds free in its arenas, given back to the system or not."
    );
    metrics::describe_counter!(
        "workroom_allocator_trims_total",
        "Times the allocator's free memory was given back to the system (after a storm)."
    );
}

/// Count one error reply.
pub fn error(code: workroom_protocol::ErrorCode) {
    metrics::counter!("workroom_errors_total", "code" => code.as_str()).increment(1);
}
