//! `weir project`: research projects in the secure research environment.

use anyhow::{Result, anyhow};
use clap::Subcommand;

use weir_wire::research::{ModelAsk, Project, ProjectApplication, ProjectDecision};

use super::{Remote, client, split_rev};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: ProjectCommand,
    #[command(flatten)]
    remote: Remote,
}

#[derive(Subcommand)]
pub enum ProjectCommand {
    /// Apply for a research project NS/NAME (NS: your account or an org you belong to).
    Apply {
        project: String,
        /// What the project is for (public).
        #[arg(long)]
        purpose: String,
        /// A model the project may use, with its access level: NS/NAME[@REV]:AL1|AL2|AL3
        /// (repeatable; AL1 black-box, AL2 grey-box, AL3 white-box; T4 models allow AL1 only).
        #[arg(long = "model", required = true)]
        models: Vec<String>,
        /// Another account on the team (repeatable); you are always on it.
        #[arg(long = "member")]
        members: Vec<String>,
        /// A public, open (T0) repo of the same architecture to develop against.
        #[arg(long)]
        standin: Option<String>,
        /// The compute asked for, in CPU-hours (default 10).
        #[arg(long)]
        cpu_hours: Option<f64>,
    },
    /// (operator) Decide a project: approve, reject, or revoke an approved one.
    Review {
        project: String,
        /// approve | reject | revoke
        decision: String,
        #[arg(long)]
        reason: String,
        /// Approval lasts this many days (default 365).
        #[arg(long)]
        expires: Option<i64>,
        /// Approval: the compute quota in CPU-hours (default what was asked).
        #[arg(long)]
        cpu_hours: Option<f64>,
    },
    /// Show a project (the team only to its members and operators).
    Show { project: String },
    /// List projects.
    List {
        /// applied | approved | rejected | revoked
        #[arg(long)]
        state: Option<String>,
        /// Only the projects you are on.
        #[arg(long)]
        mine: bool,
    },
}

/// `NS/NAME[@REV]:LEVEL`.
fn parse_model(s: &str) -> Result<ModelAsk> {
    let (repo, level) = s
        .rsplit_once(':')
        .ok_or_else(|| anyhow!("--model {s}: add the access level, e.g. {s}:AL1"))?;
    let (repo, rev) = split_rev(repo);
    Ok(ModelAsk {
        repo: repo.to_string(),
        revision: Some(rev.to_string()),
        level: level.to_string(),
    })
}

fn cpu_seconds(hours: Option<f64>) -> Result<Option<i64>> {
    hours
        .map(|h| {
            if h.is_finite() && h > 0.0 && h <= 1e7 {
                Ok((h * 3600.0).round() as i64)
            } else {
                Err(anyhow!("--cpu-hours must be a positive number of hours"))
            }
        })
        .transpose()
}

fn print_project(p: &Project) {
    println!("project {}: {}", p.name, p.state);
    println!("  purpose: {}", p.purpose);
    if !p.members.is_empty() {
        println!("  team: {}", p.members.join(", "));
    }
    for m in &p.models {
        println!("  model: {}@{} at {}", m.repo, m.revision, m.level);
    }
    if let Some(s) = &p.standin {
        println!("  stand-in: {s}");
    }
    println!(
        "  quota: {:.1} CPU-hours",
        p.quota_cpu_seconds as f64 / 3600.0
    );
    if let Some(e) = &p.expires_at {
        println!("  expires: {e}");
    }
    if let Some(r) = &p.decision_reason {
        println!("  decision: {r}");
    }
}

pub async fn run(args: Args) -> Result<()> {
    let Args { command, remote } = args;
    let client = client(&remote)?;
    match command {
        ProjectCommand::Apply {
            project,
            purpose,
            models,
            members,
            standin,
            cpu_hours,
        } => {
            let app = ProjectApplication {
                name: project,
                purpose,
                members,
                models: models
                    .iter()
                    .map(|m| parse_model(m))
                    .collect::<Result<_>>()?,
                standin,
                quota_cpu_seconds: cpu_seconds(cpu_hours)?,
            };
            let p = client.apply_project(&app).await?;
            print_project(&p);
            println!(
                "next: an operator decides it (weir project review {} approve|reject --reason TEXT)",
                p.name
            );
        }
        ProjectCommand::Review {
            project,
            decision,
            reason,
            expires,
            cpu_hours,
        } => {
            let p = client
                .decide_project(
                    &project,
                    &ProjectDecision {
                        decision,
                        reason,
                        expires_days: expires,
                        quota_cpu_seconds: cpu_seconds(cpu_hours)?,
                    },
                )
                .await?;
            print_project(&p);
        }
        ProjectCommand::Show { project } => print_project(&client.project(&project).await?),
        ProjectCommand::List { state, mine } => {
            let ps = client.projects(state.as_deref(), mine).await?;
            if ps.projects.is_empty() {
                println!("no projects");
            }
            for p in &ps.projects {
                println!(
                    "{}  {}  {}",
                    p.name,
                    p.state,
                    p.purpose.lines().next().unwrap_or("")
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_name_their_revision_and_level() {
        let m = parse_model("acme/restricted-model@v1:AL1").expect("parse");
        assert_eq!(
            (m.repo.as_str(), m.revision.as_deref(), m.level.as_str()),
            ("acme/restricted-model", Some("v1"), "AL1")
        );
        let m = parse_model("acme/m:AL3").expect("parse");
        assert_eq!(m.revision.as_deref(), Some("main"));
        assert!(parse_model("acme/m").is_err());
        assert_eq!(cpu_seconds(Some(1.5)).expect("h"), Some(5400));
        assert!(cpu_seconds(Some(-1.0)).is_err());
        assert!(cpu_seconds(Some(f64::NAN)).is_err());
    }
}
