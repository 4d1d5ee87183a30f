//! `weir job`: jobs in the secure research environment.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use clap::Subcommand;

use weir_wire::jobs::{FileVote, Job, JobInput, JobSubmission, OutputReview};

use super::{Remote, client, split_rev};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: JobCommand,
    #[command(flatten)]
    remote: Remote,
}

#[derive(Subcommand)]
pub enum JobCommand {
    /// Submit a job on NS/NAME[@REV] under a project: weir job submit acme/m --project lab/p
    /// --kind command --code ./src -- /usr/bin/python3 /job/main.py
    Submit {
        model: String,
        #[arg(long)]
        project: String,
        /// generate | mcq | logits | command
        #[arg(long, default_value = "command")]
        kind: String,
        /// A file or directory placed under /job (read-only inside; repeatable).
        #[arg(long = "code")]
        code: Vec<PathBuf>,
        /// The built-in kinds' input, sent as /job/input.jsonl (JSON lines: {"prompt"} for
        /// generate and logits, {"question","choices","answer"} for mcq).
        #[arg(long)]
        input: Option<PathBuf>,
        /// The kind's parameters as JSON (generate: max_tokens, temperature, seed; mcq: task;
        /// logits: top_k).
        #[arg(long)]
        params: Option<String>,
        /// The command's argv inside the sandbox (after --), an absolute path first.
        #[arg(last = true)]
        argv: Vec<String>,
    },
    /// Run a job on your own machine against a public stand-in (or any local weights): the same
    /// runner and the same layout as inside the research environment, so what you develop here
    /// runs there unchanged.
    Run {
        /// Required: this runs here, not in the registry.
        #[arg(long, required = true)]
        local: bool,
        /// generate | mcq | logits | command
        #[arg(long)]
        kind: String,
        /// The project whose public stand-in to pull and run against.
        #[arg(long, conflicts_with = "weights")]
        project: Option<String>,
        /// Weights already on disk (a directory with config.json, tokenizer.json, *.safetensors).
        #[arg(long)]
        weights: Option<PathBuf>,
        /// The built-in kinds' input (JSON lines: {"prompt"} or {"question","choices","answer"}).
        #[arg(long)]
        input: Option<PathBuf>,
        /// The kind's parameters as JSON (generate: max_tokens, temperature, seed; mcq: task;
        /// logits: top_k).
        #[arg(long)]
        params: Option<String>,
        /// command jobs: files or directories placed under /job.
        #[arg(long = "code")]
        code: Vec<PathBuf>,
        /// Where the outputs go.
        #[arg(long)]
        out: PathBuf,
        /// command jobs: the argv, after --.
        #[arg(last = true)]
        argv: Vec<String>,
    },
    /// A job's state, metering, held outputs and their findings.
    Status { id: i64 },
    /// A project's jobs.
    List {
        #[arg(long)]
        project: String,
    },
    /// The public job log: every job on a model you may see.
    Log,
    /// A job's stdout and stderr, once they may leave.
    Logs { id: i64 },
    /// Download a job's released outputs into DIR (default ./job-ID).
    Outputs { id: i64, dir: Option<PathBuf> },
    /// Cancel a queued or running job.
    Cancel { id: i64 },
    /// (output checker) The jobs whose outputs await your review, oldest first.
    Pending,
    /// (output checker) Vote on every held file: --vote PATH=approve|request_changes|reject.
    Review {
        id: i64,
        #[arg(long = "vote", required_unless_present = "all")]
        votes: Vec<String>,
        /// The same vote on every held file.
        #[arg(long)]
        all: Option<String>,
        /// The reason (needed for request_changes and reject).
        #[arg(long, default_value = "")]
        reason: String,
    },
}

/// Files under `path` (a file, or a directory walked without following links), with their
/// names relative to it.
fn code_files(path: &Path, out: &mut Vec<JobInput>) -> Result<()> {
    let meta =
        std::fs::symlink_metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if meta.is_file() {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| anyhow!("{}: not a UTF-8 file name", path.display()))?;
        out.push(input(name, path)?);
        return Ok(());
    }
    if !meta.is_dir() {
        bail!("--code {}: a file or a directory", path.display());
    }
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let p = e?.path();
            let m = std::fs::symlink_metadata(&p)?;
            if m.is_dir() {
                stack.push(p);
            } else if m.is_file() {
                let rel = p
                    .strip_prefix(path)
                    .ok()
                    .and_then(|r| r.to_str())
                    .ok_or_else(|| anyhow!("{}: not a UTF-8 path", p.display()))?
                    .to_string();
                out.push(input(&rel, &p)?);
            }
        }
    }
    Ok(())
}

fn input(rel: &str, path: &Path) -> Result<JobInput> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(JobInput {
        path: rel.to_string(),
        content_base64: base64::engine::general_purpose::STANDARD.encode(bytes),
    })
}

/// `weir-runner` beside this binary.
fn runner() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("finding this binary")?;
    let p = exe.with_file_name("weir-runner");
    if p.is_file() {
        Ok(p)
    } else {
        bail!(
            "{} not found: the built-in kinds need weir-runner beside weir (cargo build --release -p weir-runner)",
            p.display()
        )
    }
}

/// Pulls the public stand-in of `project` into the local cache; its directory.
async fn pull_standin(client: &weir_client::Client, project: &str) -> Result<PathBuf> {
    let p = client.project(project).await?;
    let standin = p
        .standin
        .ok_or_else(|| anyhow!("{project} names no stand-in; pass --weights DIR"))?;
    let id = weir_core::RepoId::parse(&standin).map_err(|e| anyhow!("{e}"))?;
    let base = std::env::var_os("WEIR_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("weir")))
        .unwrap_or_else(|| PathBuf::from(".weir-cache"));
    let dir = base
        .join("standins")
        .join(id.namespace.as_str())
        .join(id.name.as_str());
    let outcome = client
        .pull(
            &id,
            &dir,
            &weir_client::PullOptions {
                revision: "main".into(),
                parallel: 4,
                progress: false,
            },
        )
        .await?;
    println!("stand-in {standin}@{} in {}", outcome.commit, dir.display());
    Ok(dir)
}

/// A command job here: under bubblewrap as you, with the same layout as in the research
/// environment (`/weights` and `/job` read-only, `/out` writable, no network).
fn run_command_locally(
    weights: &Path,
    code: &[PathBuf],
    out: &Path,
    argv: &[String],
) -> Result<()> {
    if argv.is_empty() {
        bail!("a command job needs its argv after --, e.g. -- /usr/bin/python3 /job/main.py");
    }
    let job = tempfile::tempdir().context("a temporary /job")?;
    let mut inputs = Vec::new();
    for c in code {
        code_files(c, &mut inputs)?;
    }
    for i in &inputs {
        let rel = weir_core::RepoPath::parse(&i.path).map_err(|e| anyhow!("{}: {e}", i.path))?;
        let target = job.path().join(rel.as_str());
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&i.content_base64)
            .map_err(|e| anyhow!("{e}"))?;
        std::fs::write(&target, bytes)?;
    }
    let status = std::process::Command::new("bwrap")
        .args(["--unshare-all", "--die-with-parent", "--new-session"])
        .args(["--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin"])
        .args([
            "--symlink",
            "usr/lib",
            "/lib",
            "--symlink",
            "usr/lib64",
            "/lib64",
        ])
        .args(["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"])
        .arg("--ro-bind")
        .arg(weights)
        .arg("/weights")
        .arg("--ro-bind")
        .arg(job.path())
        .arg("/job")
        .arg("--bind")
        .arg(out)
        .arg("/out")
        .args([
            "--clearenv",
            "--setenv",
            "PATH",
            "/usr/bin",
            "--setenv",
            "HOME",
            "/out",
        ])
        .args(["--chdir", "/out", "--"])
        .args(argv)
        .status()
        .context("running bwrap (install bubblewrap to run command jobs locally)")?;
    if !status.success() {
        bail!("the command job failed ({status})");
    }
    Ok(())
}

fn print_job(j: &Job) {
    println!(
        "job {} ({}) on {}@{} for {}: {}{}",
        j.id,
        j.kind,
        j.repo,
        &j.revision[..j.revision.len().min(12)],
        j.project,
        j.state,
        j.ending
            .as_ref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default()
    );
    if let Some(c) = j.cpu_seconds {
        println!(
            "  cpu {c:.2} s, wall {:.2} s, peak memory {} MiB, charged {:.2} CPU-s",
            j.wall_seconds.unwrap_or(0.0),
            j.peak_memory.unwrap_or(0) / (1 << 20),
            j.charged_seconds
        );
    }
    if j.outputs_state != "none" {
        println!(
            "  outputs: {} ({} files held{}{})",
            j.outputs_state,
            j.held_files,
            if j.blocked_by.is_empty() {
                String::new()
            } else {
                format!("; blocked by {}", j.blocked_by.join(", "))
            },
            j.output_rules
                .as_ref()
                .map(|r| format!("; checked under {r}"))
                .unwrap_or_default()
        );
    }
    for o in &j.outputs {
        let rules: Vec<String> = o
            .findings
            .iter()
            .filter_map(|f| f.get("rule").and_then(|r| r.as_str()).map(str::to_string))
            .collect();
        println!(
            "    {} ({} bytes){}",
            o.path,
            o.size,
            if rules.is_empty() {
                String::new()
            } else {
                format!(" blocked: {}", rules.join(", "))
            }
        );
    }
    for v in &j.votes {
        println!(
            "  vote by {} on {}: {} {}",
            v.reviewer, v.path, v.vote, v.reason
        );
    }
}

pub async fn run(args: Args) -> Result<()> {
    let Args { command, remote } = args;
    let client = client(&remote)?;
    match command {
        JobCommand::Submit {
            model,
            project,
            kind,
            code,
            input,
            params,
            argv,
        } => {
            let (repo, rev) = split_rev(&model);
            let mut inputs = Vec::new();
            for c in &code {
                code_files(c, &mut inputs)?;
            }
            if let Some(i) = &input {
                inputs.push(self::input("input.jsonl", i)?);
            }
            let params = if kind == "command" {
                if argv.is_empty() {
                    bail!(
                        "a command job needs its argv after --, e.g. -- /usr/bin/python3 /job/main.py"
                    );
                }
                serde_json::json!({ "argv": argv })
            } else {
                match params {
                    Some(p) => serde_json::from_str(&p)
                        .map_err(|e| anyhow!("--params is not JSON: {e}"))?,
                    None => serde_json::json!({}),
                }
            };
            let j = client
                .submit_job(&JobSubmission {
                    project,
                    repo: repo.to_string(),
                    revision: Some(rev.to_string()),
                    kind,
                    params,
                    inputs,
                })
                .await?;
            print_job(&j);
            println!("next: weir job status {}", j.id);
        }
        JobCommand::Run {
            local: _,
            kind,
            project,
            weights,
            input,
            params,
            code,
            out,
            argv,
        } => {
            let weights = match (weights, project) {
                (Some(w), _) => w,
                (None, Some(p)) => pull_standin(&client, &p).await?,
                (None, None) => {
                    bail!("name the weights: --project NS/NAME (its stand-in) or --weights DIR")
                }
            };
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            if kind == "command" {
                run_command_locally(&weights, &code, &out, &argv)?;
            } else {
                let input = input.ok_or_else(|| anyhow!("a {kind} job needs --input FILE"))?;
                let runner = runner()?;
                let status = std::process::Command::new(&runner)
                    .arg(&kind)
                    .arg("--weights")
                    .arg(&weights)
                    .arg("--input")
                    .arg(&input)
                    .arg("--out")
                    .arg(&out)
                    .args(["--params", params.as_deref().unwrap_or("{}")])
                    .status()
                    .with_context(|| format!("running {}", runner.display()))?;
                if !status.success() {
                    bail!("the {kind} job failed ({status})");
                }
            }
            println!(
                "the {kind} job ran locally; its outputs are in {}",
                out.display()
            );
        }
        JobCommand::Status { id } => print_job(&client.job(id).await?),
        JobCommand::List { project } => {
            for j in client.jobs(&project).await?.jobs {
                print_job(&j);
            }
        }
        JobCommand::Log => {
            for j in client.job_log().await?.jobs {
                print_job(&j);
            }
        }
        JobCommand::Pending => {
            let jobs = client.review_queue().await?.jobs;
            if jobs.is_empty() {
                println!("no job's outputs await your review");
            }
            for j in jobs {
                print_job(&j);
            }
        }
        JobCommand::Logs { id } => {
            let b = client.job_logs(id).await?;
            print!("{}", String::from_utf8_lossy(&b));
        }
        JobCommand::Outputs { id, dir } => {
            let j = client.job(id).await?;
            if j.outputs_state != "released" {
                bail!(
                    "the outputs of job {id} are {}: nothing leaves before it passes the checks (see weir job status {id})",
                    j.outputs_state
                );
            }
            let dir = dir.unwrap_or_else(|| PathBuf::from(format!("job-{id}")));
            let mut n = 0;
            for o in j.outputs.iter().filter(|o| !o.path.starts_with("_logs/")) {
                let rel = weir_core::RepoPath::parse(&o.path).map_err(|e| {
                    anyhow!("the server named an unsafe output path {:?}: {e}", o.path)
                })?;
                let bytes = client.job_output(id, &o.path).await?;
                let target = dir.join(rel.as_str());
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("creating {}", parent.display()))?;
                }
                std::fs::write(&target, bytes)
                    .with_context(|| format!("writing {}", target.display()))?;
                n += 1;
            }
            println!("{n} outputs of job {id} written to {}", dir.display());
        }
        JobCommand::Cancel { id } => print_job(&client.cancel_job(id).await?),
        JobCommand::Review {
            id,
            votes,
            all,
            reason,
        } => {
            let votes = match all {
                Some(v) => client
                    .job(id)
                    .await?
                    .outputs
                    .iter()
                    .map(|o| format!("{}={v}", o.path))
                    .collect(),
                None => votes,
            };
            let votes = votes
                .iter()
                .map(|v| {
                    let (path, vote) = v.rsplit_once('=').ok_or_else(|| {
                        anyhow!("--vote {v}: use PATH=approve|request_changes|reject")
                    })?;
                    Ok(FileVote {
                        path: path.to_string(),
                        vote: vote.to_string(),
                        reason: reason.clone(),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let r = client.review_job(id, &OutputReview { votes }).await?;
            println!("job {}: outputs {}", r.job, r.outputs_state);
        }
    }
    Ok(())
}
