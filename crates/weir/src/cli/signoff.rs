//! `weir signoff`.

use anyhow::Result;

use super::{Remote, client, repo_id, split_rev};

#[derive(clap::Args)]
pub struct Args {
    /// NS/NAME[@REV]
    repo: String,
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    remote: Remote,
}

pub async fn run(args: Args) -> Result<()> {
    let Args {
        repo,
        reason,
        remote,
    } = args;
    signoff(&repo, &reason, &remote).await
}

async fn signoff(repo: &str, reason: &str, remote: &Remote) -> Result<()> {
    let (r, rev) = split_rev(repo);
    let id = repo_id(r)?;
    let v = client(remote)?.signoff(&id, rev, reason).await?;
    println!(
        "signed off releasing {id}@{} ({})",
        v.commit, v.signed_off_by
    );
    Ok(())
}
