//! `export-bench`: a legal disclosure export of a large workroom through a running server.
//!
//! - `prepare`: opens a workroom, fills it with `--messages` messages (pipelined sends on
//!   two connections) and `--files` uploaded files of `--file-size`, prints the room id.
//! - `export`: asks for the room's export with a legal token, follows it until ready while
//!   sampling the server's RSS (`--server-pid`), downloads the bundle (to `--out`, or
//!   counting and discarding), then prints the build and download rates and the server's
//!   RSS before, at its peak and its growth.
//!
//! Usage: `export-bench --data-dir D --addr 127.0.0.1:8443 prepare --messages 100000 --files 1024 --file-size 1MiB`,
//! then `export-bench --data-dir D --addr 127.0.0.1:8443 export --room ROOM --server-pid PID`.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use workroom_client::procfs::rss_kib;
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
    /// Fill a workroom, print its id.
    Prepare {
        #[arg(long, default_value_t = 100_000)]
        messages: usize,
        #[arg(long, default_value_t = 1024)]
        files: usize,
        #[arg(long, default_value = "1MiB", value_parser = parse_size)]
        file_size: u64,
    },
    /// Export it and report the rates and the server's memory.
    Export {
        #[arg(long)]
        room: String,
        /// The server's process id, to sample its RSS.
        #[arg(long)]
        server_pid: u32,
        /// Keep the bundle here (default: count the bytes and discard them).
        #[arg(long)]
        out: Option<PathBuf>,
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
        } => {
            let room = target.open_room().await?;
            let started = Instant::now();
            target.fill(&room, messages, "export bench").await?;
            target.upload_files(&room, files, file_size).await?;
            eprintln!(
                "prepared {messages} messages and {files} files of {file_size} bytes in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            println!("{}", room.room);
            Ok(())
        }
        Step::Export {
            room,
            server_pid,
            out,
        } => export(&target, &room, server_pid, out).await,
    }
}

/// The server's RSS in KiB, and the peak seen so far.
struct Rss {
    pid: u32,
    peak: u64,
}

impl Rss {
    fn sample(&mut self) -> u64 {
        let now = rss_kib(self.pid).unwrap_or(0);
        self.peak = self.peak.max(now);
        now
    }
}

async fn export(
    target: &BenchTarget,
    room: &str,
    pid: u32,
    out: Option<PathBuf>,
) -> anyhow::Result<()> {
    let officer = target.mint("bench-legal", Role::Legal, None)?;
    let mut rss = Rss { pid, peak: 0 };
    let before = rss.sample();
    let started = Instant::now();
    let created: Value = target
        .http
        .post("/v1/legal/exports", &officer)
        .json(&json!({"request_id": "BENCH-1", "scope": "room", "target": room}))
        .send()
        .await?
        .json()
        .await?;
    let id = created["id"].as_str().context("export id")?.to_string();
    let view: Value = loop {
        rss.sample();
        let view: Value = target
            .http
            .get(&format!("/v1/legal/exports/{id}"), &officer)
            .send()
            .await?
            .json()
            .await?;
        match view["state"].as_str() {
            Some("ready") => break view,
            Some("building") => {}
            _ => bail!("the export failed: {view}"),
        }
        if started.elapsed() > Duration::from_secs(3600) {
            bail!("the export was not ready within an hour");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let built = started.elapsed().as_secs_f64();
    let build_peak = rss.peak;
    let size = view["size"].as_u64().context("size")?;

    let started = Instant::now();
    let response = target
        .http
        .get(&format!("/v1/legal/exports/{id}/content"), &officer)
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("download refused: {}", response.status());
    }
    let mut file = match &out {
        Some(path) => Some(tokio::fs::File::create(path).await?),
        None => None,
    };
    let mut stream = response.bytes_stream();
    let mut received = 0u64;
    let mut last_sample = Instant::now();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        received += chunk.len() as u64;
        if let Some(file) = file.as_mut() {
            file.write_all(&chunk).await?;
        }
        if last_sample.elapsed() > Duration::from_millis(100) {
            rss.sample();
            last_sample = Instant::now();
        }
    }
    if let Some(file) = file.as_mut() {
        file.flush().await?;
    }
    let downloaded = started.elapsed().as_secs_f64();
    if received != size {
        bail!("received {received} bytes, the export says {size}");
    }
    let mib = size as f64 / 1_048_576.0;
    println!(
        "bundle {mib:.1} MiB, {} entries: built in {built:.2} s ({:.1} MiB/s), downloaded in \
         {downloaded:.2} s ({:.1} MiB/s); server RSS {} MiB before, peak {} MiB while building \
         and {} MiB overall: growth {} MiB",
        view["entries"],
        mib / built,
        mib / downloaded,
        before / 1024,
        build_peak / 1024,
        rss.peak / 1024,
        rss.peak.saturating_sub(before) / 1024,
    );
    Ok(())
}
