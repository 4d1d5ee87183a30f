//! `weir verify`.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};

use super::{Remote, client, repo_id, split_rev};

#[derive(clap::Args)]
pub struct Args {
    dir: PathBuf,
    /// NS/NAME[@REV]: also check the log entry names this repo (and fetch DIR.sig if missing).
    /// A `huggingface_hub` cache snapshot (`…/models--NS--NAME/snapshots/COMMIT`) names its own.
    #[arg(long)]
    repo: Option<String>,
    /// The release public key (PEM). Default: pinned on first use.
    #[arg(long)]
    key: Option<PathBuf>,
    /// The log's verifier key. Default: pinned on first use.
    #[arg(long, env = "WEIR_LOG_KEY")]
    log_key: Option<String>,
    #[command(flatten)]
    remote: Remote,
}

pub async fn run(args: Args) -> Result<()> {
    let Args {
        dir,
        repo,
        key,
        log_key,
        remote,
    } = args;
    if !dir.is_dir() {
        bail!(
            "{} is not a directory; pass the model directory to verify",
            dir.display()
        );
    }
    let client = client(&remote)?;
    let (sig_path, proof_path) = weir_client::verify::signature_paths(&dir);
    let layout = weir_client::verify::layout(&dir);
    let target = match (&repo, &layout) {
        (Some(r), _) => {
            let (id, rev) = split_rev(r);
            Some((repo_id(id)?, rev.to_string()))
        }
        // A Hub cache snapshot names its repo and commit in its path.
        (None, weir_client::verify::Layout::HubSnapshot { repo, commit, .. }) => {
            Some((repo.clone(), commit.clone()))
        }
        (None, weir_client::verify::Layout::Plain) => None,
    };
    let in_hub_cache = matches!(layout, weir_client::verify::Layout::HubSnapshot { .. })
        || weir_client::verify::inside_hub_cache(&dir);
    // The signature files: beside a plain directory (fetched and written there when missing
    // and the repo is named); for a Hub cache snapshot always fetched and kept in memory, so
    // nothing is ever written into the cache.
    let files = if !in_hub_cache && sig_path.exists() {
        weir_client::verify::ReleaseFiles {
            bundle: std::fs::read_to_string(&sig_path)
                .with_context(|| format!("reading {}", sig_path.display()))?,
            proof: std::fs::read_to_string(&proof_path).unwrap_or_default(),
            opening: std::fs::read_to_string(weir_client::verify::opening_path(&dir)).ok(),
        }
    } else {
        let Some((id, rev)) = &target else {
            bail!(
                "{} is missing; pull with 'weir pull' (which writes it) or pass --repo NS/NAME@REV",
                sig_path.display()
            );
        };
        let fetched = client
            .release_files(id, rev)
            .await?
            .ok_or_else(|| anyhow!("{id}@{rev} has no signed release"))?;
        if !in_hub_cache {
            fetched.write_beside(&dir)?;
        }
        fetched
    };
    let bundle = files.bundle.clone();
    let key_text = key
        .as_ref()
        .map(|k| std::fs::read_to_string(k).with_context(|| format!("reading {}", k.display())))
        .transpose()?;
    let pem = pinned(
        client.server(),
        "release.pub.pem",
        key_text,
        client.release_public_key(),
    )
    .await?;
    let proof_text = (!files.proof.is_empty()).then(|| files.proof.clone());
    let vkey = match &proof_text {
        Some(_) => Some(
            pinned(
                client.server(),
                "vkey",
                log_key.map(|k| format!("{}\n", k.trim())),
                async { Ok(format!("{}\n", client.log_vkey().await?)) },
            )
            .await?,
        ),
        None => None,
    };
    let opening = files.opening.clone();
    let report = weir_client::verify::verify_dir(
        &dir,
        &bundle,
        &pem,
        proof_text.as_deref().zip(vkey.as_deref().map(str::trim)),
        opening.as_deref(),
        target.as_ref().map(|(i, _)| i),
    )
    .await?;
    match report.logged {
        Some((size, index)) => println!(
            "{}: {} files match the signed manifest; the signature verifies; the release is entry {index} of the log (size {size}) under the pinned key",
            dir.display(),
            report.files
        ),
        None => println!(
            "{}: {} files match the signed manifest and the signature verifies (no {} to check the log)",
            dir.display(),
            report.files,
            proof_path.display()
        ),
    }
    Ok(())
}

/// A key pinned for the registry on first use, or given explicitly (which must match the pin).
async fn pinned(
    server: &str,
    file: &str,
    given: Option<String>,
    fetch: impl std::future::Future<Output = weir_client::Result<String>>,
) -> Result<String> {
    let (key, how) = weir_client::pins::key(server, file, given, fetch).await?;
    if how == weir_client::pins::Pinned::FirstUse {
        eprintln!(
            "pinned {file} of {server} on first use (pass it explicitly to pin one obtained out of band)"
        );
    }
    Ok(key)
}
