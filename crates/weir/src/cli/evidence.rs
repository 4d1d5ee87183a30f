//! `weir evidence`.

use anyhow::Result;
use clap::Subcommand;

use super::{Remote, client, repo_id};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: EvidenceCommand,
    #[command(flatten)]
    remote: Remote,
}

#[derive(Subcommand)]
pub enum EvidenceCommand {
    /// File evidence that a hazard domain of NS/NAME cannot be ruled out (from an accredited
    /// account it counts at once; from others it awaits an operator's triage) (raises it to
    /// ambiguous at once; operators confirm or dismiss it).
    File {
        repo: String,
        #[arg(long)]
        domain: String,
        #[arg(long)]
        summary: String,
    },
    /// List the evidence filed about NS/NAME.
    List { repo: String },
    /// (operator) Confirm or dismiss evidence ID.
    Review {
        id: i64,
        /// confirm or dismiss
        decision: String,
        /// When confirming: high or critical rules the domain in (default: ambiguous).
        #[arg(long)]
        severity: Option<String>,
        #[arg(long)]
        reason: String,
    },
}

pub async fn run(args: Args) -> Result<()> {
    let Args { command, remote } = args;
    evidence(command, &remote).await
}

async fn evidence(command: EvidenceCommand, remote: &Remote) -> Result<()> {
    let c = client(remote)?;
    match command {
        EvidenceCommand::File {
            repo,
            domain,
            summary,
        } => {
            let id = repo_id(&repo)?;
            let v = c.file_evidence(&id, &domain, &summary).await?;
            let (before, after) = v
                .tier
                .map(|t| (t.before, t.after))
                .unwrap_or_else(|| ("?".into(), "?".into()));
            if v.state == "pending_triage" {
                println!(
                    "filed evidence #{} ({} awaits an operator's triage, due {}; nothing changes until it is confirmed); {id} tier {after}",
                    v.id,
                    v.domain,
                    v.triage_due.as_deref().unwrap_or("?"),
                );
            } else {
                println!(
                    "filed evidence #{} ({} is ambiguous until reviewed); {id} tier {before} -> {after}",
                    v.id, v.domain,
                );
            }
        }
        EvidenceCommand::List { repo } => {
            let id = repo_id(&repo)?;
            for e in c.evidence(&id).await?.evidence {
                println!(
                    "#{} {} {}{} filed {}{}",
                    e.id,
                    e.domain,
                    e.state,
                    e.severity.map(|s| format!(" ({s})")).unwrap_or_default(),
                    e.filed_at,
                    e.summary
                        .map(|s| format!(": {}", s.escape_debug()))
                        .unwrap_or_default()
                );
            }
        }
        EvidenceCommand::Review {
            id,
            decision,
            severity,
            reason,
        } => {
            let v = c
                .review_evidence(id, &decision, severity.as_deref(), &reason)
                .await?;
            println!(
                "evidence #{id} {}; minimum tier now {}",
                v.state,
                v.minimum_tier.as_deref().unwrap_or("?")
            );
        }
    }
    Ok(())
}
