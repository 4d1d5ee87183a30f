//! `weir publisher`.

use anyhow::Result;
use clap::Subcommand;

use super::{Remote, client};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: PublisherCommand,
    #[command(flatten)]
    remote: Remote,
}

#[derive(Subcommand)]
pub enum PublisherCommand {
    /// A publisher's public accountability record and standing.
    Record {
        name: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(args: Args) -> Result<()> {
    let Args { command, remote } = args;
    publisher(command, &remote).await
}

async fn publisher(command: PublisherCommand, remote: &Remote) -> Result<()> {
    match command {
        PublisherCommand::Record { name, json } => {
            let v = client(remote)?.publisher_record(&name).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(());
            }
            println!(
                "{name}: standing {} (rule {}: {})",
                v.standing, v.rule, v.detail
            );
            println!(
                "  releases {}, with complete accepted pre-release evaluations {}",
                v.releases.count, v.releases.with_pre_release_evaluations
            );
            println!(
                "  incidents confirmed by kind and severity {}; by state {}",
                serde_json::to_string(&v.incidents.confirmed_by_kind_and_severity)?,
                serde_json::to_string(&v.incidents.by_state)?
            );
            println!(
                "  median hours to triage {}; overdue reports {}; releases later re-classified upwards {}",
                v.incidents
                    .median_hours_to_triage
                    .map(|h| h.to_string())
                    .unwrap_or_else(|| "null".into()),
                v.incidents.overdue_reports,
                v.under_classified.len()
            );
        }
    }
    Ok(())
}
