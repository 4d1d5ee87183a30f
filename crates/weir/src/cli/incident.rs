//! `weir incident`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde_json::{Map, Value};

use weir_wire::incidents::{Incident, Report, TransitionRequest};

use super::{Remote, client, repo_id, split_rev};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: IncidentCommand,
    #[command(flatten)]
    remote: Remote,
}

#[derive(Subcommand)]
pub enum IncidentCommand {
    /// Report an incident, hazard or vulnerability about NS/NAME[@REV] (signed in or not;
    /// anonymous reporters get a follow-up token).
    Report {
        /// NS/NAME[@REV] (default revision: main)
        repo: String,
        /// incident, hazard or vulnerability
        #[arg(long)]
        kind: String,
        /// critical_infrastructure, weights_exfiltration, cyber, death, other_serious or minor
        #[arg(long)]
        class: String,
        #[arg(long)]
        summary: String,
        /// A JSON object with the report's fields (start_date, end_date, harm, affected_group,
        /// chain_of_events, model_version, evidence, response, recommendations, root_cause,
        /// near_misses), or plain text (kept as the description).
        #[arg(long)]
        details: Option<PathBuf>,
        /// Hazard domain concerned (bio, chem, cyber, autonomy, manipulation).
        #[arg(long)]
        domain: Option<String>,
        /// AVID, AIID or CVE id of the same event (repeatable).
        #[arg(long = "alias")]
        aliases: Vec<String>,
        /// You believe it is exploited in the wild: recorded with the report; an operator
        /// decides (it shortens disclosure to 7 days).
        #[arg(long)]
        in_the_wild: bool,
        /// Show your account name to the publisher (operators always see it).
        #[arg(long)]
        share_identity: bool,
        /// Files to attach (repeatable): stored as blobs, only ever served as downloads.
        #[arg(long = "attach")]
        attach: Vec<PathBuf>,
        /// Report without an account even if a token is configured.
        #[arg(long)]
        anonymous: bool,
    },
    /// Incidents you can see (operators: all; publishers: theirs; everyone: disclosed ones).
    List {
        #[arg(long)]
        repo: Option<String>,
        /// Only those with an overdue report or disclosure.
        #[arg(long)]
        overdue: bool,
        #[arg(long)]
        state: Option<String>,
    },
    Show {
        id: String,
        #[arg(long, env = "WEIR_FOLLOWUP", hide_env_values = true)]
        followup: Option<String>,
    },
    /// received → triaged, with a severity (low, medium, high, critical).
    Triage {
        id: String,
        #[arg(long)]
        severity: String,
        #[arg(long)]
        reason: String,
        /// (operators) Embargo disclosure until this date.
        #[arg(long)]
        embargo_until: Option<String>,
    },
    /// triaged → confirmed; optionally hold deliveries and raise a hazard domain.
    Confirm {
        id: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        severity: Option<String>,
        /// Refuse new downloads of the affected revisions (reason incident_hold).
        #[arg(long)]
        hold: bool,
        /// Raise this hazard domain to ambiguous (re-classifies through the policy).
        #[arg(long)]
        raise_domain: Option<String>,
        #[arg(long)]
        embargo_until: Option<String>,
    },
    Reject {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// confirmed → mitigated, naming the fixed revision.
    Mitigate {
        id: String,
        #[arg(long)]
        fixed: String,
        #[arg(long)]
        reason: String,
    },
    Disclose {
        id: String,
        #[arg(long)]
        reason: String,
    },
    Withdraw {
        id: String,
        #[arg(long)]
        reason: String,
        #[arg(long, env = "WEIR_FOLLOWUP", hide_env_values = true)]
        followup: Option<String>,
    },
    /// File an intermediate report (every 4 weeks) or, with --final, the final report.
    Update {
        id: String,
        #[arg(long)]
        note: String,
        #[arg(long = "final")]
        final_report: bool,
    },
    Attach {
        id: String,
        file: PathBuf,
        #[arg(long, env = "WEIR_FOLLOWUP", hide_env_values = true)]
        followup: Option<String>,
    },
    /// Write every disclosed record as OSV JSON (ID.json) into DIR.
    Export {
        #[arg(long, default_value = "osv")]
        out: PathBuf,
    },
}

pub async fn run(args: Args) -> Result<()> {
    let Args { command, remote } = args;
    incident(command, &remote).await
}

fn print_incident(v: &Incident) {
    println!(
        "{} {} [{}] {} {}/{}{} — {}",
        v.id,
        v.repo,
        v.state,
        v.kind,
        v.class,
        v.severity.as_deref().unwrap_or("unrated"),
        if v.hold { " HOLD" } else { "" },
        v.summary.escape_debug()
    );
    for c in &v.clocks {
        println!(
            "    {:<15} due {}{}{}",
            c.name,
            c.due,
            c.met_at
                .as_deref()
                .map(|m| format!(", met {m}"))
                .unwrap_or_default(),
            if c.overdue { "  OVERDUE" } else { "" }
        );
    }
}

fn details_from(path: &Path) -> Result<Map<String, Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => bail!(
            "{}: expected a JSON object of report fields (or plain text)",
            path.display()
        ),
        Err(_) => {
            let mut m = Map::new();
            m.insert("description".into(), Value::String(text));
            Ok(m)
        }
    }
}

async fn incident(command: IncidentCommand, remote: &Remote) -> Result<()> {
    let mut c = client(remote)?;
    let transition = |to: &str, reason: &str| TransitionRequest {
        to: to.to_string(),
        reason: reason.to_string(),
        ..TransitionRequest::default()
    };
    match command {
        IncidentCommand::Report {
            repo,
            kind,
            class,
            summary,
            details,
            domain,
            aliases,
            in_the_wild,
            share_identity,
            attach,
            anonymous,
        } => {
            let (r, rev) = split_rev(&repo);
            let id = repo_id(r)?;
            let details = match details {
                Some(p) => details_from(&p)?,
                None => Map::new(),
            };
            if anonymous {
                c = weir_client::Client::new(c.server(), None)?;
            }
            let v = c
                .report_incident(&Report {
                    repo: id.to_string(),
                    revisions: vec![rev.to_string()],
                    kind,
                    class,
                    summary,
                    details,
                    domain,
                    aliases,
                    in_the_wild,
                    share_identity,
                })
                .await?;
            let iid = v.id.clone();
            let token = v.followup_token.clone();
            for f in &attach {
                let a = c.incident_attach(&iid, f, token.as_deref()).await?;
                println!("attached {} (sha256 {})", f.display(), a.sha256);
            }
            println!("reported {iid} on {id}");
            print_incident(&v);
            if let Some(t) = token {
                println!(
                    "follow-up token (shown once; keep it to read, attach to or withdraw this report): {t}"
                );
            }
        }
        IncidentCommand::List {
            repo,
            overdue,
            state,
        } => {
            let mut q = Vec::new();
            if let Some(r) = repo {
                q.push(("repo", repo_id(&r)?.to_string()));
            }
            if overdue {
                q.push(("overdue", "true".into()));
            }
            if let Some(s) = state {
                q.push(("state", s));
            }
            let v = c.incidents(&q).await?;
            if v.incidents.is_empty() {
                println!("no incidents");
            }
            for i in &v.incidents {
                print_incident(i);
            }
        }
        IncidentCommand::Show { id, followup } => {
            let v = c.incident(&id, followup.as_deref()).await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        IncidentCommand::Triage {
            id,
            severity,
            reason,
            embargo_until,
        } => {
            let mut b = transition("triaged", &reason);
            b.severity = Some(severity);
            b.embargo_until = embargo_until;
            print_incident(&c.incident_transition(&id, &b, None).await?);
        }
        IncidentCommand::Confirm {
            id,
            reason,
            severity,
            hold,
            raise_domain,
            embargo_until,
        } => {
            let mut b = transition("confirmed", &reason);
            b.severity = severity;
            b.hold = hold;
            b.raise_domain = raise_domain;
            b.embargo_until = embargo_until;
            let v = c.incident_transition(&id, &b, None).await?;
            print_incident(&v);
            println!(
                "notified {} account(s) that received an affected revision",
                v.notified.unwrap_or(0)
            );
        }
        IncidentCommand::Reject { id, reason } => {
            print_incident(
                &c.incident_transition(&id, &transition("rejected", &reason), None)
                    .await?,
            );
        }
        IncidentCommand::Mitigate { id, fixed, reason } => {
            let mut b = transition("mitigated", &reason);
            b.fixed_revision = Some(fixed);
            print_incident(&c.incident_transition(&id, &b, None).await?);
        }
        IncidentCommand::Disclose { id, reason } => {
            print_incident(
                &c.incident_transition(&id, &transition("disclosed", &reason), None)
                    .await?,
            );
        }
        IncidentCommand::Withdraw {
            id,
            reason,
            followup,
        } => {
            print_incident(
                &c.incident_transition(&id, &transition("withdrawn", &reason), followup.as_deref())
                    .await?,
            );
        }
        IncidentCommand::Update {
            id,
            note,
            final_report,
        } => {
            print_incident(&c.incident_update(&id, &note, final_report).await?);
        }
        IncidentCommand::Attach { id, file, followup } => {
            let a = c.incident_attach(&id, &file, followup.as_deref()).await?;
            println!(
                "attached {} to {id} (sha256 {}, {} bytes)",
                file.display(),
                a.sha256,
                a.size
            );
        }
        IncidentCommand::Export { out } => {
            let v = c.osv_all().await?;
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let mut n = 0;
            for r in &v {
                let id = r.id.as_str();
                if id.is_empty() || id.contains(['/', '\\']) || id.starts_with('.') {
                    bail!("the server sent a record with an unusable id {id:?}");
                }
                let p = out.join(format!("{id}.json"));
                std::fs::write(&p, serde_json::to_string_pretty(r)?)
                    .with_context(|| format!("writing {}", p.display()))?;
                n += 1;
            }
            println!("wrote {n} OSV record(s) to {}", out.display());
        }
    }
    Ok(())
}
