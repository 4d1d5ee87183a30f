//! `weir eval`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;
use serde_json::Value;

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
                let rid = v["id"].as_str().unwrap_or_default();
                let s = c
                    .sign_eval(rid, &evaluator, &load_secret(&key)?, Some(&file))
                    .await?;
                println!("signed by {}", s["evaluator"].as_str().unwrap_or("?"));
            } else {
                println!(
                    "unsigned: it counts once an accredited evaluator signs it (weir eval submit {} --evaluator NAME --key FILE)",
                    v["id"].as_str().unwrap_or("ID")
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
            println!("signed by {}", v["evaluator"].as_str().unwrap_or("?"));
        }
        EvalCommand::Show { id } => {
            let v = client(remote)?.eval_result(&id).await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        EvalCommand::List { repo } => {
            let id = repo_id(&repo)?;
            let c = client(remote)?;
            let v = c.get(&format!("/api/v1/models/{id}/evaluations")).await?;
            for r in v["results"].as_array().into_iter().flatten() {
                print_result(r);
            }
        }
        EvalCommand::Suites => {
            let v = client(remote)?.get("/api/v1/eval/suites").await?;
            for s in v["suites"].as_array().into_iter().flatten() {
                println!(
                    "{} v{}  domain {}  metric {}  chance {}  questions {}{}  tasks {}",
                    s["name"].as_str().unwrap_or("?"),
                    s["version"],
                    s["domain"].as_str().unwrap_or("?"),
                    s["metric"].as_str().unwrap_or("?"),
                    s["chance"],
                    s["questions"],
                    s["original_questions"]
                        .as_i64()
                        .map(|o| format!(" (or {o})"))
                        .unwrap_or_default(),
                    s["tasks"]
                        .as_array()
                        .map(|t| t
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", "))
                        .unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}

fn print_result(v: &Value) {
    let rec = &v["record"];
    let partial: Vec<&str> = rec["partial"]
        .as_array()
        .map(|p| p.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    println!(
        "result {}\n  {}@{} suite {} ({}): {} {} = {} on n={} [{} {}]\n  raw log sha256 {}{}",
        v["id"].as_str().unwrap_or("?"),
        rec["repo"].as_str().unwrap_or("?"),
        v["commit"]
            .as_str()
            .map(|c| &c[..c.len().min(12)])
            .unwrap_or("?"),
        rec["suite"].as_str().unwrap_or("?"),
        rec["domain"].as_str().unwrap_or("?"),
        rec["task"].as_str().unwrap_or("?"),
        rec["metric"].as_str().unwrap_or("?"),
        rec["value"],
        rec["n"],
        rec["harness"].as_str().unwrap_or("?"),
        rec["harness_version"].as_str().unwrap_or("?"),
        rec["raw_log_sha256"].as_str().unwrap_or("?"),
        if partial.is_empty() {
            String::new()
        } else {
            format!("\n  PARTIAL (never counts): {}", partial.join("; "))
        }
    );
}
