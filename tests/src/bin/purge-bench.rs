//! `purge-bench`: the purge of a large closed workroom through a running server.
//!
//! - `prepare`: opens a workroom, fills it with `--messages` messages (pipelined sends on
//!   two connections, 64 unacknowledged each) and `--files` uploaded files, ends the
//!   contract and prints the room id. The room is then closed and waits for its purge.
//! - `purge`: asks for the room's purge now (`POST /v1/marketplace/rooms/{room}/purge`)
//!   and follows it through the retention route until the tombstone is written, printing
//!   the rows and objects removed per second.
//!
//! Run `bench messages --rate 2000` beside `purge` to measure what a purge costs live
//! traffic (docs/benchmarks.md).
//!
//! Usage: `purge-bench --data-dir D --addr 127.0.0.1:8443 prepare --messages 100000 --files 200`,
//! then `purge-bench --data-dir D --addr 127.0.0.1:8443 purge --room ROOM`.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use serde_json::Value;
use std::time::{Duration, Instant};
use workroom_protocol::Role;
use workroom_tests::bench_target::{BenchTarget, ServerConfigArgs, parse_size};

#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    server: ServerConfigArgs,
    #[command(subcommand)]
    step: Step,
}

#[derive(Debug, Subcommand)]
enum Step {
    /// Fill a workroom, close it, print its id.
    Prepare {
        #[arg(long, default_value_t = 100_000)]
        messages: usize,
        #[arg(long, default_value_t = 200)]
        files: usize,
        #[arg(long, default_value = "64KiB", value_parser = parse_size)]
        file_size: u64,
    },
    /// Purge it now and report the rate.
    Purge {
        #[arg(long)]
        room: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let args = Args::parse();
    let config = args.server.load()?;
    let target = BenchTarget::connect(&config, &args.server.addr)?;
    match args.step {
        Step::Prepare {
            messages,
            files,
            file_size,
        } => prepare(&target, messages, files, file_size).await,
        Step::Purge { room } => purge(&target, &room).await,
    }
}

async fn prepare(
    target: &BenchTarget,
    messages: usize,
    files: usize,
    file_size: u64,
) -> anyhow::Result<()> {
    let room = target.open_room().await?;
    let started = Instant::now();
    target.fill(&room, messages, "purge bench").await?;
    let sent = started.elapsed();
    target.upload_files(&room, files, file_size).await?;
    let service = target.mint("bench-marketplace", Role::Service, None)?;
    let ended = target
        .http
        .post(&format!("/v1/marketplace/bids/{}/end", room.bid), &service)
        .send()
        .await?;
    if !ended.status().is_success() {
        bail!("end contract refused: {}", ended.status());
    }
    eprintln!(
        "prepared {messages} messages in {:.1} s and {files} files of {file_size} bytes",
        sent.as_secs_f64()
    );
    println!("{}", room.room);
    Ok(())
}

async fn purge(target: &BenchTarget, room: &str) -> anyhow::Result<()> {
    let service = target.mint("bench-marketplace", Role::Service, None)?;
    let path = format!("/v1/marketplace/rooms/{room}/retention");
    let started = Instant::now();
    let asked = target
        .http
        .post(&format!("/v1/marketplace/rooms/{room}/purge"), &service)
        .send()
        .await?;
    if asked.status().as_u16() != 202 {
        bail!("purge refused: {}", asked.status());
    }
    let view: Value = loop {
        let view: Value = target
            .http
            .get(&path, &service)
            .send()
            .await?
            .json()
            .await?;
        if view["purged_at"].is_string() {
            break view;
        }
        if started.elapsed() > Duration::from_secs(3600) {
            bail!("the purge did not finish within an hour");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let secs = started.elapsed().as_secs_f64();
    let counts = &view["purged"];
    let messages = counts["messages"].as_f64().context("counts")?;
    let files = counts["files"].as_f64().context("counts")?;
    let bytes = counts["bytes"].as_f64().context("counts")?;
    println!(
        "purged {messages} messages and {files} files ({:.1} MiB) in {secs:.2} s: \
         {:.0} messages/s, {:.0} objects/s (from the request to the tombstone, \
         lifecycle check interval included)",
        bytes / 1_048_576.0,
        messages / secs,
        files / secs,
    );
    Ok(())
}
