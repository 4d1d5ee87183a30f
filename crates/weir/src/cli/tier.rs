//! `weir tier`.

use anyhow::Result;
use clap::Subcommand;

use super::{Remote, client, repo_id};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: TierCommand,
    #[command(flatten)]
    remote: Remote,
}

#[derive(Subcommand)]
pub enum TierCommand {
    /// Set NS/NAME's tier (T0 open … T4 sealed).
    Set {
        repo: String,
        tier: String,
        #[arg(long)]
        reason: Option<String>,
    },
}

pub async fn run(args: Args) -> Result<()> {
    let Args { command, remote } = args;
    let TierCommand::Set { repo, tier, reason } = command;
    let id = repo_id(&repo)?;
    let v = client(&remote)?
        .set_tier(&id, &tier, reason.as_deref())
        .await?;
    println!("{id}: tier {} (was {})", v.tier, v.previous);
    Ok(())
}
