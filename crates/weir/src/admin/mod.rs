//! `weir admin`: operator tasks on a data dir, one module per command. Each governance change
//! (orgs and their members, identity, verifiers, keys, witnesses, evaluators, suites, the
//! policy) is recorded as an event in the transaction that makes it; creating users and tokens
//! is not yet.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;

pub mod backup;
pub mod board;
pub mod checker;
pub mod evaluator;
pub mod events;
pub mod gc;
pub mod identity;
pub mod org;
pub mod policy;
pub mod publisher_key;
pub mod restore;
pub mod suite;
pub mod token;
pub mod user;
pub mod verifier;
pub mod witness;

use crate::cli::open_store;

#[derive(clap::Args)]
pub struct Args {
    /// The data dir of the registry.
    #[arg(long, env = "WEIR_DATA", default_value = "./weir-data")]
    data: PathBuf,
    /// The registry's database when it is not the data dir's SQLite file:
    /// postgres://USER@HOST:PORT/DB.
    #[arg(long, env = "WEIR_DATABASE", hide_env_values = true)]
    database: Option<String>,
    /// The registry's blobs when on an S3-compatible store: s3://BUCKET[/PREFIX] (with
    /// WEIR_S3_ENDPOINT, WEIR_S3_REGION, WEIR_S3_ACCESS_KEY_ID and
    /// WEIR_S3_SECRET_ACCESS_KEY_FILE, or the AWS_* variables).
    #[arg(long, env = "WEIR_BLOBS")]
    blobs: Option<String>,
    #[arg(long, env = "WEIR_S3_ENDPOINT", hide = true)]
    s3_endpoint: Option<String>,
    #[arg(long, env = "WEIR_S3_REGION", hide = true)]
    s3_region: Option<String>,
    #[arg(long, env = "WEIR_S3_ACCESS_KEY_ID", hide = true)]
    s3_access_key_id: Option<String>,
    #[arg(long, env = "WEIR_S3_SECRET_ACCESS_KEY_FILE", hide = true)]
    s3_secret_access_key_file: Option<PathBuf>,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Users.
    User {
        #[command(subcommand)]
        command: user::UserCommand,
    },
    /// Organizations.
    Org {
        #[command(subcommand)]
        command: org::OrgCommand,
    },
    /// API tokens.
    Token {
        #[command(subcommand)]
        command: token::TokenCommand,
    },
    /// Identity levels (operator shortcut for demos and tests).
    Identity {
        #[command(subcommand)]
        command: identity::AdminIdentityCommand,
    },
    /// Accredited identity verifiers.
    Verifier {
        #[command(subcommand)]
        command: verifier::VerifierCommand,
    },
    /// Publishers' own model-signing keys.
    PublisherKey {
        #[command(subcommand)]
        command: publisher_key::PublisherKeyCommand,
    },
    /// Transparency-log witnesses whose cosignatures the registry attaches to its checkpoints.
    Witness {
        #[command(subcommand)]
        command: witness::WitnessCommand,
    },
    /// Accredited evaluators, whose signed results can count.
    Evaluator {
        #[command(subcommand)]
        command: evaluator::EvaluatorCommand,
    },
    /// The consortium board (k-of-n decisions).
    Board {
        #[command(subcommand)]
        command: board::BoardAdminCommand,
    },
    /// Designated output checkers of the research environment.
    Checker {
        #[command(subcommand)]
        command: checker::CheckerCommand,
    },
    /// Evaluation suites.
    Suite {
        #[command(subcommand)]
        command: suite::SuiteCommand,
    },
    /// The classification policy (versioned TOML, signed and logged).
    Policy {
        #[command(subcommand)]
        command: policy::PolicyCommand,
    },
    /// The recorded events, newest first: filter by repo, actor, action and time; a table,
    /// NDJSON or CSV.
    Events(events::Args),
    /// Remove blobs nothing refers to (refused commits, abandoned uploads, failed imports,
    /// crash leftovers) that are older than the grace period. Safest with the server stopped.
    Gc(gc::Args),
    /// Back the registry up into OUT (a new directory, 0700): a copy of the database at one
    /// moment (the server may keep running), every blob it knows, checked, and the keys.
    Backup { out: PathBuf },
    /// Restore a backup into --data, which must not exist or be empty; everything is checked
    /// before a file is written. Serve it under the same public URL (the log's origin).
    Restore { input: PathBuf },
}

/// What a board decides instead of the operator, when one governs.
fn board_decides(command: &AdminCommand) -> Option<&'static str> {
    match command {
        AdminCommand::Policy {
            command: policy::PolicyCommand::Set { .. },
        } => Some("weir board propose policy-set FILE"),
        AdminCommand::Evaluator {
            command: evaluator::EvaluatorCommand::Add { .. },
        } => Some("weir board propose evaluator-add NAME --key FILE"),
        AdminCommand::Evaluator {
            command: evaluator::EvaluatorCommand::Revoke { .. },
        } => Some("weir board propose evaluator-revoke NAME"),
        AdminCommand::Verifier {
            command: verifier::VerifierCommand::Add { .. },
        } => Some("weir board propose verifier-add NAME --key FILE"),
        AdminCommand::Verifier {
            command: verifier::VerifierCommand::Revoke { .. },
        } => Some("weir board propose verifier-revoke NAME"),
        AdminCommand::Suite {
            command: suite::SuiteCommand::Add(_),
        } => Some(
            "weir board propose suite-add NAME --domain … --chance … --questions … --task … --source …",
        ),
        _ => None,
    }
}

/// The S3 settings the admin flags and `WEIR_S3_*` variables give, when `--blobs` is set.
fn s3_settings(args: &Args) -> Result<Option<weir_store::S3Settings>> {
    crate::config::s3_settings(&crate::config::Config {
        blobs: args.blobs.clone(),
        s3_endpoint: args.s3_endpoint.clone(),
        s3_region: args.s3_region.clone(),
        s3_access_key_id: args.s3_access_key_id.clone(),
        s3_secret_access_key_file: args.s3_secret_access_key_file.clone(),
        ..crate::config::Config::default()
    })
}

pub async fn run(args: Args) -> Result<()> {
    // A restore writes a data dir that does not exist yet: nothing is opened before it.
    match &args.command {
        AdminCommand::Restore { .. } | AdminCommand::Backup { .. }
            if args.blobs.is_some() && args.database.is_none() =>
        {
            anyhow::bail!(
                "a backup of blobs on S3 is taken with the database on PostgreSQL (--database); an embedded SQLite registry keeps its blobs in its data dir"
            )
        }
        AdminCommand::Restore { input } => {
            let s3 = s3_settings(&args)?;
            let target = restore::Target {
                database: args.database.as_deref(),
                blobs: s3.as_ref(),
            };
            return restore::run(&args.data, input, target).await;
        }
        AdminCommand::Backup { out } => {
            return match &args.database {
                Some(url) => {
                    backup::run_postgres(&args.data, out, url, s3_settings(&args)?.as_ref()).await
                }
                None => backup::run(&args.data, out).await,
            };
        }
        _ => {}
    }
    let s3 = s3_settings(&args)?;
    let store = open_store(&args.data, args.database.as_deref(), s3.as_ref()).await?;
    if let Some(instead) = board_decides(&args.command)
        && weir_registry::board::governed(&store).await?
    {
        anyhow::bail!(
            "a board governs this registry: this change needs its k-of-n decision; propose it with: {instead}"
        );
    }
    match args.command {
        AdminCommand::Board { command } => board::run(&store, command).await,
        AdminCommand::User { command } => user::run(&store, command).await,
        AdminCommand::Org { command } => org::run(&store, command).await,
        AdminCommand::Token { command } => token::run(&store, command).await,
        AdminCommand::Identity { command } => identity::run(&store, command).await,
        AdminCommand::Verifier { command } => verifier::run(&store, command).await,
        AdminCommand::PublisherKey { command } => publisher_key::run(&store, command).await,
        AdminCommand::Witness { command } => witness::run(&store, command).await,
        AdminCommand::Evaluator { command } => evaluator::run(&store, command).await,
        AdminCommand::Checker { command } => checker::run(&store, command).await,
        AdminCommand::Suite { command } => suite::run(&store, command).await,
        AdminCommand::Policy { command } => policy::run(&store, &args.data, command).await,
        AdminCommand::Events(a) => events::run(&store, a).await,
        AdminCommand::Gc(gc) => gc::run(&store, gc).await,
        AdminCommand::Backup { .. } | AdminCommand::Restore { .. } => Ok(()),
    }
}

/// Who acts in `weir admin`: the operator, through the CLI.
pub fn operator() -> weir_registry::Context {
    weir_registry::Context::local("operator", "weir admin")
}

/// The event of an operator change made on the data dir, committed with the change.
pub fn admin_event(action: &str, subject: Option<&str>, reason: &str) -> weir_core::Event {
    let mut e = weir_registry::Context::local("operator", "weir admin").event(
        weir_registry::clock::now(),
        action,
        None,
        reason,
        serde_json::json!({}),
    );
    e.subject = subject.map(str::to_string);
    e
}

pub fn raised_note(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!("; {n} repo(s) raised to their new minimum tier")
    }
}
