//! `weir pull`.

use std::path::PathBuf;

use anyhow::{Result, anyhow};

use weir_client::PullOptions;
use weir_core::RepoId;

use super::{Remote, client};

#[derive(clap::Args)]
pub struct Args {
    /// NS/NAME[@REVISION]
    repo: String,
    /// Target directory (default: NAME).
    dir: Option<PathBuf>,
    #[arg(long, default_value_t = 4)]
    parallel: usize,
    #[command(flatten)]
    remote: Remote,
}

pub async fn run(args: Args) -> Result<()> {
    let Args {
        repo,
        dir,
        parallel,
        remote,
    } = args;
    let (id, rev) = match repo.split_once('@') {
        Some((r, rev)) => (r, rev.to_string()),
        None => (repo.as_str(), "main".to_string()),
    };
    let id = RepoId::parse(id).map_err(|e| anyhow!("{e}; example: weir pull acme/tiny@main"))?;
    let dir = dir.unwrap_or_else(|| PathBuf::from(id.name.as_str()));
    let client = client(&remote)?;
    let opts = PullOptions {
        revision: rev,
        parallel,
        progress: true,
    };
    let out = client.pull(&id, &dir, &opts).await?;
    let signed = match client.release_files(&id, &out.commit).await {
        Ok(Some(files)) => {
            let sig = files.write_beside(&dir)?;
            format!(
                "; signed release saved as {} (check with: weir verify {})",
                sig.display(),
                dir.display()
            )
        }
        Ok(None) => "; this revision has no signed release".to_string(),
        Err(e) => format!("; could not fetch its signature: {e}"),
    };
    println!(
        "pulled {id}@{} (commit {}) into {}: {} files, {} downloaded ({} bytes, {} resumed), {} already up to date; every file matched its sha256",
        opts.revision,
        out.commit,
        dir.display(),
        out.files,
        out.downloaded,
        out.downloaded_bytes,
        out.resumed,
        out.up_to_date
    );
    println!("{}", signed.trim_start_matches("; "));
    Ok(())
}
