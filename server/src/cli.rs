//! The command line: `workroom serve | migrate | secrets | token | keys | audit | erasures |
//! legal | analytics | api-docs`. The binary's edge: errors become
//! messages on stderr and a non-zero exit code here, and nowhere else.

use crate::auth::DevKey;
use crate::config::{CliOverrides, Config};
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;
use workroom_protocol::Role;
use workroom_storage::Clock;

#[derive(Debug, Parser)]
#[command(name = "workroom", version, about = "Secure workroom messaging server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
struct Common {
    /// TOML configuration file.
    #[arg(long, env = "WORKROOM_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Data directory (SQLite database, dev keys, dev certificate).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTPS + WSS server (applies pending migrations first).
    Serve {
        #[command(flatten)]
        common: Common,
        /// Listen address, e.g. 127.0.0.1:8443.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Apply pending database migrations and exit. With many nodes, run it once per release
    /// before the new nodes start (they wait for a migration in progress, then apply none).
    Migrate {
        #[command(flatten)]
        common: Common,
    },
    /// The secrets every node of a cluster shares (PostgreSQL refuses to start without them).
    Secrets {
        #[command(subcommand)]
        action: SecretsCommand,
    },
    /// Manage the keyring: list, rotate, rewrap, retire master keys; destroy data keys.
    Keys {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        action: KeysAction,
    },
    /// The audit trail.
    Audit {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        action: AuditCommand,
    },
    /// List the erasures a legal hold deferred (person erasures after termination, key
    /// destructions, workroom purges): they run when the last hold covering them lifts.
    Erasures {
        #[command(flatten)]
        common: Common,
    },
    /// Legal disclosure bundles: verify one offline, print the signing key.
    Legal {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        action: LegalCommand,
    },
    /// Anonymous analytics (daily counts, small cells suppressed).
    Analytics {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        action: AnalyticsCommand,
    },
    /// Write the machine-readable API: `openapi.json` (OpenAPI 3.1, every HTTP route) and
    /// `schemas/frames.json` (JSON Schema, every WebSocket frame), generated from the code.
    ApiDocs {
        /// The output directory (the repository's `docs/`).
        #[arg(long, default_value = "docs")]
        out: PathBuf,
    },
    /// Print a JWT signed with the data dir's dev key.
    Token {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        sub: String,
        #[arg(long)]
        role: Role,
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        acts_for: Option<String>,
        /// Lifetime: 30s, 15m, 1h, 7d.
        #[arg(long, default_value = "1h", value_parser = parse_ttl)]
        ttl: u64,
        /// Print a one-time link that signs the web client in as this user, instead of the
        /// token (development server only; the link works once, for five minutes).
        #[arg(long)]
        sign_in_link: bool,
    },
}

#[derive(Debug, Subcommand)]
enum SecretsCommand {
    /// Generate the master keys, the audit signing key and the legal bundle signing key as
    /// files (mode 0600) in DIR, and print the configuration lines that point every node at
    /// them. Refuses to overwrite any existing file.
    Init {
        /// Where to write them (created 0700 when missing).
        #[arg(long)]
        dir: PathBuf,
        /// Also write a development TLS certificate for localhost and 127.0.0.1 in
        /// DIR/tls/, for every node of a development cluster to serve (not for production).
        #[arg(long)]
        dev_certificate: bool,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check every entry and every signed checkpoint; exit non-zero naming the first entry
    /// that was altered, removed or reordered.
    Verify,
    /// Sign a checkpoint of the current head now.
    Checkpoint,
    /// Print the checkpoint signing key's public key (hex), for auditors.
    PublicKey,
}

#[derive(Debug, Subcommand)]
enum LegalCommand {
    /// Verify a bundle offline (no server, no database): the manifest's signature, every
    /// entry's size and SHA-256, nothing missing or extra. Exits non-zero naming each
    /// problem.
    Verify {
        /// The bundle (`.tar`) as downloaded.
        bundle: PathBuf,
        /// The signing key's public half: 64 hex characters, or the JSON of
        /// `GET /v1/legal/public-key`. Default: this configuration's signing key.
        #[arg(long)]
        public_key: Option<PathBuf>,
    },
    /// Print the bundle signing key's id and public key (hex).
    PublicKey,
}

#[derive(Debug, Subcommand)]
enum AnalyticsCommand {
    /// Print the daily counts of whole past UTC days as CSV (`suppressed` where fewer than
    /// `analytics.min_count` workrooms contributed).
    Export {
        /// First day, YYYY-MM-DD (default: 29 days before --until).
        #[arg(long)]
        from: Option<String>,
        /// Last day, YYYY-MM-DD, before today (default: yesterday).
        #[arg(long)]
        until: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum KeysAction {
    /// Master key ids, newest last, with how many data keys each wraps.
    List,
    /// Add a new master key (it becomes the newest) and re-wrap every data key under it.
    Rotate,
    /// Re-wrap every data key under the newest master key (after adding one by hand).
    Rewrap,
    /// Remove a master key that no data key needs any more.
    Retire {
        #[arg(long)]
        id: String,
    },
    /// Destroy the data key of a workroom or a person: everything sealed under it becomes
    /// unreadable for good. Servers stop using a cached copy within a minute.
    Destroy {
        #[arg(long, conflicts_with = "person", required_unless_present = "person")]
        room: Option<String>,
        #[arg(long)]
        person: Option<String>,
        /// Required: this cannot be undone.
        #[arg(long)]
        confirm: bool,
    },
}

/// Parse `30s`, `15m`, `1h`, `7d` into seconds.
pub fn parse_ttl(text: &str) -> Result<u64, String> {
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 30s, 15m, 1h or 7d"))?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "`{text}` is not a duration like 30s, 15m, 1h or 7d"
            ));
        }
    };
    if value == 0 {
        return Err("the duration must be positive".into());
    }
    value
        .checked_mul(scale)
        .ok_or_else(|| format!("`{text}` is too long"))
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    crate::data_dir::private_umask();
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("workroom: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn load(common: &Common, listen: Option<String>) -> anyhow::Result<Config> {
    let overrides = CliOverrides {
        listen,
        data_dir: common.data_dir.clone(),
    };
    Ok(Config::load(common.config.as_deref(), &overrides)?)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { common, listen } => {
            let config = load(&common, listen)?;
            init_tracing(&config);
            runtime()?.block_on(serve(config))
        }
        Command::ApiDocs { out } => {
            for path in crate::api_docs::write(&out)
                .with_context(|| format!("writing the API description to {}", out.display()))?
            {
                println!("wrote {}", path.display());
            }
            Ok(())
        }
        Command::Secrets {
            action:
                SecretsCommand::Init {
                    dir,
                    dev_certificate,
                },
        } => {
            if dev_certificate {
                let (cert, key) = crate::tls::dev_cert_paths(&dir);
                if let Some(there) = [cert, key].iter().find(|p| p.exists()) {
                    anyhow::bail!(crate::secrets::SecretsError::Exists(
                        there.display().to_string()
                    ));
                }
            }
            let made = crate::secrets::init(&dir)?;
            print!("{}", made.report());
            if dev_certificate {
                print!("\n{}", crate::secrets::init_dev_certificate(&dir)?);
            }
            Ok(())
        }
        Command::Migrate { common } => {
            let config = load(&common, None)?;
            init_tracing(&config);
            runtime()?.block_on(async {
                let (store, _) = crate::server::open_store(&config, Clock::system()).await?;
                let applied = store.migrate().await?;
                println!("applied {applied} migration(s)");
                store.close().await.ok();
                Ok(())
            })
        }
        Command::Audit { common, action } => {
            let config = load(&common, None)?;
            init_tracing(&config);
            runtime()?.block_on(audit(config, action))
        }
        Command::Erasures { common } => {
            let config = load(&common, None)?;
            init_tracing(&config);
            runtime()?.block_on(erasures(config))
        }
        Command::Legal { common, action } => {
            let config = load(&common, None)?;
            legal(&config, action)
        }
        Command::Analytics { common, action } => {
            let config = load(&common, None)?;
            init_tracing(&config);
            runtime()?.block_on(analytics(config, action))
        }
        Command::Keys { common, action } => {
            let config = load(&common, None)?;
            init_tracing(&config);
            runtime()?.block_on(keys(config, action))
        }
        Command::Token {
            common,
            sub,
            role,
            account,
            acts_for,
            ttl,
            sign_in_link,
        } => {
            if role == Role::Bot && acts_for.as_deref().is_none_or(str::is_empty) {
                anyhow::bail!("a bot token acts for one contractor: pass --acts-for <user>");
            }
            let config = load(&common, None)?;
            let (key, _) = DevKey::load_or_create(&config.data_dir)?;
            let token = key.mint(
                &config.auth.issuer,
                &config.auth.audience,
                &sub,
                role,
                account.as_deref(),
                acts_for.as_deref(),
                ttl,
                Clock::system().now_secs(),
            )?;
            if sign_in_link {
                if !config.auth.dev_key_on() {
                    anyhow::bail!(
                        "sign-in links are for the development server: auth.dev_key is off here, so the server would redeem none"
                    );
                }
                let now = Clock::system().now_ms();
                let code = crate::sign_in_links::create(&config.data_dir, &token, now)?;
                println!("{}/#sign-in={code}", page_origin(&config.listen));
            } else {
                println!("{token}");
            }
            Ok(())
        }
    }
}

/// The page's address for a listen address: the dev certificate names `localhost`, so a
/// loopback or unspecified host is shown as that.
fn page_origin(listen: &str) -> String {
    let (host, port) = listen.rsplit_once(':').unwrap_or((listen, "8443"));
    let host = match host.trim_matches(['[', ']']) {
        "127.0.0.1" | "::1" | "0.0.0.0" | "::" | "" => "localhost",
        _ => host,
    };
    format!("https://{host}:{port}")
}

fn legal(config: &Config, action: LegalCommand) -> anyhow::Result<()> {
    use crate::bundle::LegalSigner;
    match action {
        LegalCommand::PublicKey => {
            let (signer, _) = LegalSigner::load_or_create(config)?;
            let view = signer.view();
            println!("{}\t{}", view.key_id, view.public_key);
            Ok(())
        }
        LegalCommand::Verify { bundle, public_key } => {
            let public = match public_key {
                Some(path) => read_public_key(&path)?,
                None => {
                    let signer = LegalSigner::load_existing(config)?.with_context(|| {
                        format!(
                            "no --public-key given and no signing key at {}",
                            crate::bundle::key_path(config).display()
                        )
                    })?;
                    crate::signing_key::parse_public_key(&signer.view().public_key)
                        .context("reading this configuration's public key")?
                }
            };
            let file = std::fs::File::open(&bundle)
                .with_context(|| format!("opening {}", bundle.display()))?;
            match crate::bundle::verify(std::io::BufReader::new(file), &public) {
                Ok(verified) => {
                    println!(
                        "bundle verified: {} entries, {} bytes; export {} for request {} \
                         ({} {}), signed by key {}, manifest sha256 {}",
                        verified.entries,
                        verified.bytes,
                        verified.manifest.export_id,
                        verified.manifest.request_id,
                        verified.manifest.scope,
                        verified.manifest.target,
                        verified.manifest.key_id,
                        verified.manifest_sha256
                    );
                    for note in &verified.manifest.notes {
                        println!("note: {note}");
                    }
                    Ok(())
                }
                Err(problems) => {
                    for problem in &problems {
                        eprintln!("problem: {problem}");
                    }
                    anyhow::bail!(
                        "{} does not verify: {} problem(s)",
                        bundle.display(),
                        problems.len()
                    )
                }
            }
        }
    }
}

/// A public key file: 64 hex characters, or the JSON of `GET /v1/legal/public-key`.
fn read_public_key(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let hex = if text.trim_start().starts_with('{') {
        serde_json::from_str::<workroom_protocol::legal::SigningKeyView>(&text)
            .with_context(|| format!("{}: not a public key document", path.display()))?
            .public_key
    } else {
        text
    };
    crate::signing_key::parse_public_key(&hex).with_context(|| {
        format!(
            "{}: expected an Ed25519 public key as 64 hex characters",
            path.display()
        )
    })
}

async fn analytics(config: Config, action: AnalyticsCommand) -> anyhow::Result<()> {
    let AnalyticsCommand::Export { from, until } = action;
    let (store, _) = crate::server::open_store(&config, Clock::system()).await?;
    store.migrate().await?;
    let (from, until) = crate::service::day_range(
        from.as_deref(),
        until.as_deref(),
        Clock::system().now_ms(),
        config.analytics.max_days,
    )
    .map_err(|f| anyhow::anyhow!("{}", f.message))?;
    let days = crate::service::day_views(&store, from, until, config.analytics.min_count).await?;
    store.close().await.ok();
    let mut out = String::new();
    out.push_str(&workroom_protocol::analytics::DayView::COLUMNS.join(","));
    out.push('\n');
    for day in days {
        out.push_str(&day.day);
        for cell in day.cells() {
            out.push(',');
            out.push_str(&cell.to_string());
        }
        out.push('\n');
    }
    print!("{out}");
    Ok(())
}

async fn audit(config: Config, action: AuditCommand) -> anyhow::Result<()> {
    let (signer, _) = crate::audit::AuditSigner::load_or_create(&config)?;
    if let AuditCommand::PublicKey = action {
        println!("{}\t{}", signer.key_id(), signer.public_key_hex());
        return Ok(());
    }
    let (store, _) = crate::server::open_store(&config, Clock::system()).await?;
    store.migrate().await?;
    let result = match action {
        AuditCommand::Verify => {
            let keys = crate::audit::verification_keys(&config, &signer)?;
            crate::audit::verify(&store, &keys).await.map(|report| {
                println!(
                    "audit trail intact: {} entries, {} signed checkpoints, {} entries after the last checkpoint",
                    report.entries, report.checkpoints, report.unanchored
                );
            })
        }
        AuditCommand::Checkpoint => {
            crate::audit::checkpoint_now(&store, &signer)
                .await
                .map(|seq| match seq {
                    Some(seq) => println!("checkpoint signed at entry {seq}"),
                    None => println!("nothing new to checkpoint"),
                })
        }
        AuditCommand::PublicKey => Ok(()),
    };
    store.close().await.ok();
    Ok(result?)
}

async fn erasures(config: Config) -> anyhow::Result<()> {
    let (store, _) = crate::server::open_store(&config, Clock::system()).await?;
    let pending = store.pending_erasures().await?;
    if pending.is_empty() {
        println!("no deferred erasures");
    }
    for erasure in pending {
        println!(
            "{}\t{}\trequested {}",
            erasure.key_id,
            erasure.why,
            crate::events::rfc3339(erasure.requested_at)
        );
    }
    store.close().await.ok();
    Ok(())
}

/// The operator running the CLI, as an audit actor.
fn operator() -> workroom_storage::audit::Actor {
    workroom_storage::audit::Actor::new("operator", "operator")
}

async fn keys(config: Config, action: KeysAction) -> anyhow::Result<()> {
    use workroom_storage::{KeyDestruction, KeyScope};
    if let KeysAction::Rotate = action {
        let id = crate::keys::add_master_key(&config)?;
        println!("added master key {id}");
    }
    let (store, _) = crate::server::open_store(&config, Clock::system()).await?;
    store.migrate().await?;
    match action {
        KeysAction::List => {
            let counts = store.data_keys_per_master().await?;
            for id in store.keyring().masters().ids() {
                let n = counts.iter().find(|(m, _)| m == id).map_or(0, |(_, n)| *n);
                println!("{id}\t{n} data key(s)");
            }
            for (id, n) in counts
                .iter()
                .filter(|(m, _)| store.keyring().masters().get(m).is_none())
            {
                println!("{id}\t{n} data key(s)\tNOT CONFIGURED");
            }
        }
        KeysAction::Rotate | KeysAction::Rewrap => {
            let report = store.rewrap_data_keys().await?;
            let newest = store.keyring().masters().newest().id().to_string();
            store
                .append_audit(&[operator().entry(
                    workroom_storage::audit::AuditAction::KeysRewrapped,
                    "keyring",
                    workroom_protocol::Purpose::Operations,
                    serde_json::json!({"master_key": newest, "rewrapped": report.rewrapped}),
                )])
                .await?;
            println!(
                "re-wrapped {} data key(s) under {}; {} already current, {} destroyed",
                report.rewrapped,
                store.keyring().masters().newest().id(),
                report.already_current,
                report.destroyed
            );
        }
        KeysAction::Retire { id } => {
            let still = store
                .data_keys_per_master()
                .await?
                .into_iter()
                .find(|(m, _)| *m == id)
                .map_or(0, |(_, n)| n);
            if still > 0 {
                anyhow::bail!(
                    "master key {id} still wraps {still} data key(s); run `workroom keys rewrap` first"
                );
            }
            crate::keys::remove_master_key(&config, &id)?;
            store
                .append_audit(&[operator().entry(
                    workroom_storage::audit::AuditAction::KeysRetired,
                    "keyring",
                    workroom_protocol::Purpose::Operations,
                    serde_json::json!({"master_key": id}),
                )])
                .await?;
            println!("retired master key {id}");
        }
        KeysAction::Destroy {
            room,
            person,
            confirm,
        } => {
            if !confirm {
                anyhow::bail!("destroying a data key cannot be undone; pass --confirm");
            }
            let scope = match (&room, &person) {
                (Some(room), _) => KeyScope::Room(room),
                (None, Some(person)) => KeyScope::Person(person),
                (None, None) => anyhow::bail!("name --room or --person"),
            };
            let outcome = match store.destroy_or_defer(scope, &operator()).await? {
                KeyDestruction::Destroyed(true) => "destroyed",
                KeyDestruction::Destroyed(false) => "had no live key (now marked destroyed)",
                KeyDestruction::Deferred => {
                    "is under a legal hold: its destruction is deferred until the last hold \
                     lifts (see `workroom erasures`)"
                }
            };
            println!("{} {outcome}", scope.key_id());
        }
    }
    store.close().await.ok();
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listener = std::net::TcpListener::bind(config.listen_addr())
        .with_context(|| format!("binding {}", config.listen))?;
    let shutdown = CancellationToken::new();
    tokio::spawn(signal_shutdown(shutdown.clone()));
    let data_dir = config.data_dir.clone();
    crate::server::run(listener, config, Clock::system(), shutdown, |prepared, addr| {
        tracing::info!(%addr, migrations = prepared.migrations_applied, "listening");
        println!("workroom listening on https://{addr} (wss://{addr}/v1/ws)");
        println!(
            "TLS certificate: {}{}",
            prepared.tls.cert_path.display(),
            if prepared.tls.generated {
                " (generated development certificate; trust this file in clients)"
            } else {
                ""
            }
        );
        if prepared.master_key_created {
            println!(
                "master key: {} (generated; keep it secret and backed up, or lose every sealed item)",
                data_dir.join("keys").join("master.keys").display()
            );
        }
        println!(
            "mint a dev token: workroom token --data-dir {} --sub u1 --role member --account a1",
            data_dir.display()
        );
        println!(
            "web client: {}/ (sign in with the link of: workroom token --data-dir {} --sub u1 --role member --sign-in-link)",
            page_origin(&addr.to_string()),
            data_dir.display()
        );
    })
    .await?;
    Ok(())
}

async fn signal_shutdown(token: CancellationToken) {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    token.cancel();
}

fn init_tracing(config: &Config) {
    crate::logging::init(&config.log.filter, config.log.format == "json");
}

#[cfg(test)]
mod tests {
    use super::{page_origin, parse_ttl};

    #[test]
    fn the_page_is_shown_at_the_name_the_dev_certificate_covers() {
        assert_eq!(page_origin("127.0.0.1:8443"), "https://localhost:8443");
        assert_eq!(page_origin("[::1]:9000"), "https://localhost:9000");
        assert_eq!(page_origin("0.0.0.0:8443"), "https://localhost:8443");
        assert_eq!(page_origin("chat.example:443"), "https://chat.example:443");
    }

    #[test]
    fn ttls_parse() {
        assert_eq!(parse_ttl("30s"), Ok(30));
        assert_eq!(parse_ttl("15m"), Ok(900));
        assert_eq!(parse_ttl("1h"), Ok(3600));
        assert_eq!(parse_ttl("7d"), Ok(604_800));
        assert!(parse_ttl("1w").is_err());
        assert!(parse_ttl("0s").is_err());
    }
}
