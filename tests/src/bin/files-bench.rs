//! `files-bench`: file transfer throughput through a running server, next to a plain copy
//! of the same bytes through the same object store.
//!
//! - plain: the configured object store used directly (local: temp file, fsync, rename;
//!   S3: PutObject or multipart), no HTTP, no encryption, no database; then read back.
//! - server: `POST /v1/rooms/{room}/files` and `GET …/content` over HTTPS, which adds TLS,
//!   hashing, sniffing, chunked AES-256-GCM and the database row.
//!
//! The ratio server/plain is the figure of merit. With `--server-pid` the server's resident
//! memory is sampled during the transfers (peak over baseline), which shows that uploads
//! stream: memory stays flat whatever the file size.
//!
//! Usage: `files-bench --config server.toml --addr 127.0.0.1:8443 --size 100MiB --count 3`.

use anyhow::bail;
use clap::Parser;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use workroom_client::procfs::rss_kib;
use workroom_protocol::Role;
use workroom_server::config::Config;
use workroom_tests::bench_target::{BenchTarget, ServerConfigArgs, incompressible, parse_size};

/// File transfer through the server next to a plain copy through the same store.
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    server: ServerConfigArgs,
    #[arg(long)]
    server_pid: Option<u32>,
    /// File size: bytes, or with KiB/MiB/GiB.
    #[arg(long, default_value = "1MiB", value_parser = parse_size)]
    size: u64,
    #[arg(long, default_value_t = 5)]
    count: u32,
    /// Only measure the server (e.g. for a 1 GiB memory check).
    #[arg(long)]
    server_only: bool,
}

fn payload(size: u64) -> bytes::Bytes {
    bytes::Bytes::from(incompressible(usize::try_from(size).unwrap_or(usize::MAX)))
}

fn mib_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / elapsed.as_secs_f64()
}

/// Samples a process's RSS while alive; `peak()` is the highest reading in KiB.
struct RssSampler {
    peak: Arc<AtomicU64>,
    stop: tokio_util::sync::CancellationToken,
}

impl RssSampler {
    fn start(pid: u32) -> RssSampler {
        let peak = Arc::new(AtomicU64::new(rss_kib(pid).unwrap_or(0)));
        let stop = tokio_util::sync::CancellationToken::new();
        let (p, s) = (peak.clone(), stop.clone());
        tokio::spawn(async move {
            while !s.is_cancelled() {
                if let Some(rss) = rss_kib(pid) {
                    p.fetch_max(rss, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        RssSampler { peak, stop }
    }

    fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn plain(config: &Config, data: &bytes::Bytes, count: u32) -> anyhow::Result<(f64, f64)> {
    let store = workroom_server::blobs::open_blob_store(config).await?;
    let (mut up, mut down) = (Duration::ZERO, Duration::ZERO);
    for i in 0..count {
        let key = format!("bench-plain/{}-{i}", uuid::Uuid::now_v7().simple());
        let started = Instant::now();
        let mut upload = store.begin(&key).await?;
        for piece in data.chunks(1 << 20) {
            upload.write(data.slice_ref(piece)).await?;
        }
        upload.finish().await?;
        up += started.elapsed();
        let started = Instant::now();
        let mut reader = store.read_range(&key, 0, data.len() as u64).await?;
        let mut back = Vec::with_capacity(data.len());
        reader.read_to_end(&mut back).await?;
        down += started.elapsed();
        if back.len() != data.len() {
            bail!("plain read returned {} bytes", back.len());
        }
        store.delete(&key).await?;
    }
    let total = data.len() as u64 * u64::from(count);
    Ok((mib_per_s(total, up), mib_per_s(total, down)))
}

async fn through_server(
    args: &Args,
    config: &Config,
    data: &bytes::Bytes,
) -> anyhow::Result<(f64, f64, Option<(u64, u64)>)> {
    let target = BenchTarget::connect(config, &args.server.addr)?;
    let http = &target.http;
    let opened = target.open_room().await?;
    let room = opened.room;
    let token = target.mint(&opened.client, Role::Member, None)?;

    let baseline = args.server_pid.and_then(rss_kib);
    let sampler = args.server_pid.map(RssSampler::start);
    let (mut up, mut down) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..args.count {
        let started = Instant::now();
        let response = http
            .post(&format!("/v1/rooms/{room}/files?name=bench.bin"), &token)
            .body(data.clone())
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("upload: {} {}", response.status(), response.text().await?);
        }
        let info: workroom_protocol::http::FileInfo = response.json().await?;
        up += started.elapsed();
        let started = Instant::now();
        let mut response = http
            .get(
                &format!("/v1/rooms/{room}/files/{}/content", info.id),
                &token,
            )
            .send()
            .await?;
        let mut received = 0u64;
        while let Some(chunk) = response.chunk().await? {
            received += chunk.len() as u64;
        }
        down += started.elapsed();
        if received != data.len() as u64 {
            bail!("download returned {received} bytes");
        }
    }
    let total = data.len() as u64 * u64::from(args.count);
    let memory = baseline.zip(sampler.map(|s| s.peak()));
    Ok((mib_per_s(total, up), mib_per_s(total, down), memory))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let args = Args::parse();
    let config = args.server.load()?;
    if let workroom_storage::blob::BlobStore::S3(s3) =
        workroom_server::blobs::open_blob_store(&config).await?
    {
        s3.ensure_bucket().await?;
    }
    let data = payload(args.size);
    let size_mib = args.size as f64 / (1 << 20) as f64;
    println!(
        "files-bench: {size_mib:.0} MiB x {} on the {:?} backend",
        args.count, config.files.backend
    );
    let plain_rates = if args.server_only {
        None
    } else {
        Some(plain(&config, &data, args.count).await?)
    };
    let (up, down, memory) = through_server(&args, &config, &data).await?;
    if let Some((plain_up, plain_down)) = plain_rates {
        println!("plain copy:   up {plain_up:8.1} MiB/s   down {plain_down:8.1} MiB/s");
        println!("server:       up {up:8.1} MiB/s   down {down:8.1} MiB/s");
        println!(
            "ratio:        up {:8.2}        down {:8.2}",
            up / plain_up,
            down / plain_down
        );
    } else {
        println!("server:       up {up:8.1} MiB/s   down {down:8.1} MiB/s");
    }
    if let Some((before, peak)) = memory {
        println!(
            "server RSS:   {:.1} MiB before, {:.1} MiB peak during transfers (+{:.1} MiB)",
            before as f64 / 1024.0,
            peak as f64 / 1024.0,
            peak.saturating_sub(before) as f64 / 1024.0
        );
    }
    Ok(())
}
