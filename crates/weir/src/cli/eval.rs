//! `weir eval`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;

use weir_core::eval::ResultRecord;
use weir_wire::evals::EvalResult;

use super::{Remote, client, repo_id, split_rev};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: EvalCommand,
    #[command(flatten)]
    remote: Remote,
}

#[derive(Subcommand)]
pub enum EvalCommand {
    /// Import a harness log (lm-eval results JSON, Inspect .eval or .json) for NS/NAME@REV.
    /// With --evaluator and --key, also sign the result as that accredited evaluator.
    Import {
        file: PathBuf,
        /// NS/NAME[@REV] (default revision: main)
        repo: String,
        #[arg(long)]
        suite: String,
        #[arg(long, requires = "key")]
        evaluator: Option<String>,
        /// The evaluator's Ed25519 secret key file (from 'weir eval keygen').
        #[arg(long, requires = "evaluator")]
        key: Option<PathBuf>,
    },
    /// (accredited evaluator) Sign result ID and submit the signature.
    Submit {
        id: String,
        #[arg(long)]
        evaluator: String,
        #[arg(long)]
        key: PathBuf,
        /// The raw log: refuse to sign unless the result matches what it says.
        #[arg(long)]
        log: Option<PathBuf>,
    },
    /// Show one result.
    Show { id: String },
    /// List a model's results.
    List { repo: String },
    /// The evaluation suites this registry knows.
    Suites,
    /// (evaluator) Make an Ed25519 key pair: OUT (secret, 0600) and OUT.pub for the operator.
    Keygen { out: PathBuf },
}

pub async fn run(args: Args) -> Result<()> {
    let Args { command, remote } = args;
    eval(command, &remote).await
}

pub fn load_secret(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

async fn eval(command: EvalCommand, remote: &Remote) -> Result<()> {
    match command {
        EvalCommand::Keygen { out } => super::ed25519_keygen(&out, "evaluator")?,
        EvalCommand::Import {
            file,
            repo,
            suite,
            evaluator,
            key,
        } => {
            let (r, rev) = split_rev(&repo);
            let id = repo_id(r)?;
            let c = client(remote)?;
            let v = c.import_eval(&id, rev, &suite, &file).await?;
            print_result(&v);
            if let (Some(evaluator), Some(key)) = (evaluator, key) {
                let s = c
                    .sign_eval(&v.id, &evaluator, &load_secret(&key)?, Some(&file))
                    .await?;
                println!("signed by {}", s.evaluator.as_deref().unwrap_or("?"));
            } else {
                println!(
                    "unsigned: it counts once an accredited evaluator signs it (weir eval submit {} --evaluator NAME --key FILE)",
                    v.id
                );
            }
        }
        EvalCommand::Submit {
            id,
            evaluator,
            key,
            log,
        } => {
            let v = client(remote)?
                .sign_eval(&id, &evaluator, &load_secret(&key)?, log.as_deref())
                .await?;
            print_result(&v);
            println!("signed by {}", v.evaluator.as_deref().unwrap_or("?"));
        }
        EvalCommand::Show { id } => {
            let v = client(remote)?.eval_result(&id).await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        EvalCommand::List { repo } => {
            let id = repo_id(&repo)?;
            let c = client(remote)?;
            for r in &c.eval_results(&id).await?.results {
                print_result(r);
            }
        }
        EvalCommand::Suites => {
            for s in client(remote)?.suites().await?.suites {
                println!(
                    "{} v{}  domain {}  metric {}  chance {}  questions {}{}  tasks {}",
                    s.name,
                    s.version,
                    s.domain,
                    s.metric,
                    s.chance,
                    s.questions,
                    s.original_questions
                        .map(|o| format!(" (or {o})"))
                        .unwrap_or_default(),
                    s.tasks.join(", ")
                );
            }
        }
    }
    Ok(())
}

fn print_result(v: &EvalResult) {
    let Ok(rec) = serde_json::from_str::<ResultRecord>(&v.payload) else {
        println!("result {} (its payload is not a result record)", v.id);
        return;
    };
    println!(
        "result {}\n  {}@{} suite {} ({}): {} {} = {} on n={} [{} {}]\n  raw log sha256 {}{}",
        v.id,
        rec.repo,
        v.commit.get(..12).unwrap_or(&v.commit),
        rec.suite,
        rec.domain.as_str(),
        rec.task,
        rec.metric,
        rec.value,
        rec.n,
        rec.harness.as_str(),
        rec.harness_version,
        rec.raw_log_sha256,
        if rec.partial.is_empty() {
            String::new()
        } else {
            format!("\n  PARTIAL (never counts): {}", rec.partial.join("; "))
        }
    );
}
