//! The `weir` binary: argument parsing and wiring only. `serve` starts the registry, `admin`
//! works on a data dir directly, and the client verbs talk HTTP to a registry.

mod config;
mod demo;
mod evals;
mod incidents;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Parser, Subcommand};
use weir_client::{Client, PullOptions, PushOptions};
use weir_core::{Name, RefName, RepoId, Scope};
use weir_server::{AppState, ServerConfig};
use weir_store::Store;

#[derive(Parser)]
#[command(
    name = "weir",
    version,
    about = "A self-hostable registry for open-weight AI models"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the registry.
    Serve(ServeArgs),
    /// The effective configuration of `weir serve` (weir.toml < WEIR_* < flags), without secrets.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Operator tasks on a data dir (works while the server runs).
    Admin {
        /// The data dir of the registry.
        #[arg(long, env = "WEIR_DATA", default_value = "./weir-data")]
        data: PathBuf,
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Save a token for the client verbs (read from stdin when --token is not given).
    Login {
        #[arg(long)]
        token: Option<String>,
        /// Registry URL.
        #[arg(long, env = "WEIR_SERVER", default_value = "http://127.0.0.1:8080")]
        server: String,
    },
    /// Upload a directory as a commit on a branch (creates the repo if needed).
    Push {
        dir: PathBuf,
        /// NS/NAME
        repo: String,
        #[arg(long, default_value = "main")]
        revision: String,
        #[arg(short = 'm', long = "message", default_value = "Upload with weir push")]
        message: String,
        /// Create the repo as private.
        #[arg(long)]
        private: bool,
        /// Also delete files from the branch that are not in DIR.
        #[arg(long)]
        delete: bool,
        #[arg(long, default_value_t = 4)]
        parallel: usize,
        #[command(flatten)]
        remote: Remote,
    },
    /// Access to gated repos: check, accept terms, request, status, review.
    Access {
        #[command(subcommand)]
        command: AccessCommand,
        #[command(flatten)]
        remote: Remote,
    },
    /// Risk tiers: raise yours; lowering needs an operator token and --reason.
    Tier {
        #[command(subcommand)]
        command: TierCommand,
        #[command(flatten)]
        remote: Remote,
    },
    /// Identity attestations: verifiers make keys and sign; users submit and show.
    Identity {
        #[command(subcommand)]
        command: IdentityCommand,
        #[command(flatten)]
        remote: Remote,
    },
    /// Custodial export of restricted (T3) weights under dual control.
    Export {
        #[command(subcommand)]
        command: ExportCommand,
        #[command(flatten)]
        remote: Remote,
    },
    /// Sign a revision (OpenSSF model-signing bundle) and announce it on the transparency log.
    Release {
        /// NS/NAME
        repo: String,
        #[arg(long, default_value = "main")]
        revision: String,
        /// Also attach your own `model_signing sign key` bundle (checked against your namespace's key).
        #[arg(long)]
        publisher_sig: Option<PathBuf>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Check a model directory against DIR.sig (its signed manifest) and DIR.sig.tlog-proof.
    Verify {
        dir: PathBuf,
        /// NS/NAME[@REV]: also check the log entry names this repo (and fetch DIR.sig if missing).
        #[arg(long)]
        repo: Option<String>,
        /// The release public key (PEM). Default: pinned on first use.
        #[arg(long)]
        key: Option<PathBuf>,
        /// The log's verifier key. Default: pinned on first use.
        #[arg(long, env = "WEIR_LOG_KEY")]
        log_key: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// The transparency log: checkpoints, inclusion proofs, consistency, full audit.
    Log {
        #[command(subcommand)]
        command: LogCommand,
        /// The log's verifier key (C2SP vkey). Default: the key pinned on first use.
        #[arg(long, global = true, env = "WEIR_LOG_KEY")]
        key: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Evaluations: import harness logs, sign results as an accredited evaluator.
    Eval {
        #[command(subcommand)]
        command: evals::EvalCommand,
        #[command(flatten)]
        remote: Remote,
    },
    /// Explain NS/NAME[@REV]'s classification under the policy, rule by rule.
    Classify {
        /// NS/NAME[@REV]
        repo: String,
        /// Print the JSON the API returns.
        #[arg(long)]
        json: bool,
        /// (publisher) Record that the notification the compute presumption asks for was made,
        /// with its reference; this meets the notification clock.
        #[arg(long, value_name = "REFERENCE")]
        notified: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Evidence that a hazard domain cannot be ruled out: file, list, review (operators).
    Evidence {
        #[command(subcommand)]
        command: evals::EvidenceCommand,
        #[command(flatten)]
        remote: Remote,
    },
    /// Export the EU GPAI Model Documentation Form fields the registry knows for NS/NAME[@REV].
    Doc {
        /// NS/NAME[@REV] (default: the latest release, else main)
        repo: String,
        /// json or md
        #[arg(long, default_value = "md")]
        format: String,
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Incidents: report (anyone), triage, confirm, mitigate, disclose; the OSV export.
    Incident {
        #[command(subcommand)]
        command: incidents::IncidentCommand,
        #[command(flatten)]
        remote: Remote,
    },
    /// Publishers' public accountability records.
    Publisher {
        #[command(subcommand)]
        command: incidents::PublisherCommand,
        #[command(flatten)]
        remote: Remote,
    },
    /// Your notifications (e.g. an incident on a revision you downloaded) and your webhook.
    Notifications {
        #[command(subcommand)]
        command: incidents::NotificationsCommand,
        #[command(flatten)]
        remote: Remote,
    },
    /// (operator) Sign off releasing NS/NAME@REV for a publisher on probation.
    Signoff {
        /// NS/NAME[@REV]
        repo: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Download a revision into a directory, verifying every byte.
    Pull {
        /// NS/NAME[@REVISION]
        repo: String,
        /// Target directory (default: NAME).
        dir: Option<PathBuf>,
        #[arg(long, default_value_t = 4)]
        parallel: usize,
        #[command(flatten)]
        remote: Remote,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration as TOML.
    Show(config::ConfigArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Seed demo publishers, users and models.
    #[arg(long)]
    demo: bool,
    #[command(flatten)]
    config: config::ConfigArgs,
}

#[derive(Args)]
struct Remote {
    /// Registry URL.
    #[arg(
        long,
        global = true,
        env = "WEIR_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    server: String,
    /// API token (default: the one saved by 'weir login').
    #[arg(long, global = true, env = "WEIR_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

#[derive(Subcommand)]
enum AccessCommand {
    /// May I download NS/NAME[@REV]? Prints the decision, the reason and the next step.
    Check { repo: String },
    /// Show a repo's terms and accept them (T1 access).
    Accept { repo: String },
    /// Request access to a gated repo.
    Request {
        repo: String,
        #[arg(long)]
        purpose: String,
        /// Extra fields the repo requires, as KEY=VALUE (repeatable).
        #[arg(long = "field", value_parser = parse_field)]
        fields: Vec<(String, String)>,
    },
    /// Your requests (all, or one repo's).
    Status { repo: Option<String> },
    /// A repo's requests, for its reviewers.
    List {
        repo: String,
        #[arg(long)]
        state: Option<String>,
    },
    /// Decide a request (namespace owners and operators).
    Review {
        repo: String,
        user: String,
        #[arg(long, group = "decision")]
        approve: bool,
        #[arg(long, group = "decision")]
        reject: bool,
        #[arg(long, group = "decision")]
        revoke: bool,
        #[arg(long, group = "decision")]
        reset: bool,
        /// Shown to the user; required to reject, revoke or reset.
        #[arg(long)]
        reason: Option<String>,
        /// Approval lasts this many days.
        #[arg(long)]
        expires: Option<u32>,
    },
    /// Set a repo's gating: minimum level for T2, automatic approval, blocked countries, fields, terms.
    Configure {
        repo: String,
        #[arg(long)]
        min_level: Option<String>,
        #[arg(long)]
        auto_approve_level: Option<String>,
        /// Comma-separated ISO country codes.
        #[arg(long)]
        blocked_countries: Option<String>,
        /// Comma-separated field names requests must fill in.
        #[arg(long)]
        required_fields: Option<String>,
        #[arg(long)]
        terms: Option<String>,
    },
}

fn parse_field(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))
}

#[derive(Subcommand)]
enum ExportCommand {
    /// Ask for a custodial copy of NS/NAME[@REV] for your accredited organization.
    Request {
        repo: String,
        #[arg(long)]
        org: String,
        #[arg(long)]
        purpose: String,
    },
    /// (operator) Approve an export; two distinct operators, neither the requester.
    Approve { id: i64 },
    /// Show an export's state.
    Status { id: i64 },
    /// (requester) Get the single-use link once approved, and download the tar into OUT.
    Fetch { id: i64, out: PathBuf },
}

#[derive(Subcommand)]
enum LogCommand {
    /// Print the current checkpoint, verified with the pinned key.
    Checkpoint,
    /// Prove that entry INDEX is in the log; --out writes the c2sp.org/tlog-proof@v1 file.
    Prove {
        index: u64,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check the current checkpoint is consistent with the last one this client saw, then remember it.
    Verify,
    /// Rebuild the whole tree from the entry bundles and compare the signed root and every tile.
    Audit,
    /// (witness) Make a witness key: OUT (secret, 0600); prints the cosigner key to register.
    WitnessKeygen { name: String, out: PathBuf },
    /// (witness) Check the log's consistency with what this witness saw, then cosign and submit.
    Witness {
        /// The witness's secret key file (from witness-keygen).
        #[arg(long = "witness-key")]
        witness_key: PathBuf,
        /// Cosign once and exit (default: every --interval seconds).
        #[arg(long)]
        once: bool,
        #[arg(long, default_value_t = 10)]
        interval: u64,
    },
}

#[derive(Subcommand)]
enum TierCommand {
    /// Set NS/NAME's tier (T0 open … T4 sealed).
    Set {
        repo: String,
        tier: String,
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Subcommand)]
enum IdentityCommand {
    /// (verifier) Make an Ed25519 key pair: OUT (secret, 0600) and OUT.pub.
    Keygen { out: PathBuf },
    /// (verifier) Sign an attestation and print it as JSON.
    Sign {
        /// The verifier's secret key file.
        #[arg(long)]
        key: PathBuf,
        /// The verifier's registered name.
        #[arg(long)]
        verifier: String,
        #[arg(long)]
        subject: String,
        #[arg(long)]
        level: String,
        #[arg(long)]
        country: Option<String>,
        #[arg(long, default_value_t = 365)]
        days: u32,
    },
    /// Submit a signed attestation (JSON file, or - for stdin).
    Submit { file: PathBuf },
    /// Your effective identity level.
    Show,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Organizations.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Identity levels (operator shortcut for demos and tests).
    Identity {
        #[command(subcommand)]
        command: AdminIdentityCommand,
    },
    /// Accredited identity verifiers.
    Verifier {
        #[command(subcommand)]
        command: VerifierCommand,
    },
    /// Publishers' own model-signing keys.
    PublisherKey {
        #[command(subcommand)]
        command: PublisherKeyCommand,
    },
    /// Transparency-log witnesses whose cosignatures the registry attaches to its checkpoints.
    Witness {
        #[command(subcommand)]
        command: WitnessCommand,
    },
    /// Accredited evaluators, whose signed results can count.
    Evaluator {
        #[command(subcommand)]
        command: evals::EvaluatorCommand,
    },
    /// Evaluation suites.
    Suite {
        #[command(subcommand)]
        command: evals::SuiteCommand,
    },
    /// The classification policy (versioned TOML, signed and logged).
    Policy {
        #[command(subcommand)]
        command: evals::PolicyCommand,
    },
    /// Remove blobs nothing refers to (refused commits, abandoned uploads, failed imports,
    /// crash leftovers) that are older than the grace period. Safest with the server stopped.
    Gc {
        /// Keep anything younger than this many hours (uploads waiting for their commit).
        #[arg(long, default_value_t = 24)]
        grace_hours: u64,
        /// Report what would be removed, remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum PublisherKeyCommand {
    /// Register NAMESPACE's model-signing public key (P-256 or P-384 PEM).
    Set {
        namespace: String,
        #[arg(long)]
        key: PathBuf,
    },
}

#[derive(Subcommand)]
enum WitnessCommand {
    /// Register a witness by its cosigner key (from 'weir log witness-keygen').
    Add {
        name: String,
        #[arg(long)]
        key: String,
    },
}

#[derive(Subcommand)]
enum AdminIdentityCommand {
    /// Set USER's level directly.
    Set {
        user: String,
        #[arg(long)]
        level: String,
        #[arg(long)]
        country: Option<String>,
        /// The level lapses after this many days.
        #[arg(long)]
        days: Option<u32>,
    },
    /// Revoke an attestation by id: grants that needed it stop working at once.
    Revoke { attestation: String },
}

#[derive(Subcommand)]
enum VerifierCommand {
    /// Register a verifier's Ed25519 public key (hex file from 'weir identity keygen').
    Add {
        name: String,
        #[arg(long)]
        key: PathBuf,
    },
    /// Revoke a verifier: all its attestations stop counting.
    Revoke { name: String },
}

#[derive(Subcommand)]
enum UserCommand {
    Add {
        name: String,
        #[arg(long)]
        email: Option<String>,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
    Add {
        name: String,
        /// Members to add (repeatable); the first becomes an owner.
        #[arg(long = "member")]
        members: Vec<String>,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token and print it (only the token, once).
    Create {
        user: String,
        #[arg(long, default_value = "read")]
        scope: String,
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Config {
            command: ConfigCommand::Show(args),
        } => {
            print!("{}", config::to_toml(&config::load(&args)?)?);
            Ok(())
        }
        Command::Admin { data, command } => admin(&data, command).await,
        Command::Login { token, server } => login(token, &server).await,
        Command::Release {
            repo,
            revision,
            publisher_sig,
            remote,
        } => {
            let id = repo_id(&repo)?;
            let client = client(&remote)?;
            match client.release(&id, &revision).await {
                Ok(v) => println!(
                    "released {id}@{} ({} files); bundle sha256 {}\n  {}\n  {}",
                    v["commit"].as_str().unwrap_or("?"),
                    v["files"],
                    v["bundle_sha256"].as_str().unwrap_or("?"),
                    v["bundle_url"].as_str().unwrap_or(""),
                    v["proof_url"].as_str().unwrap_or("")
                ),
                // Attaching a publisher signature to an existing release is fine.
                Err(weir_client::ClientError::Api { status: 409, .. })
                    if publisher_sig.is_some() => {}
                Err(e) => return Err(e.into()),
            }
            if let Some(path) = publisher_sig {
                let bundle = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                let v = client
                    .upload_publisher_bundle(&id, &revision, bundle)
                    .await?;
                println!(
                    "attached the publisher signature to {id}@{} ({} files verified)",
                    v["commit"].as_str().unwrap_or("?"),
                    v["files"]
                );
            }
            Ok(())
        }
        Command::Verify {
            dir,
            repo,
            key,
            log_key,
            remote,
        } => verify(dir, repo, key, log_key, &remote).await,
        Command::Access { command, remote } => access(command, &client(&remote)?).await,
        Command::Tier {
            command: TierCommand::Set { repo, tier, reason },
            remote,
        } => {
            let id = repo_id(&repo)?;
            let v = client(&remote)?
                .set_tier(&id, &tier, reason.as_deref())
                .await?;
            println!(
                "{id}: tier {} (was {})",
                v["tier"].as_str().unwrap_or("?"),
                v["previous"].as_str().unwrap_or("?")
            );
            Ok(())
        }
        Command::Identity { command, remote } => identity(command, &remote).await,
        Command::Eval { command, remote } => evals::eval(command, &remote).await,
        Command::Incident { command, remote } => incidents::incident(command, &remote).await,
        Command::Publisher { command, remote } => incidents::publisher(command, &remote).await,
        Command::Notifications { command, remote } => {
            incidents::notifications(command, &remote).await
        }
        Command::Signoff {
            repo,
            reason,
            remote,
        } => incidents::signoff(&repo, &reason, &remote).await,
        Command::Classify {
            repo,
            json,
            notified,
            remote,
        } => evals::classify(&repo, json, notified.as_deref(), &remote).await,
        Command::Evidence { command, remote } => evals::evidence(command, &remote).await,
        Command::Doc {
            repo,
            format,
            out,
            remote,
        } => evals::doc(&repo, &format, out.as_deref(), &remote).await,
        Command::Export { command, remote } => export(command, &client(&remote)?).await,
        Command::Log {
            command,
            key,
            remote,
        } => log(command, key, &remote).await,
        Command::Push {
            dir,
            repo,
            revision,
            message,
            private,
            delete,
            parallel,
            remote,
        } => {
            let repo = RepoId::parse(&repo)
                .map_err(|e| anyhow!("{e}; example: weir push ./model acme/tiny"))?;
            let branch = RefName::parse(&revision).map_err(|e| anyhow!("{e}"))?;
            if !dir.is_dir() {
                bail!(
                    "{} is not a directory; pass the folder to upload",
                    dir.display()
                );
            }
            let client = client(&remote)?;
            let opts = PushOptions {
                branch,
                message,
                private,
                delete_missing: delete,
                parallel,
                progress: true,
            };
            let out = client.push(&dir, &repo, &opts).await?;
            match out.commit {
                Some(c) => println!(
                    "pushed {repo}@{} commit {c}: {} files, {} uploaded ({} bytes), {} unchanged, {} deleted",
                    opts.branch,
                    out.files,
                    out.uploaded,
                    out.uploaded_bytes,
                    out.unchanged,
                    out.deleted
                ),
                None => println!(
                    "{repo}@{} is up to date ({} files unchanged)",
                    opts.branch, out.unchanged
                ),
            }
            Ok(())
        }
        Command::Pull {
            repo,
            dir,
            parallel,
            remote,
        } => {
            let (id, rev) = match repo.split_once('@') {
                Some((r, rev)) => (r, rev.to_string()),
                None => (repo.as_str(), "main".to_string()),
            };
            let id =
                RepoId::parse(id).map_err(|e| anyhow!("{e}; example: weir pull acme/tiny@main"))?;
            let dir = dir.unwrap_or_else(|| PathBuf::from(id.name.as_str()));
            let client = client(&remote)?;
            let opts = PullOptions {
                revision: rev,
                parallel,
                progress: true,
            };
            let out = client.pull(&id, &dir, &opts).await?;
            let signed = match client.release_files(&id, &out.commit).await {
                Ok(Some(files)) => {
                    let sig = files.write_beside(&dir)?;
                    format!(
                        "; signed release saved as {} (check with: weir verify {})",
                        sig.display(),
                        dir.display()
                    )
                }
                Ok(None) => "; this revision has no signed release".to_string(),
                Err(e) => format!("; could not fetch its signature: {e}"),
            };
            println!(
                "pulled {id}@{} (commit {}) into {}: {} files, {} downloaded ({} bytes, {} resumed), {} already up to date; every file matched its sha256",
                opts.revision,
                out.commit,
                dir.display(),
                out.files,
                out.downloaded,
                out.downloaded_bytes,
                out.resumed,
                out.up_to_date
            );
            println!("{}", signed.trim_start_matches("; "));
            Ok(())
        }
    }
}

fn repo_id(s: &str) -> Result<RepoId> {
    RepoId::parse(s).map_err(|e| anyhow!("{e}; example: acme/tiny-llama"))
}

fn split_rev(s: &str) -> (&str, &str) {
    s.split_once('@').unwrap_or((s, "main"))
}

fn print_request(v: &serde_json::Value) {
    let s = |k: &str| v[k].as_str().unwrap_or("-").to_string();
    let mut line = format!("{} {}: {}", s("repo"), s("user"), s("state"));
    if v["state"] == "pending" {
        line.push_str(&format!(
            ", review due {}{}",
            &s("due_at")[..10.min(s("due_at").len())],
            if v["overdue"] == true {
                " (overdue)"
            } else {
                ""
            }
        ));
    }
    if let Some(r) = v["reason"].as_str() {
        line.push_str(&format!(", reason: {r}"));
    }
    if let Some(e) = v["expires_at"].as_str() {
        line.push_str(&format!(", expires {e}"));
    }
    println!("{line}");
}

async fn access(command: AccessCommand, client: &Client) -> Result<()> {
    match command {
        AccessCommand::Check { repo } => {
            let (id, rev) = split_rev(&repo);
            let v = client.access_check(&repo_id(id)?, rev).await?;
            let verdict = if v["allow"] == true { "allow" } else { "deny" };
            println!(
                "{verdict} ({}): {}",
                v["reason"].as_str().unwrap_or("?"),
                v["message"].as_str().unwrap_or("")
            );
            if let Some(n) = v["next"].as_str() {
                println!("next: {n}");
            }
        }
        AccessCommand::Accept { repo } => {
            let id = repo_id(&repo)?;
            let t = client.terms(&id).await?;
            println!("Terms of {id}:\n  {}", t["terms"].as_str().unwrap_or(""));
            client.accept_terms(&id).await?;
            println!("accepted; your downloads of {id} are recorded");
        }
        AccessCommand::Request {
            repo,
            purpose,
            fields,
        } => {
            let v = client
                .request_access(&repo_id(&repo)?, &purpose, &fields)
                .await?;
            print_request(&v);
        }
        AccessCommand::Status { repo } => {
            let id = repo.as_deref().map(repo_id).transpose()?;
            let v = client.my_requests(id.as_ref()).await?;
            let list = v["requests"].as_array().cloned().unwrap_or_default();
            if list.is_empty() {
                println!("no access requests");
            }
            for r in &list {
                print_request(r);
            }
        }
        AccessCommand::List { repo, state } => {
            let v = client
                .list_requests(&repo_id(&repo)?, state.as_deref())
                .await?;
            for r in v["requests"].as_array().cloned().unwrap_or_default() {
                print_request(&r);
                println!("    purpose: {}", r["purpose"].as_str().unwrap_or(""));
            }
        }
        AccessCommand::Review {
            repo,
            user,
            approve,
            reject,
            revoke,
            reset,
            reason,
            expires,
        } => {
            let action = match (approve, reject, revoke, reset) {
                (true, _, _, _) => "approve",
                (_, true, _, _) => "reject",
                (_, _, true, _) => "revoke",
                (_, _, _, true) => "reset",
                _ => bail!("say what to do: --approve, --reject, --revoke or --reset"),
            };
            let v = client
                .review(&repo_id(&repo)?, &user, action, reason.as_deref(), expires)
                .await?;
            print_request(&v);
        }
        AccessCommand::Configure {
            repo,
            min_level,
            auto_approve_level,
            blocked_countries,
            required_fields,
            terms,
        } => {
            let list = |s: Option<String>| {
                s.map(|s| {
                    s.split(',')
                        .map(|x| x.trim().to_string())
                        .filter(|x| !x.is_empty())
                        .collect::<Vec<_>>()
                })
            };
            let body = serde_json::json!({
                "min_level": min_level, "auto_approve_level": auto_approve_level,
                "blocked_countries": list(blocked_countries), "required_fields": list(required_fields), "terms": terms,
            });
            let v = client.set_gating(&repo_id(&repo)?, body).await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
    }
    Ok(())
}

fn print_export(v: &serde_json::Value) {
    println!(
        "export {} of {}@{}: {} ({} of {} approvals: {}){}",
        v["id"],
        v["repo"].as_str().unwrap_or("?"),
        v["commit"].as_str().unwrap_or("?"),
        v["state"].as_str().unwrap_or("?"),
        v["approvals"].as_array().map(|a| a.len()).unwrap_or(0),
        v["approvals_needed"],
        v["approvals"]
            .as_array()
            .map(|a| a
                .iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_default(),
        if v["link_issued"] == true {
            ", link issued"
        } else {
            ""
        }
    );
}

async fn export(command: ExportCommand, client: &Client) -> Result<()> {
    match command {
        ExportCommand::Request { repo, org, purpose } => {
            let (id, rev) = split_rev(&repo);
            print_export(
                &client
                    .request_export(&repo_id(id)?, &org, &purpose, rev)
                    .await?,
            );
        }
        ExportCommand::Approve { id } => print_export(&client.approve_export(id).await?),
        ExportCommand::Status { id } => print_export(&client.export(id).await?),
        ExportCommand::Fetch { id, out } => {
            let link = client.export_link(id).await?;
            let url = link["url"]
                .as_str()
                .ok_or_else(|| anyhow!("the server sent no link"))?;
            let n = client.fetch_export(url, &out).await?;
            println!(
                "export {id}: {n} bytes written to {} (the link is now used)",
                out.display()
            );
        }
    }
    Ok(())
}

async fn identity(command: IdentityCommand, remote: &Remote) -> Result<()> {
    match command {
        IdentityCommand::Keygen { out } => ed25519_keygen(&out, "verifier")?,
        IdentityCommand::Sign {
            key,
            verifier,
            subject,
            level,
            country,
            days,
        } => {
            let secret = std::fs::read_to_string(&key)
                .with_context(|| format!("reading {}", key.display()))?;
            let level = weir_core::IdentityLevel::parse(&level).ok_or_else(|| {
                anyhow!("unknown level {level:?}; use affiliated, identified or accredited")
            })?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let claims = weir_signing::Claims {
                subject,
                level,
                country,
                issued_at: now,
                expires_at: now + i64::from(days) * 86_400,
                verifier,
            };
            let signed = weir_signing::sign(&claims, secret.trim()).map_err(|e| anyhow!("{e}"))?;
            println!("{}", serde_json::to_string(&signed)?);
        }
        IdentityCommand::Submit { file } => {
            let text = if file.as_os_str() == "-" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
                s
            } else {
                std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?
            };
            let body: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| anyhow!("{} is not an attestation JSON: {e}", file.display()))?;
            let v = client(remote)?.submit_attestation(body).await?;
            println!(
                "attestation {} accepted: {} is {} until {}",
                v["id"].as_str().unwrap_or("?"),
                v["subject"].as_str().unwrap_or("?"),
                v["level"].as_str().unwrap_or("?"),
                v["expires_at"].as_str().unwrap_or("?")
            );
        }
        IdentityCommand::Show => {
            let v = client(remote)?.identity().await?;
            println!(
                "{}: {} (source: {}{})",
                v["user"].as_str().unwrap_or("?"),
                v["level"].as_str().unwrap_or("?"),
                v["source"].as_str().unwrap_or("?"),
                v["expires_at"]
                    .as_str()
                    .map(|e| format!(", until {e}"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}

fn config_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("WEIR_CONFIG_DIR") {
        return Some(PathBuf::from(dir));
    }
    std::env::var("HOME")
        .ok()
        .map(|h| PathBuf::from(h).join(".config").join("weir"))
}

/// Where this client keeps a registry's pinned log key and last verified checkpoint.
fn log_state_dir(server: &str) -> Result<PathBuf> {
    let name: String = server
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let dir = config_dir()
        .ok_or_else(|| anyhow!("cannot find a config dir; set WEIR_CONFIG_DIR"))?
        .join("logs")
        .join(name);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// A key pinned per registry on first use (or given explicitly, which must match the pin).
async fn pinned_key(
    remote: &Remote,
    file: &str,
    given: Option<String>,
    fetch: impl std::future::Future<Output = Result<String>>,
) -> Result<String> {
    let path = log_state_dir(&remote.server)?.join(file);
    let pinned = std::fs::read_to_string(&path).ok();
    match (given, pinned) {
        (Some(k), Some(p)) if k.trim() != p.trim() => bail!(
            "the key given differs from the one pinned for {} in {}; remove that file to re-pin",
            remote.server,
            path.display()
        ),
        (Some(k), _) => {
            std::fs::write(&path, &k).with_context(|| format!("writing {}", path.display()))?;
            Ok(k)
        }
        (None, Some(p)) => Ok(p),
        (None, None) => {
            let k = fetch.await?;
            std::fs::write(&path, &k).with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "pinned {file} of {} on first use (pass it explicitly to pin one obtained out of band)",
                remote.server
            );
            Ok(k)
        }
    }
}

async fn verify(
    dir: PathBuf,
    repo: Option<String>,
    key: Option<PathBuf>,
    log_key: Option<String>,
    remote: &Remote,
) -> Result<()> {
    if !dir.is_dir() {
        bail!(
            "{} is not a directory; pass the model directory to verify",
            dir.display()
        );
    }
    let client = client(remote)?;
    let (sig_path, proof_path) = weir_client::verify::signature_paths(&dir);
    let target = repo
        .as_deref()
        .map(|r| {
            let (id, rev) = split_rev(r);
            repo_id(id).map(|i| (i, rev.to_string()))
        })
        .transpose()?;
    if !sig_path.exists() {
        let Some((id, rev)) = &target else {
            bail!(
                "{} is missing; pull with 'weir pull' (which writes it) or pass --repo NS/NAME@REV",
                sig_path.display()
            );
        };
        client
            .release_files(id, rev)
            .await?
            .ok_or_else(|| anyhow!("{id}@{rev} has no signed release"))?
            .write_beside(&dir)?;
    }
    let bundle = std::fs::read_to_string(&sig_path)
        .with_context(|| format!("reading {}", sig_path.display()))?;
    let key_text = key
        .as_ref()
        .map(|k| std::fs::read_to_string(k).with_context(|| format!("reading {}", k.display())))
        .transpose()?;
    let pem = pinned_key(remote, "release.pub.pem", key_text, async {
        Ok(client.release_public_key().await?)
    })
    .await?;
    let proof_text = std::fs::read_to_string(&proof_path).ok();
    let vkey = match &proof_text {
        Some(_) => Some(
            pinned_key(
                remote,
                "vkey",
                log_key.map(|k| format!("{}\n", k.trim())),
                async { Ok(format!("{}\n", client.log_vkey().await?)) },
            )
            .await?,
        ),
        None => None,
    };
    let opening = std::fs::read_to_string(weir_client::verify::opening_path(&dir)).ok();
    let report = weir_client::verify::verify_dir(
        &dir,
        &bundle,
        &pem,
        proof_text.as_deref().zip(vkey.as_deref().map(str::trim)),
        opening.as_deref(),
        target.as_ref().map(|(i, _)| i),
    )
    .await?;
    match report.logged {
        Some((size, index)) => println!(
            "{}: {} files match the signed manifest; the signature verifies; the release is entry {index} of the log (size {size}) under the pinned key",
            dir.display(),
            report.files
        ),
        None => println!(
            "{}: {} files match the signed manifest and the signature verifies (no {} to check the log)",
            dir.display(),
            report.files,
            proof_path.display()
        ),
    }
    Ok(())
}

async fn log(command: LogCommand, key: Option<String>, remote: &Remote) -> Result<()> {
    if let LogCommand::WitnessKeygen { name, out } = &command {
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
        let signer = weir_tlog::note::Signer::from_seed(name, seed).map_err(|e| anyhow!("{e}"))?;
        write_secret(out, signer.skey().as_bytes())?;
        let cosigner = weir_tlog::checkpoint::Cosigner::new(name, signer.verifier_public())
            .map_err(|e| anyhow!("{e}"))?;
        println!("{}", cosigner.vkey());
        return Ok(());
    }
    let client = client(remote)?;
    let dir = log_state_dir(&remote.server)?;
    let pinned_path = dir.join("vkey");
    let pinned = std::fs::read_to_string(&pinned_path)
        .ok()
        .map(|s| s.trim().to_string());
    let vkey = match (key, pinned) {
        (Some(k), Some(p)) if k.trim() != p => bail!(
            "--key differs from the key pinned for {} ({}); remove {} to re-pin",
            remote.server,
            p,
            pinned_path.display()
        ),
        (Some(k), _) => k.trim().to_string(),
        (None, Some(p)) => p,
        (None, None) => {
            let k = client.log_vkey().await?;
            weir_tlog::note::Verifier::parse(&k)
                .map_err(|e| anyhow!("the server's log key is invalid: {e}"))?;
            std::fs::write(&pinned_path, format!("{k}\n"))
                .with_context(|| format!("writing {}", pinned_path.display()))?;
            eprintln!(
                "pinned the log key of {} on first use: {k} (pass --key to pin one you obtained out of band)",
                remote.server
            );
            k
        }
    };
    if !pinned_path.exists() {
        std::fs::write(&pinned_path, format!("{vkey}\n"))
            .with_context(|| format!("writing {}", pinned_path.display()))?;
    }
    match command {
        LogCommand::Checkpoint => {
            let (_, text) = client.log_checkpoint(&vkey).await?;
            print!("{text}");
        }
        LogCommand::Prove { index, out } => {
            let (proof, entry) = client.log_prove(&vkey, index).await?;
            println!(
                "entry {index} is in the log (tree size {}): {}",
                weir_tlog::checkpoint::Checkpoint::parse_body(
                    &weir_tlog::note::Note::parse(&proof.checkpoint)
                        .map_err(|e| anyhow!("{e}"))?
                        .text
                )
                .map_err(|e| anyhow!("{e}"))?
                .size,
                String::from_utf8_lossy(&entry)
            );
            if let Some(out) = out {
                std::fs::write(&out, proof.to_text())
                    .with_context(|| format!("writing {}", out.display()))?;
                println!("proof written to {}", out.display());
            }
        }
        LogCommand::Verify => {
            let seen_path = dir.join("checkpoint");
            let seen = std::fs::read_to_string(&seen_path).ok();
            let check = client.verify_log(&vkey, seen.as_deref()).await?;
            std::fs::write(&seen_path, &check.text)
                .with_context(|| format!("writing {}", seen_path.display()))?;
            match check.consistent_with {
                Some(old) => println!(
                    "log of {} verified: size {} is consistent with the size {old} seen before",
                    remote.server, check.checkpoint.size
                ),
                None => println!(
                    "log of {} verified at size {}; remembered for the next check",
                    remote.server, check.checkpoint.size
                ),
            }
        }
        LogCommand::WitnessKeygen { .. } => unreachable!("handled before pinning"),
        LogCommand::Witness {
            witness_key,
            once,
            interval,
        } => {
            let text = std::fs::read_to_string(&witness_key)
                .with_context(|| format!("reading {}", witness_key.display()))?;
            let signer = weir_tlog::note::Signer::parse(&text)
                .map_err(|e| anyhow!("{}: {e}", witness_key.display()))?;
            let seen_path = dir.join(format!(
                "witness-{}.checkpoint",
                signer.name().replace('/', "_")
            ));
            loop {
                let seen = std::fs::read_to_string(&seen_path).ok();
                let check = client.verify_log(&vkey, seen.as_deref()).await?;
                std::fs::write(&seen_path, &check.text)
                    .with_context(|| format!("writing {}", seen_path.display()))?;
                let note = weir_tlog::note::Note::parse(&check.text).map_err(|e| anyhow!("{e}"))?;
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let line = weir_tlog::checkpoint::cosign(&note.text, &signer, now).line();
                let out = client.submit_cosignature(&line).await?;
                println!(
                    "{} (consistent with {})",
                    out.trim(),
                    check
                        .consistent_with
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "nothing seen before".into())
                );
                if once {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_secs(interval.max(1))).await;
            }
        }
        LogCommand::Audit => {
            let a = client.audit_log(&vkey).await?;
            println!(
                "audited {} entries: the entry bundles rebuild the signed root and all {} tiles match",
                a.entries, a.tiles
            );
        }
    }
    Ok(())
}

fn token_file() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("WEIR_CONFIG_DIR") {
        return Some(PathBuf::from(dir).join("token"));
    }
    std::env::var("HOME")
        .ok()
        .map(|h| PathBuf::from(h).join(".config").join("weir").join("token"))
}

fn client(remote: &Remote) -> Result<Client> {
    let token = match &remote.token {
        Some(t) => Some(t.clone()),
        None => token_file()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|t| t.trim().to_string()),
    };
    Ok(Client::new(&remote.server, token)?)
}

async fn login(token: Option<String>, server: &str) -> Result<()> {
    let token = match token {
        Some(t) => t,
        None => {
            eprintln!("paste your token and press enter:");
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the token from stdin")?;
            line.trim().to_string()
        }
    };
    let client = Client::new(server, Some(token.clone()))?;
    let name = client
        .whoami()
        .await
        .context("the server did not accept this token")?;
    let path =
        token_file().ok_or_else(|| anyhow!("cannot find a config dir; set WEIR_CONFIG_DIR"))?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    write_secret(&path, token.as_bytes())?;
    println!(
        "logged in to {server} as {name}; token saved to {}",
        path.display()
    );
    Ok(())
}

/// Writes a secret file with 0600 permissions.
/// Writes a new Ed25519 key pair: OUT (secret hex, 0600) and OUT.pub (public hex), and says
/// which operator command registers the public half.
fn ed25519_keygen(out: &Path, role: &str) -> Result<()> {
    let (secret, public) = weir_signing::generate_key();
    write_secret(out, secret.as_bytes())?;
    let pub_path = PathBuf::from(format!("{}.pub", out.display()));
    std::fs::write(&pub_path, format!("{public}\n"))
        .with_context(|| format!("writing {}", pub_path.display()))?;
    println!(
        "secret key: {} (keep it safe)\npublic key: {} (give it to the operator: weir admin {role} add NAME --key {})",
        out.display(),
        pub_path.display(),
        pub_path.display()
    );
    Ok(())
}

fn write_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

/// The upload-link key: 32 random bytes in `DATA/secrets/upload.key` (0600), made on first start.
fn upload_key(data: &Path) -> Result<Vec<u8>> {
    let dir = data.join("secrets");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("upload.key");
    match std::fs::read(&path) {
        Ok(k) if k.len() == 32 => Ok(k),
        Ok(_) => bail!(
            "{} is not a 32-byte key; delete it to make a new one",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut k = vec![0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut k);
            write_secret(&path, &k)?;
            Ok(k)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The log's signed-note key in `DATA/secrets/log.key` (Go's signer-key format, 0600), made on
/// first start for the origin. A log's origin never changes.
fn log_key(data: &Path, origin: &str) -> Result<weir_tlog::note::Signer> {
    let path = data.join("secrets").join("log.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let signer = weir_tlog::note::Signer::parse(&text)
                .map_err(|e| anyhow!("{}: {e}", path.display()))?;
            if signer.name() != origin {
                bail!(
                    "the log key in {} is for origin {}, but --public-url gives {origin}; a log's origin never changes, so serve under the same public URL",
                    path.display(),
                    signer.name()
                );
            }
            Ok(signer)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut seed = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
            let signer =
                weir_tlog::note::Signer::from_seed(origin, seed).map_err(|e| anyhow!("{e}"))?;
            std::fs::create_dir_all(data.join("secrets"))?;
            write_secret(&path, signer.skey().as_bytes())?;
            Ok(signer)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The P-256 release-signing key in `DATA/secrets/release.key` (PKCS#8 PEM, 0600).
fn release_key(data: &Path) -> Result<weir_signing::model_signing::ReleaseKey> {
    use weir_signing::model_signing::ReleaseKey;
    let path = data.join("secrets").join("release.key");
    match std::fs::read_to_string(&path) {
        Ok(pem) => ReleaseKey::from_pkcs8_pem(&pem).map_err(|e| anyhow!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let k = ReleaseKey::generate();
            std::fs::create_dir_all(data.join("secrets"))?;
            write_secret(
                &path,
                k.to_pkcs8_pem().map_err(|e| anyhow!("{e}"))?.as_bytes(),
            )?;
            Ok(k)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

async fn open_store(data: &Path) -> Result<Store> {
    Store::open_data_dir(data)
        .await
        .with_context(|| format!("opening the data dir {}", data.display()))
}

async fn serve(serve_args: ServeArgs) -> Result<()> {
    let args = config::load(&serve_args.config)?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WEIR_LOG")
                .unwrap_or_else(|_| "weir=info,weir_server=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let store = open_store(&args.data).await?;
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", args.listen))
        .trim_end_matches('/')
        .to_string();
    if store.db.count_admin_tokens().await? == 0 {
        let admin = Name::parse("admin").map_err(|e| anyhow!("{e}"))?;
        if store.db.account("admin").await?.is_none() {
            store.db.create_user(&admin, None, true).await?;
        }
        let token = store
            .db
            .create_token(&admin, Scope::Admin, "initial admin")
            .await?;
        println!(
            "created the operator account 'admin'. Its token is shown only now; keep it safe:\n  {token}\n"
        );
    }
    if !weir_registry::settings::valid_osv_prefix(&args.osv_prefix) {
        bail!(
            "--osv-prefix {:?} is not a local OSV prefix; use x_ followed by letters, digits or underscores (e.g. x_WEIR)",
            args.osv_prefix
        );
    }
    let release_key = release_key(&args.data)?;
    let log_signer = log_key(
        &args.data,
        &weir_registry::settings::log_origin(&public_url),
    )?;
    if serve_args.demo {
        demo::seed(
            &store,
            &args.data,
            &public_url,
            &release_key,
            &log_signer,
            &args.osv_prefix,
        )
        .await?;
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}; pick another address with --listen",
                args.listen
            )
        })?;
    let state = AppState::new(
        store,
        ServerConfig {
            public_url: public_url.clone(),
            upload_key: upload_key(&args.data)?,
            upload_link_ttl_secs: args.upload_link_ttl_secs,
            log_signer,
            log_interval_ms: args.log_interval_ms,
            release_key,
            osv_prefix: args.osv_prefix.clone(),
            allow_private_webhooks: args.allow_private_webhooks,
            limits: weir_server::conn::ServeLimits {
                max_connections: args.max_connections,
                header_read_timeout: std::time::Duration::from_secs(args.header_read_timeout),
                idle_timeout: std::time::Duration::from_secs(args.idle_timeout),
                max_connections_per_address: args.max_connections_per_address,
                stall_timeout: std::time::Duration::from_secs(args.stall_timeout),
                ..Default::default()
            },
        },
    );
    println!(
        "weir is serving {} on {} (data: {})",
        public_url,
        args.listen,
        args.data.display()
    );
    println!(
        "  Hugging Face clients: export HF_ENDPOINT={public_url}  (uploads also need HF_HUB_DISABLE_XET=1)"
    );
    let shutdown = async {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let term = async {
            if let Ok(mut s) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            {
                s.recv().await;
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    };
    weir_server::serve(listener, state, shutdown).await?;
    Ok(())
}

/// Operator changes made on the data dir are events too.
async fn record_admin(
    store: &Store,
    action: &str,
    subject: Option<&str>,
    reason: &str,
) -> Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let e = weir_core::Event {
        at: now,
        actor: Some("operator".into()),
        action: action.into(),
        repo: None,
        subject: subject.map(str::to_string),
        decision: "change".into(),
        reason: reason.into(),
        request_id: None,
        user_agent: Some("weir admin".into()),
        details: serde_json::json!({}),
    };
    store.db.record_event(&e).await?;
    Ok(())
}

async fn admin(data: &Path, command: AdminCommand) -> Result<()> {
    let store = open_store(data).await?;
    let parse_name = |s: &str| Name::parse(s).map_err(|e| anyhow!("{e}"));
    match command {
        AdminCommand::Gc {
            grace_hours,
            dry_run,
        } => {
            let r = store
                .collect_garbage(
                    time::OffsetDateTime::now_utc().unix_timestamp(),
                    std::time::Duration::from_secs(grace_hours.saturating_mul(3600)),
                    dry_run,
                )
                .await
                .map_err(|e| anyhow!("{e}"))?;
            println!(
                "{}{} blobs and {} leftover files ({} bytes); {} uncommitted uploads forgotten",
                if dry_run { "would remove " } else { "removed " },
                r.blobs_removed,
                r.orphan_files_removed,
                r.bytes_freed,
                r.uploads_forgotten
            );
        }
        AdminCommand::Evaluator { command } => evals::admin_evaluator(&store, command).await?,
        AdminCommand::Suite { command } => evals::admin_suite(&store, command).await?,
        AdminCommand::Policy { command } => evals::admin_policy(&store, data, command).await?,
        AdminCommand::User {
            command: UserCommand::Add { name, email },
        } => {
            let n = parse_name(&name)?;
            store
                .db
                .create_user(&n, email.as_deref(), false)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            println!("created user {n}");
        }
        AdminCommand::Org {
            command: OrgCommand::Add { name, members },
        } => {
            let n = parse_name(&name)?;
            store.db.create_org(&n).await.map_err(|e| anyhow!("{e}"))?;
            for (i, m) in members.iter().enumerate() {
                let m = parse_name(m)?;
                let role = if i == 0 { "owner" } else { "member" };
                store.db.add_member(&n, &m, role).await.map_err(|e| {
                    anyhow!("{e}; create the user first with 'weir admin user add {m}'")
                })?;
            }
            println!("created org {n} with {} member(s)", members.len());
        }
        AdminCommand::Token {
            command: TokenCommand::Create { user, scope, name },
        } => {
            let u = parse_name(&user)?;
            let scope = Scope::parse(&scope)
                .ok_or_else(|| anyhow!("unknown scope {scope:?}; use read, write or admin"))?;
            let token = store.db.create_token(&u, scope, &name).await.map_err(|e| {
                anyhow!("{e}; create the user first with 'weir admin user add {u}'")
            })?;
            println!("{token}");
        }
        AdminCommand::Identity {
            command:
                AdminIdentityCommand::Set {
                    user,
                    level,
                    country,
                    days,
                },
        } => {
            let u = parse_name(&user)?;
            let lv = weir_core::IdentityLevel::parse(&level).ok_or_else(|| {
                anyhow!(
                    "unknown level {level:?}; use account, affiliated, identified or accredited"
                )
            })?;
            let country = country
                .map(|c| {
                    weir_core::identity::parse_country(&c)
                        .ok_or_else(|| anyhow!("{c:?} is not a two-letter country code"))
                })
                .transpose()?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let expires = days.map(|d| now + i64::from(d) * 86_400);
            store
                .db
                .set_identity(&u, lv, country.as_deref(), expires)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            record_admin(&store, "identity.set", Some(u.as_str()), lv.as_str()).await?;
            println!("{u} is now {}", lv.as_str());
        }
        AdminCommand::Identity {
            command: AdminIdentityCommand::Revoke { attestation },
        } => {
            store
                .db
                .revoke_attestation(&attestation)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            record_admin(&store, "identity.revoke", None, &attestation).await?;
            println!(
                "revoked attestation {attestation}; grants that relied on it stop working now"
            );
        }
        AdminCommand::Verifier {
            command: VerifierCommand::Add { name, key },
        } => {
            let n = parse_name(&name)?;
            let hex_key = std::fs::read_to_string(&key)
                .with_context(|| format!("reading {}", key.display()))?;
            weir_signing::public_key(&hex_key).map_err(|e| {
                anyhow!(
                    "{}: {e}; use the .pub file from 'weir identity keygen'",
                    key.display()
                )
            })?;
            store
                .db
                .add_verifier(&n, hex_key.trim())
                .await
                .map_err(|e| anyhow!("{e}"))?;
            record_admin(&store, "verifier.add", None, n.as_str()).await?;
            println!("registered verifier {n}");
        }
        AdminCommand::PublisherKey {
            command: PublisherKeyCommand::Set { namespace, key },
        } => {
            let ns = parse_name(&namespace)?;
            if store.db.account(ns.as_str()).await?.is_none() {
                bail!("no user or org {ns}; create it first");
            }
            let pem = std::fs::read_to_string(&key)
                .with_context(|| format!("reading {}", key.display()))?;
            weir_signing::model_signing::check_public_key(&pem)
                .map_err(|e| anyhow!("{}: {e}", key.display()))?;
            store.db.set_publisher_key(ns.as_str(), &pem).await?;
            record_admin(&store, "publisher_key.set", Some(ns.as_str()), "set").await?;
            println!("registered the model-signing key of {ns}");
        }
        AdminCommand::Witness {
            command: WitnessCommand::Add { name, key },
        } => {
            let c = weir_tlog::checkpoint::Cosigner::parse(&key).map_err(|e| {
                anyhow!("{e}; use the cosigner key printed by 'weir log witness-keygen'")
            })?;
            if !key.trim().starts_with(&format!("{name}+")) {
                bail!("the key is for another name than {name}");
            }
            store
                .db
                .add_witness(&name, &c.vkey())
                .await
                .map_err(|e| anyhow!("{e}"))?;
            record_admin(&store, "witness.add", None, &name).await?;
            println!("registered witness {name}");
        }
        AdminCommand::Verifier {
            command: VerifierCommand::Revoke { name },
        } => {
            store
                .db
                .revoke_verifier(&name)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            record_admin(&store, "verifier.revoke", None, &name).await?;
            println!("revoked verifier {name}; its attestations no longer count");
        }
    }
    store.db.close().await;
    Ok(())
}
