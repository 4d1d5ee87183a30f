//! `weir doc`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::{Remote, client, repo_id, split_rev};

#[derive(clap::Args)]
pub struct Args {
    /// NS/NAME[@REV] (default: the latest release, else main)
    repo: String,
    /// json or md
    #[arg(long, default_value = "md")]
    format: String,
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    remote: Remote,
}

pub async fn run(args: Args) -> Result<()> {
    let Args {
        repo,
        format,
        out,
        remote,
    } = args;
    doc(&repo, &format, out.as_deref(), &remote).await
}

async fn doc(repo: &str, format: &str, out: Option<&Path>, remote: &Remote) -> Result<()> {
    let (r, rev) = split_rev(repo);
    let id = repo_id(r)?;
    let markdown = match format {
        "md" | "markdown" => true,
        "json" => false,
        other => bail!("unknown format {other:?}; use json or md"),
    };
    let text = client(remote)?.documentation(&id, rev, markdown).await?;
    let text = if markdown {
        text
    } else {
        serde_json::to_string_pretty(&serde_json::from_str::<Value>(&text)?)?
    };
    match out {
        Some(p) => {
            std::fs::write(p, text.as_bytes())
                .with_context(|| format!("writing {}", p.display()))?;
            println!("wrote {}", p.display());
        }
        None => println!("{text}"),
    }
    Ok(())
}
