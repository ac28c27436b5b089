//! Validation: every problem at once, each naming its key, so an operator fixes a file in
//! one pass.

use super::{Config, ConfigError, FileBackend};
use std::net::SocketAddr;

impl Config {
    /// Every problem at once, each naming its key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        self.network_problems(&mut problems);
        if self.listen.parse::<SocketAddr>().is_err() {
            problems.push(format!(
                "listen: `{}` is not an address like 127.0.0.1:8443",
                self.listen
            ));
        }
        if let Some(url) = &self.database_url
            && !(url.starts_with("postgres://")
                || url.starts_with("postgresql://")
                || url.starts_with("sqlite:"))
        {
            problems
                .push("database_url: must start with postgres://, postgresql:// or sqlite:".into());
        }
        if self.database.max_batch == 0 || self.database.max_batch > 5000 {
            problems.push("database.max_batch: must be between 1 and 5000".into());
        }
        if self.database.committers == 0 || self.database.committers > 64 {
            problems.push("database.committers: must be between 1 and 64".into());
        }
        if self.database.max_connections == 0 {
            problems.push("database.max_connections: must be at least 1".into());
        }
        if self.tls.cert_file.is_some() != self.tls.key_file.is_some() {
            problems.push("tls: cert_file and key_file must be set together".into());
        }
        if self.auth.leeway_secs > 60 {
            problems.push("auth.leeway_secs: must be at most 60".into());
        }
        if self.auth.issuer.is_empty() {
            problems.push("auth.issuer: must not be empty".into());
        }
        if self.auth.audience.is_empty() {
            problems.push("auth.audience: must not be empty".into());
        }
        if !self.auth.dev_key_on() && self.auth.keys.is_empty() && self.auth.jwks_file.is_none() {
            problems.push(
                "auth.keys: at least one key (or auth.jwks_file) is needed when auth.dev_key is false"
                    .into(),
            );
        }
        if !(60..=365 * 24 * 3600).contains(&self.auth.max_token_lifetime_secs) {
            problems.push(
                "auth.max_token_lifetime_secs: must be between 60 and 31536000 (a year)".into(),
            );
        }
        if let Some(url) = &self.bus.url
            && url
                .split(',')
                .any(|u| !(u.trim().starts_with("nats://") || u.trim().starts_with("tls://")))
        {
            problems.push("bus.url: each server must start with nats:// or tls://".into());
        }
        if !(50..=10_000).contains(&self.bus.poll_interval_ms) {
            problems.push("bus.poll_interval_ms: must be between 50 and 10000".into());
        }
        if !(100..=10_000).contains(&self.bus.heartbeat_interval_ms) {
            problems.push("bus.heartbeat_interval_ms: must be between 100 and 10000".into());
        }
        if self.bus.publish_queue == 0 {
            problems.push("bus.publish_queue: must be at least 1".into());
        }
        if self.bus.subject_prefix.is_empty()
            || !self
                .bus
                .subject_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            problems.push("bus.subject_prefix: letters, digits, `-` and `_` only".into());
        }
        if self.auth.reload_interval_secs == 0 {
            problems.push("auth.reload_interval_secs: must be at least 1".into());
        }
        if self.tls.reload_interval_secs == 0 {
            problems.push("tls.reload_interval_secs: must be at least 1".into());
        }
        for (i, key) in self.auth.keys.iter().enumerate() {
            if !matches!(key.algorithm.as_str(), "RS256" | "ES256" | "EdDSA") {
                problems.push(format!(
                    "auth.keys[{i}].algorithm: `{}` is not one of RS256, ES256, EdDSA",
                    key.algorithm
                ));
            }
            if key.kid.is_empty() || key.kid == "dev" {
                problems.push(format!("auth.keys[{i}].kid: must be set and not `dev`"));
            }
        }
        for origin in &self.auth.allowed_origins {
            if !(origin.starts_with("https://") || origin.starts_with("http://"))
                || origin.ends_with('/')
            {
                problems.push(format!(
                    "auth.allowed_origins: `{origin}` must look like https://host[:port]"
                ));
            }
        }
        if self.auth.auth_timeout_secs == 0 || self.auth.auth_timeout_secs > 60 {
            problems.push("auth.auth_timeout_secs: must be between 1 and 60".into());
        }
        let l = &self.limits;
        if l.max_body_bytes == 0 || l.max_body_bytes >= l.max_frame_bytes {
            problems.push(
                "limits.max_body_bytes: must be at least 1 and below limits.max_frame_bytes".into(),
            );
        }
        if l.max_frame_bytes < 1024 || l.max_frame_bytes > 16 * 1024 * 1024 {
            problems.push("limits.max_frame_bytes: must be between 1 KiB and 16 MiB".into());
        }
        if l.outbound_queue < 16 {
            problems.push("limits.outbound_queue: must be at least 16".into());
        }
        if l.max_inflight_per_connection == 0 {
            problems.push("limits.max_inflight_per_connection: must be at least 1".into());
        }
        if l.max_connections == 0 {
            problems.push("limits.max_connections: must be at least 1".into());
        }
        if l.ping_interval_secs == 0 {
            problems.push("limits.ping_interval_secs: must be at least 1".into());
        }
        if l.write_timeout_secs == 0 {
            problems.push("limits.write_timeout_secs: must be at least 1".into());
        }
        let c = &self.connections;
        for (key, secs) in [
            ("tls_handshake_timeout_secs", c.tls_handshake_timeout_secs),
            ("idle_timeout_secs", c.idle_timeout_secs),
            ("body_progress_secs", c.body_progress_secs),
            ("send_stall_secs", c.send_stall_secs),
        ] {
            if !(1..=3600).contains(&secs) {
                problems.push(format!("connections.{key}: must be between 1 and 3600"));
            }
        }
        for (key, value) in [
            ("max_per_address", c.max_per_address),
            (
                "new_per_address_per_sec",
                c.new_per_address_per_sec as usize,
            ),
            ("max_unauthenticated", c.max_unauthenticated),
            ("http2_max_streams", c.http2_max_streams as usize),
        ] {
            if value == 0 {
                problems.push(format!("connections.{key}: must be at least 1"));
            }
        }
        let r = &self.rate_limits;
        for (key, rate) in [
            ("frames_per_connection", r.frames_per_connection),
            ("writes_per_connection", r.writes_per_connection),
            ("writes_per_user", r.writes_per_user),
            ("typing_per_connection", r.typing_per_connection),
            ("typing_per_user", r.typing_per_user),
            ("reads_per_user", r.reads_per_user),
            ("resume_per_user", r.resume_per_user),
            ("http_reads_per_user", r.http_reads_per_user),
            ("http_writes_per_user", r.http_writes_per_user),
            ("http_uploads_per_user", r.http_uploads_per_user),
            ("http_systems_per_user", r.http_systems_per_user),
        ] {
            if rate.per_sec == 0 || rate.burst == 0 {
                problems.push(format!(
                    "rate_limits.{key}: per_sec and burst must be at least 1"
                ));
            }
        }
        if r.concurrent_resumes_per_user == 0 || r.sessions_per_user == 0 {
            problems.push(
                "rate_limits.concurrent_resumes_per_user and sessions_per_user: must be at least 1"
                    .into(),
            );
        }
        if self.limits.resume_max_events < 100 {
            problems.push("limits.resume_max_events: must be at least 100".into());
        }
        if !matches!(self.log.format.as_str(), "pretty" | "json") {
            problems.push(format!(
                "log.format: `{}` is not `pretty` or `json`",
                self.log.format
            ));
        }
        if self.shutdown.drain_timeout_secs == 0 {
            problems.push("shutdown.drain_timeout_secs: must be at least 1".into());
        }
        if !(100..=60_000).contains(&self.database.acquire_timeout_ms) {
            problems.push("database.acquire_timeout_ms: must be between 100 and 60000".into());
        }
        let h = &self.health;
        if !(100..=60_000).contains(&h.check_interval_ms) {
            problems.push("health.check_interval_ms: must be between 100 and 60000".into());
        }
        if !(50..=60_000).contains(&h.check_timeout_ms) {
            problems.push("health.check_timeout_ms: must be between 50 and 60000".into());
        }
        if !(1..=20).contains(&h.unanswered_checks_before_down) {
            problems.push("health.unanswered_checks_before_down: must be between 1 and 20".into());
        }
        self.validate_files(&mut problems);
        self.validate_retention(&mut problems);
        self.shared_secret_problems(&mut problems);
        if self.audit.checkpoint_every_entries == 0 {
            problems.push("audit.checkpoint_every_entries: must be at least 1".into());
        }
        if self.audit.checkpoint_interval_secs == 0 {
            problems.push("audit.checkpoint_interval_secs: must be at least 1".into());
        }
        let m = &self.moderation;
        if m.max_grant_secs == 0 {
            problems.push("moderation.max_grant_secs: must be at least 1".into());
        }
        if m.default_grant_secs == 0 || m.default_grant_secs > m.max_grant_secs {
            problems.push(
                "moderation.default_grant_secs: must be between 1 and moderation.max_grant_secs"
                    .into(),
            );
        }
        if self.tracker.per_minute == 0 || self.tracker.burst == 0 {
            problems.push("tracker.per_minute and tracker.burst: must be at least 1".into());
        }
        if self.tracker.share_per_minute == 0 || self.tracker.share_burst == 0 {
            problems.push(
                "tracker.share_per_minute and tracker.share_burst: must be at least 1".into(),
            );
        }
        if self.tracker.max_capture_age_secs == 0 {
            problems.push("tracker.max_capture_age_secs: must be at least 1".into());
        }
        if self.tracker.max_screenshot_bytes == 0 {
            problems.push("tracker.max_screenshot_bytes: must be at least 1".into());
        }
        if m.expiry_check_secs == 0 {
            problems.push("moderation.expiry_check_secs: must be at least 1".into());
        }
        let l = &self.legal;
        if l.bundle_retention_secs == 0 || l.bundle_retention_secs > 366 * 86_400 {
            problems.push("legal.bundle_retention_secs: must be between 1 and 31622400".into());
        }
        if l.concurrent_builds == 0 || l.concurrent_builds > 16 {
            problems.push("legal.concurrent_builds: must be between 1 and 16".into());
        }
        if l.stale_build_secs < 10 || l.stale_build_secs > 86_400 {
            problems.push("legal.stale_build_secs: must be between 10 and 86400".into());
        }
        if self.analytics.min_count < 2 {
            problems.push(
                "analytics.min_count: must be at least 2 (1 would show single workrooms)".into(),
            );
        }
        if self.analytics.max_days == 0 || self.analytics.max_days > 3660 {
            problems.push("analytics.max_days: must be between 1 and 3660".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    fn validate_retention(&self, problems: &mut Vec<String>) {
        let r = &self.retention;
        // Ten years: beyond that a period is a typo, and the millisecond sums stay far
        // from overflowing.
        const MAX: u64 = 10 * 366 * 86_400;
        for (name, value) in [
            ("closed_room_secs", r.closed_room_secs),
            ("closed_room_screenshot_secs", r.closed_room_screenshot_secs),
            ("connection_log_secs", r.connection_log_secs),
            ("prior_version_secs", r.prior_version_secs),
            ("moderation_record_secs", r.moderation_record_secs),
            ("revoked_bot_secs", r.revoked_bot_secs),
        ] {
            if value > MAX {
                problems.push(format!(
                    "retention.{name}: must be at most {MAX} (ten years)"
                ));
            }
        }
        if r.check_secs == 0 || r.check_secs > 86_400 {
            problems.push("retention.check_secs: must be between 1 and 86400".into());
        }
        if r.purge_lease_secs == 0 || r.purge_lease_secs > 3600 {
            problems.push("retention.purge_lease_secs: must be between 1 and 3600".into());
        }
        if r.purge_batch == 0 || r.purge_batch > 10_000 {
            problems.push("retention.purge_batch: must be between 1 and 10000".into());
        }
    }

    fn validate_files(&self, problems: &mut Vec<String>) {
        let f = &self.files;
        if f.max_file_bytes == 0 {
            problems.push("files.max_file_bytes: must be at least 1".into());
        }
        if f.room_quota_bytes < f.max_file_bytes {
            problems.push("files.room_quota_bytes: must be at least files.max_file_bytes".into());
        }
        if f.link_ttl_secs == 0 || f.link_ttl_secs > 3600 {
            problems.push("files.link_ttl_secs: must be between 1 and 3600".into());
        }
        if f.max_attachments == 0 || f.max_attachments > 100 {
            problems.push("files.max_attachments: must be between 1 and 100".into());
        }
        if f.orphan_grace_secs == 0 {
            problems.push("files.orphan_grace_secs: must be at least 1".into());
        }
        if f.sweep_interval_secs == 0 {
            problems.push("files.sweep_interval_secs: must be at least 1".into());
        }
        if f.backend == FileBackend::S3 {
            if f.s3.bucket.is_empty() {
                problems.push("files.s3.bucket: must be set when files.backend is s3".into());
            }
            if f.s3.access_key_id.is_some()
                != (f.s3.secret_access_key.is_some() || f.s3.secret_access_key_file.is_some())
            {
                problems.push(
                    "files.s3.access_key_id: set together with files.s3.secret_access_key(_file)"
                        .into(),
                );
            }
        }
        if f.s3.part_size_bytes < 5 * 1024 * 1024 || f.s3.part_size_bytes > 512 * 1024 * 1024 {
            problems.push("files.s3.part_size_bytes: must be between 5 MiB and 512 MiB".into());
        }
        if f.s3.timeout_secs == 0 {
            problems.push("files.s3.timeout_secs: must be at least 1".into());
        }
        if let Some(endpoint) = &f.s3.endpoint
            && !(endpoint.starts_with("https://") || endpoint.starts_with("http://"))
        {
            problems.push("files.s3.endpoint: must start with https:// or http://".into());
        }
    }
}
