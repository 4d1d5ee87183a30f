//! `weir push`.

use std::path::PathBuf;

use anyhow::{Result, anyhow, bail};

use weir_client::PushOptions;
use weir_core::{RefName, RepoId};

use super::{Remote, client};

#[derive(clap::Args)]
pub struct Args {
    dir: PathBuf,
    /// NS/NAME
    repo: String,
    #[arg(long, default_value = "main")]
    revision: String,
    #[arg(short = 'm', long = "message", default_value = "Upload with weir push")]
    message: String,
    /// Create the repo as private.
    #[arg(long)]
    private: bool,
    /// Also delete files from the branch that are not in DIR.
    #[arg(long)]
    delete: bool,
    #[arg(long, default_value_t = 4)]
    parallel: usize,
    #[command(flatten)]
    remote: Remote,
}

pub async fn run(args: Args) -> Result<()> {
    let Args {
        dir,
        repo,
        revision,
        message,
        private,
        delete,
        parallel,
        remote,
    } = args;
    let repo =
        RepoId::parse(&repo).map_err(|e| anyhow!("{e}; example: weir push ./model acme/tiny"))?;
    let branch = RefName::parse(&revision).map_err(|e| anyhow!("{e}"))?;
    if !dir.is_dir() {
        bail!(
            "{} is not a directory; pass the folder to upload",
            dir.display()
        );
    }
    let client = client(&remote)?;
    let opts = PushOptions {
        branch,
        message,
        private,
        delete_missing: delete,
        parallel,
        progress: true,
    };
    let out = client.push(&dir, &repo, &opts).await?;
    match out.commit {
        Some(c) => println!(
            "pushed {repo}@{} commit {c}: {} files ({} uploaded, {} bytes; {} already stored; {} unchanged), {} deleted",
            opts.branch,
            out.files,
            out.uploaded,
            out.uploaded_bytes,
            out.reused,
            out.unchanged,
            out.deleted
        ),
        None => println!(
            "{repo}@{} is up to date ({} files unchanged)",
            opts.branch, out.unchanged
        ),
    }
    Ok(())
}
