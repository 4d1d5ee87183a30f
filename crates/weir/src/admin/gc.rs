//! `weir admin gc`.

use anyhow::{Result, anyhow};

use weir_store::Store;

#[derive(clap::Args)]
pub struct Args {
    /// Keep anything younger than this many hours (uploads waiting for their commit).
    #[arg(long, default_value_t = 24)]
    grace_hours: u64,
    /// Report what would be removed, remove nothing.
    #[arg(long)]
    dry_run: bool,
}

pub async fn run(store: &Store, args: Args) -> Result<()> {
    let Args {
        grace_hours,
        dry_run,
    } = args;
    let r = store
        .collect_garbage(
            time::OffsetDateTime::now_utc().unix_timestamp(),
            std::time::Duration::from_secs(grace_hours.saturating_mul(3600)),
            dry_run,
        )
        .await
        .map_err(|e| anyhow!("{e}"))?;
    println!(
        "{}{} blobs and {} leftover files ({} bytes); {} uncommitted uploads forgotten{}",
        if dry_run { "would remove " } else { "removed " },
        r.blobs_removed,
        r.orphan_files_removed,
        r.bytes_freed,
        r.uploads_forgotten,
        if r.cache_files_evicted > 0 {
            format!(
                "; {} cached copies evicted (the object store keeps them)",
                r.cache_files_evicted
            )
        } else {
            String::new()
        }
    );
    Ok(())
}
