//! `tracker-bench`: the Tracker's screenshot ingest rate through a running server, next to
//! plain file uploads of the same bytes into the same workroom.
//!
//! - screenshots: `POST /v1/tracker/screenshots` with a bot token acting for the contractor
//!   (Work View on), which adds to an upload the bot-token revocation lookup, the Work View
//!   and contract-party checks, the rate limiter, the screenshot row and its live event.
//! - uploads: `POST /v1/rooms/{room}/files` by the contractor: TLS, hashing, sniffing,
//!   chunked AES-256-GCM, the object store and the file row.
//!
//! Phases alternate (screenshots, uploads, screenshots, …) so that drift in the machine's load
//! hits both alike. The server's rate limit must be lifted for the run, e.g.
//! `WORKROOM_TRACKER__PER_MINUTE=1000000 WORKROOM_TRACKER__BURST=1000000`; a `429` stops the
//! benchmark with that hint.
//!
//! Usage: `tracker-bench --config server.toml --addr 127.0.0.1:8443 --size 200KiB --count 300`.

use anyhow::bail;
use clap::Parser;
use futures_util::StreamExt;
use serde_json::json;
use std::time::{Duration, Instant};
use workroom_protocol::Role;
use workroom_tests::bench_target::{BenchTarget, ServerConfigArgs, incompressible, parse_size};

/// Tracker screenshot ingest next to plain uploads of the same bytes.
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    server: ServerConfigArgs,
    /// Image size: bytes, or with KiB/MiB.
    #[arg(long, default_value = "200KiB", value_parser = parse_size)]
    size: u64,
    /// Requests per phase.
    #[arg(long, default_value_t = 300)]
    count: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Rounds of (screenshots, uploads).
    #[arg(long, default_value_t = 2)]
    rounds: usize,
}

#[derive(Clone, Copy)]
enum Phase {
    Screenshots,
    Uploads,
}

impl Phase {
    fn label(self) -> &'static str {
        match self {
            Phase::Screenshots => "screenshots",
            Phase::Uploads => "uploads",
        }
    }
}

/// One phase's outcome: requests per second and latency percentiles.
struct Measured {
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

/// A PNG signature and header chunk start, then incompressible bytes: what an encoded
/// screenshot looks like to the server (it sniffs, it does not decode).
fn screenshot_image(size: usize) -> bytes::Bytes {
    let mut image = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    image.extend(incompressible(size.saturating_sub(image.len())));
    bytes::Bytes::from(image)
}

async fn run_phase(
    target: &BenchTarget,
    phase: Phase,
    room: &str,
    token: &str,
    image: &bytes::Bytes,
    args: &Args,
) -> anyhow::Result<Measured> {
    let captured_at = &(time::OffsetDateTime::now_utc() - time::Duration::minutes(1))
        .format(&time::format_description::well_known::Rfc3339)?;
    let started = Instant::now();
    let mut latencies: Vec<Duration> = futures_util::stream::iter(0..args.count)
        .map(|i| async move {
            let request = match phase {
                Phase::Screenshots => target
                    .http
                    .post(
                        &format!(
                            "/v1/tracker/screenshots?room={room}&captured_at={captured_at}&activity={}",
                            i % 101
                        ),
                        token,
                    )
                    .header("workroom-memo", "bench"),
                Phase::Uploads => target
                    .http
                    .post(&format!("/v1/rooms/{room}/files?name=shot-{i}.png"), token),
            };
            let sent = Instant::now();
            let response = request.body(image.clone()).send().await?;
            let status = response.status();
            if status.as_u16() == 429 {
                bail!(
                    "rate limited: start the server with WORKROOM_TRACKER__PER_MINUTE=1000000 \
                     WORKROOM_TRACKER__BURST=1000000"
                );
            }
            if !status.is_success() {
                bail!("{}: {status} {}", phase.label(), response.text().await?);
            }
            response.bytes().await?;
            anyhow::Ok(sent.elapsed())
        })
        .buffer_unordered(args.concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    let elapsed = started.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    Ok(Measured {
        per_second: args.count as f64 / elapsed.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let args = Args::parse();
    if args.count == 0 || args.concurrency == 0 || args.rounds == 0 {
        bail!("--count, --concurrency and --rounds must be at least 1");
    }
    let config = args.server.load()?;
    let target = BenchTarget::connect(&config, &args.server.addr)?;
    let opened = target.open_room().await?;
    let contractor = target.mint(&opened.contractor, Role::Member, None)?;
    let work_view = target
        .http
        .put("/v1/me/work-view", &contractor)
        .json(&json!({"on": true}))
        .send()
        .await?;
    if !work_view.status().is_success() {
        bail!("turning Work View on: {}", work_view.status());
    }
    let bot = target.mint("bench-tracker", Role::Bot, Some(&opened.contractor))?;
    let image = screenshot_image(usize::try_from(args.size)?);
    println!(
        "tracker-bench: {:.0} KiB images, {} per phase, {} in flight, {} rounds",
        args.size as f64 / 1024.0,
        args.count,
        args.concurrency,
        args.rounds
    );
    let mut totals = [0.0f64; 2];
    for round in 1..=args.rounds {
        for (slot, phase, token) in [
            (0, Phase::Screenshots, &bot),
            (1, Phase::Uploads, &contractor),
        ] {
            let measured = run_phase(&target, phase, &opened.room, token, &image, &args).await?;
            totals[slot] += measured.per_second;
            println!(
                "round {round} {:<11} {:8.1} /s  ({:6.1} MiB/s)  p50 {:6.1} ms  p99 {:6.1} ms",
                phase.label(),
                measured.per_second,
                measured.per_second * args.size as f64 / f64::from(1 << 20),
                measured.p50.as_secs_f64() * 1e3,
                measured.p99.as_secs_f64() * 1e3,
            );
        }
    }
    let rounds = args.rounds as f64;
    let (shots, uploads) = (totals[0] / rounds, totals[1] / rounds);
    println!(
        "mean: screenshots {shots:.1}/s, uploads {uploads:.1}/s, ratio {:.2}",
        shots / uploads
    );
    Ok(())
}
