//! `weir grant`: public-interest compute grants for research projects.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};
use clap::Subcommand;

use weir_wire::grants::{
    Application, ApplicationSubmission, Award, Call, CallModel, CallSubmission, GrantDecision,
    GrantReviewSubmission, ProgressReport, ReportAcceptance,
};

use super::{Remote, client};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: GrantCommand,
    #[command(flatten)]
    remote: Remote,
}

#[derive(Subcommand)]
pub enum CallCommand {
    /// (operator) Open a call: its models, deadline and required fields (routes: the AIRR-like
    /// defaults gateway, rapid, innovator, open).
    Open {
        name: String,
        #[arg(long)]
        title: String,
        /// YYYY-MM-DD or RFC 3339.
        #[arg(long)]
        closes: String,
        /// A model awards may be used on, with the highest level: NS/NAME:AL1|AL2|AL3
        /// (repeatable).
        #[arg(long = "model", required = true)]
        models: Vec<String>,
        /// A field every application must answer (repeatable).
        #[arg(long = "field")]
        fields: Vec<String>,
        /// The identity level for an automatic award on the smallest route (default
        /// identified).
        #[arg(long)]
        auto_level: Option<String>,
    },
    /// (operator) Close a call early.
    Close { name: String },
    /// Every call.
    List,
    /// One call: its routes, models and fields.
    Show { name: String },
}

#[derive(Subcommand)]
pub enum GrantCommand {
    /// Calls for applications.
    Call {
        #[command(subcommand)]
        command: CallCommand,
    },
    /// Apply for compute for a research project you are on.
    Apply {
        call: String,
        #[arg(long)]
        route: String,
        /// The research project NS/NAME.
        #[arg(long)]
        project: String,
        #[arg(long)]
        purpose: String,
        /// The plan: text, or @FILE.
        #[arg(long)]
        plan: String,
        #[arg(long, default_value_t = 0.0)]
        cpu_hours: f64,
        #[arg(long, default_value_t = 0.0)]
        gpu_hours: f64,
        /// An answer to one of the call's fields: NAME=TEXT (repeatable).
        #[arg(long = "field")]
        fields: Vec<String>,
    },
    /// An application, its reviews and its award (the team and operators).
    Show { id: i64 },
    /// The applications you may see.
    List {
        #[arg(long)]
        call: Option<String>,
    },
    /// (operator) Review an application: award | reject | conflict (declare one and recuse).
    Review {
        id: i64,
        vote: String,
        #[arg(long)]
        reason: String,
    },
    /// Withdraw a submitted application (the team).
    Withdraw { id: i64 },
    /// Every award (public): granted, released, used.
    Awards,
    /// An award's usage statement: every job metered against it (the team and operators).
    Usage { award: i64 },
    /// Submit the progress report that the second tranche waits for (the team).
    Report {
        award: i64,
        #[arg(long)]
        file: PathBuf,
    },
    /// (operator) Accept an award's progress report, named by the SHA-256 'weir grant show'
    /// prints with it: the second tranche is released.
    Accept {
        award: i64,
        #[arg(long)]
        report: String,
        #[arg(long)]
        reason: String,
    },
    /// (operator) Revoke an award: no job of its project starts on it any more.
    Revoke {
        award: i64,
        #[arg(long)]
        reason: String,
    },
}

fn print_call(c: &Call) {
    println!(
        "call {}: {} ({}, closes {})",
        c.name,
        c.title,
        if c.open { "open" } else { "closed" },
        c.closes_at
    );
    for r in &c.routes {
        println!(
            "  route {}: up to {} GPU-hours and {} CPU-hours, {} months, review {} within {} days",
            r.name, r.gpu_hours, r.cpu_hours, r.months, r.review, r.review_days
        );
    }
    for m in &c.models {
        println!("  model: {} up to {}", m.repo, m.level);
    }
    if !c.fields.is_empty() {
        println!("  fields: {}", c.fields.join(", "));
    }
}

fn print_award(a: &Award) {
    println!(
        "award {} ({} / {}) for {}: {}",
        a.id, a.call, a.route, a.project, a.state
    );
    println!(
        "  {:.3} CPU-hours and {:.3} GPU-hours granted; {:.3} CPU-hours released",
        a.cpu_hours, a.gpu_hours, a.released_cpu_hours
    );
    if let (Some(used), Some(jobs)) = (a.used_cpu_hours, a.jobs) {
        println!("  {used:.4} CPU-hours used by {jobs} jobs");
    }
    println!("  from {} to {}", a.starts_at, a.ends_at);
    if a.report_accepted_at.is_some() {
        println!("  progress report accepted: second tranche released");
    } else if let Some(sha) = &a.report_sha256 {
        println!("  progress report submitted (sha256 {sha}), awaiting an operator");
    }
}

fn print_application(a: &Application) {
    println!(
        "application {} to {} ({}) for {}: {}{}",
        a.id,
        a.call,
        a.route,
        a.project,
        a.state,
        if a.overdue { " (review overdue)" } else { "" }
    );
    println!(
        "  asks {} CPU-hours and {} GPU-hours; review due {}",
        a.cpu_hours, a.gpu_hours, a.review_due_at
    );
    for r in &a.reviews {
        println!("  review by {}: {} ({})", r.reviewer, r.vote, r.reason);
    }
    if let Some(d) = &a.decision {
        println!("  decision: {d}");
    }
    if let Some(r) = &a.report {
        println!("  progress report:\n    {}", r.replace('\n', "\n    "));
    }
    if let Some(aw) = &a.award {
        print_award(aw);
    }
}

/// `NS/NAME:LEVEL`.
fn parse_model(s: &str) -> Result<CallModel> {
    let (repo, level) = s
        .rsplit_once(':')
        .ok_or_else(|| anyhow!("--model {s}: add the highest access level, e.g. {s}:AL1"))?;
    Ok(CallModel {
        repo: repo.to_string(),
        level: level.to_string(),
    })
}

fn text_or_file(s: &str) -> Result<String> {
    match s.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {path}")),
        None => Ok(s.to_string()),
    }
}

pub async fn run(args: Args) -> Result<()> {
    let Args { command, remote } = args;
    let client = client(&remote)?;
    match command {
        GrantCommand::Call { command } => match command {
            CallCommand::Open {
                name,
                title,
                closes,
                models,
                fields,
                auto_level,
            } => {
                let c = client
                    .open_call(&CallSubmission {
                        name,
                        title,
                        closes_at: closes,
                        models: models
                            .iter()
                            .map(|m| parse_model(m))
                            .collect::<Result<_>>()?,
                        fields,
                        auto_level,
                        routes: None,
                    })
                    .await?;
                print_call(&c);
            }
            CallCommand::Close { name } => print_call(&client.close_call(&name).await?),
            CallCommand::List => {
                for c in client.calls().await?.calls {
                    print_call(&c);
                }
            }
            CallCommand::Show { name } => print_call(&client.grant_call(&name).await?),
        },
        GrantCommand::Apply {
            call,
            route,
            project,
            purpose,
            plan,
            cpu_hours,
            gpu_hours,
            fields,
        } => {
            let mut answers = BTreeMap::new();
            for f in fields {
                let (k, v) = f
                    .split_once('=')
                    .ok_or_else(|| anyhow!("--field {f}: use NAME=TEXT"))?;
                answers.insert(k.to_string(), text_or_file(v)?);
            }
            let a = client
                .apply_grant(&ApplicationSubmission {
                    call,
                    route,
                    project,
                    purpose,
                    plan: text_or_file(&plan)?,
                    answers,
                    cpu_hours,
                    gpu_hours,
                })
                .await?;
            print_application(&a);
        }
        GrantCommand::Show { id } => print_application(&client.grant_application(id).await?),
        GrantCommand::List { call } => {
            for a in client
                .grant_applications(call.as_deref())
                .await?
                .applications
            {
                print_application(&a);
            }
        }
        GrantCommand::Review { id, vote, reason } => print_application(
            &client
                .review_grant(id, &GrantReviewSubmission { vote, reason })
                .await?,
        ),
        GrantCommand::Withdraw { id } => print_application(&client.withdraw_grant(id).await?),
        GrantCommand::Awards => {
            for a in client.awards().await?.awards {
                print_award(&a);
            }
        }
        GrantCommand::Usage { award } => {
            let st = client.award_usage(award).await?;
            print_award(&st.award);
            for j in &st.jobs {
                println!(
                    "  job {} ({}) on {}@{}: {:.1} CPU-s, {}",
                    j.job,
                    j.kind,
                    j.repo,
                    &j.revision[..j.revision.len().min(12)],
                    j.charged_cpu_seconds,
                    j.ending.as_deref().unwrap_or("running")
                );
            }
            println!(
                "  total {:.1} CPU-s; {:.1} CPU-s of the released compute left",
                st.total_cpu_seconds, st.remaining_released_cpu_seconds
            );
        }
        GrantCommand::Report { award, file } => {
            let report = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            print_award(
                &client
                    .report_progress(award, &ProgressReport { report })
                    .await?,
            );
        }
        GrantCommand::Accept {
            award,
            report,
            reason,
        } => print_award(
            &client
                .accept_report(
                    award,
                    &ReportAcceptance {
                        reason,
                        report_sha256: report,
                    },
                )
                .await?,
        ),
        GrantCommand::Revoke { award, reason } => print_award(
            &client
                .revoke_award(award, &GrantDecision { reason })
                .await?,
        ),
    }
    Ok(())
}
