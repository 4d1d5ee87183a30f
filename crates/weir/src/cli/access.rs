//! `weir access`.

use anyhow::{Result, bail};
use clap::Subcommand;

use weir_client::Client;

use weir_wire::access::{AccessRequest, Gating, RequestAnswer};

use super::{Remote, client, repo_id, split_rev};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: AccessCommand,
    #[command(flatten)]
    remote: Remote,
}

#[derive(Subcommand)]
pub enum AccessCommand {
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
        /// The identity level research-project members need here (identified or accredited).
        #[arg(long)]
        research_level: Option<String>,
    },
}

fn parse_field(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))
}

pub async fn run(args: Args) -> Result<()> {
    let Args { command, remote } = args;
    access(command, &client(&remote)?).await
}

fn print_request(r: &AccessRequest) {
    let mut line = format!("{} {}: {}", r.repo, r.user, r.state);
    if r.state == "pending" {
        line.push_str(&format!(
            ", review due {}{}",
            r.due_at.get(..10).unwrap_or(&r.due_at),
            if r.overdue { " (overdue)" } else { "" }
        ));
    }
    if let Some(reason) = &r.reason {
        line.push_str(&format!(", reason: {reason}"));
    }
    if let Some(e) = &r.expires_at {
        line.push_str(&format!(", expires {e}"));
    }
    println!("{line}");
}

async fn access(command: AccessCommand, client: &Client) -> Result<()> {
    match command {
        AccessCommand::Check { repo } => {
            let (id, rev) = split_rev(&repo);
            let v = client.access_check(&repo_id(id)?, rev).await?;
            let verdict = if v.allow { "allow" } else { "deny" };
            println!("{verdict} ({}): {}", v.reason, v.message);
            if let Some(n) = &v.next {
                println!("next: {n}");
            }
            if !v.allow {
                // Scripts branch on the exit code: a deny is a failure, already explained.
                return Err(crate::cli::Denied.into());
            }
        }
        AccessCommand::Accept { repo } => {
            let id = repo_id(&repo)?;
            let t = client.terms(&id).await?;
            println!("Terms of {id}:\n  {}", t.terms);
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
            match v {
                RequestAnswer::Request(r) => print_request(&r),
                RequestAnswer::Terms(t) => println!(
                    "{} {}: {} (the terms are accepted: that is the request at this tier)",
                    t.repo, t.user, t.state
                ),
            }
        }
        AccessCommand::Status { repo } => {
            let id = repo.as_deref().map(repo_id).transpose()?;
            let v = client.my_requests(id.as_ref()).await?;
            if v.requests.is_empty() {
                println!("no access requests");
            }
            for r in &v.requests {
                print_request(r);
            }
        }
        AccessCommand::List { repo, state } => {
            let v = client
                .list_requests(&repo_id(&repo)?, state.as_deref())
                .await?;
            for r in &v.requests {
                print_request(r);
                println!("    purpose: {}", r.purpose);
                if let Some(q) = &r.requester {
                    println!(
                        "    requester: level {}, country {}, {}",
                        q.level,
                        q.country.as_deref().unwrap_or("unknown"),
                        match &q.blocked_by {
                            None => "could be served now".to_string(),
                            Some(why) => format!("could not be served now ({why})"),
                        }
                    );
                }
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
            research_level,
        } => {
            let list = |s: Option<String>| {
                s.map(|s| {
                    s.split(',')
                        .map(|x| x.trim().to_string())
                        .filter(|x| !x.is_empty())
                        .collect::<Vec<_>>()
                })
            };
            let body = Gating {
                min_level,
                auto_approve_level,
                blocked_countries: list(blocked_countries),
                required_fields: list(required_fields),
                terms,
                research_level,
                repo: None,
            };
            let v = client.set_gating(&repo_id(&repo)?, &body).await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
    }
    Ok(())
}
