//! `weir release`.

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::{Remote, client, repo_id};

#[derive(clap::Args)]
pub struct Args {
    /// NS/NAME
    repo: String,
    #[arg(long, default_value = "main")]
    revision: String,
    /// Also attach your own `model_signing sign key` bundle (checked against your namespace's key).
    #[arg(long)]
    publisher_sig: Option<PathBuf>,
    #[command(flatten)]
    remote: Remote,
}

pub async fn run(args: Args) -> Result<()> {
    let Args {
        repo,
        revision,
        publisher_sig,
        remote,
    } = args;
    let id = repo_id(&repo)?;
    let client = client(&remote)?;
    match client.release(&id, &revision).await {
        Ok(v) => println!(
            "released {id}@{} ({} files); bundle sha256 {}\n  {}\n  {}",
            v.commit, v.files, v.bundle_sha256, v.bundle_url, v.proof_url
        ),
        // Attaching a publisher signature to an existing release is fine.
        Err(weir_client::ClientError::Api { status: 409, .. }) if publisher_sig.is_some() => {}
        Err(e) => return Err(e.into()),
    }
    if let Some(path) = publisher_sig {
        let bundle = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let v = client
            .upload_publisher_bundle(&id, &revision, bundle)
            .await?;
        println!(
            "attached the publisher signature to {id}@{} ({} files verified)",
            v.commit, v.files
        );
    }
    Ok(())
}
