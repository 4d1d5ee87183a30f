//! weir: a self-hostable registry for open-weight AI models. This file only parses the command
//! line and dispatches: each verb is a module in `cli/` (client verbs and `serve`) or `admin/`.

mod admin;
mod cli;
mod config;
mod demo;

use clap::{Parser, Subcommand};

/// mimalloc rather than glibc's allocator: small requests allocate and free many short-lived
/// buffers across threads, and glibc's arenas spent a fifth of a gated download's CPU in
/// `malloc`, `free` and `malloc_consolidate` (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    Serve(cli::serve::Args),
    /// The effective configuration of `weir serve` (weir.toml < WEIR_* < flags), without secrets.
    Config(cli::config::Args),
    /// Operator tasks on a data dir (works while the server runs).
    Admin(admin::Args),
    /// Save a token for the client verbs (read from stdin when --token is not given).
    Login(cli::login::Args),
    /// Upload a directory as a commit on a branch (creates the repo if needed).
    Push(cli::push::Args),
    /// Download a revision into a directory, verifying every byte.
    Pull(cli::pull::Args),
    /// Access to gated repos: check, accept terms, request, status, review.
    Access(cli::access::Args),
    /// Risk tiers: raise yours; lowering needs an operator token and --reason.
    Tier(cli::tier::Args),
    /// Your API tokens (operators: anyone's): list and revoke.
    Token(cli::token::Args),
    /// Identity attestations: verifiers make keys and sign; users submit and show.
    Identity(cli::identity::Args),
    /// Custodial export of restricted (T3) weights under dual control.
    Export(cli::export::Args),
    /// Sign a revision (OpenSSF model-signing bundle) and announce it on the transparency log.
    Release(cli::release::Args),
    /// Check a model directory against DIR.sig (its signed manifest) and DIR.sig.tlog-proof.
    Verify(cli::verify::Args),
    /// The transparency log: checkpoints, inclusion proofs, consistency, full audit.
    Log(cli::log::Args),
    /// Evaluations: import harness logs, sign results as an accredited evaluator.
    Eval(cli::eval::Args),
    /// Explain NS/NAME[@REV]'s classification under the policy, rule by rule.
    Classify(cli::classify::Args),
    /// Evidence that a hazard domain cannot be ruled out: file, list, review (operators).
    Evidence(cli::evidence::Args),
    /// Export the EU GPAI Model Documentation Form fields the registry knows for NS/NAME[@REV].
    Doc(cli::doc::Args),
    /// Incidents: report (anyone), triage, confirm, mitigate, disclose; the OSV export.
    Incident(cli::incident::Args),
    /// Publishers' public accountability records.
    Publisher(cli::publisher::Args),
    /// Your notifications (e.g. an incident on a revision you downloaded) and your webhook.
    Notifications(cli::notifications::Args),
    /// (operator) Sign off releasing NS/NAME@REV for a publisher on probation.
    Signoff(cli::signoff::Args),
    /// Research projects in the secure research environment: apply, review (operators), show.
    Project(cli::project::Args),
    /// Jobs in the secure research environment: submit, status, list, log, logs, outputs, review.
    Job(cli::job::Args),
    /// Public-interest compute grants: calls, applications, reviews, awards, usage.
    Grant(cli::grant::Args),
    /// The consortium board's k-of-n decisions: propose, sign, verify from the log.
    Board(cli::board::Args),
    /// Funding pools: pledges, bounty payouts, disbursements, statements.
    Pool(cli::pool::Args),
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
    match rt.block_on(run(cli.command)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // A deny was explained on stdout; only the exit code says it.
        Err(e) if e.is::<cli::Denied>() => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => cli::serve::run(args).await,
        Command::Config(args) => cli::config::run(args).await,
        Command::Admin(args) => admin::run(args).await,
        Command::Login(args) => cli::login::run(args).await,
        Command::Push(args) => cli::push::run(args).await,
        Command::Pull(args) => cli::pull::run(args).await,
        Command::Access(args) => cli::access::run(args).await,
        Command::Tier(args) => cli::tier::run(args).await,
        Command::Token(args) => cli::token::run(args).await,
        Command::Identity(args) => cli::identity::run(args).await,
        Command::Export(args) => cli::export::run(args).await,
        Command::Release(args) => cli::release::run(args).await,
        Command::Verify(args) => cli::verify::run(args).await,
        Command::Log(args) => cli::log::run(args).await,
        Command::Eval(args) => cli::eval::run(args).await,
        Command::Classify(args) => cli::classify::run(args).await,
        Command::Evidence(args) => cli::evidence::run(args).await,
        Command::Doc(args) => cli::doc::run(args).await,
        Command::Incident(args) => cli::incident::run(args).await,
        Command::Publisher(args) => cli::publisher::run(args).await,
        Command::Notifications(args) => cli::notifications::run(args).await,
        Command::Signoff(args) => cli::signoff::run(args).await,
        Command::Project(args) => cli::project::run(args).await,
        Command::Job(args) => cli::job::run(args).await,
        Command::Grant(args) => cli::grant::run(args).await,
        Command::Board(args) => cli::board::run(args).await,
        Command::Pool(args) => cli::pool::run(args).await,
    }
}
