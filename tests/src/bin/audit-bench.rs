//! `audit-bench`: the audit trail's append rate with concurrent writers, each append its own
//! transaction (as an audited act is), against the database a server config names.
//!
//! Usage: `audit-bench --config server.toml --writers 8 --entries 500`.

use clap::Parser;
use std::time::Instant;
use workroom_storage::audit::NewAuditEntry;
use workroom_tests::bench_target::ServerConfigArgs;

/// The audit trail's append rate with concurrent writers.
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    server: ServerConfigArgs,
    /// Concurrent writers.
    #[arg(long, default_value_t = 8)]
    writers: usize,
    /// Entries per writer.
    #[arg(long, default_value_t = 500)]
    entries: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = args.server.load()?;
    let (store, _) =
        workroom_server::server::open_store(&config, workroom_storage::Clock::system()).await?;
    store.migrate().await?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for writer in 0..args.writers {
        let store = store.clone();
        let entries = args.entries;
        tasks.push(tokio::spawn(async move {
            for i in 0..entries {
                let entry = NewAuditEntry::new(
                    &format!("bench-{writer}"),
                    "service",
                    // An entry like a membership change (the bench measures appends).
                    workroom_storage::audit::AuditAction::AccountMemberPut,
                    &format!("account:a{writer}"),
                    workroom_protocol::Purpose::Participation,
                    serde_json::json!({"i": i}),
                );
                store.append_audit(&[entry]).await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed();
    let total = args.writers * args.entries;
    println!(
        "audit-bench: {total} appends by {} writers in {:.2} s: {:.0} appends/s ({:?})",
        args.writers,
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        store.backend()
    );
    store.close().await.ok();
    Ok(())
}
