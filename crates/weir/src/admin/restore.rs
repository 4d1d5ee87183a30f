//! `weir admin restore IN`: a backup (see [`super::backup`]) into a data dir that does not
//! exist or is empty. Everything is copied into a staging directory and checked as it is copied
//! (the database's SHA-256, every blob's bytes against its name, the blobs against the ones the
//! database knows, the log and its key); only then does the staging directory become the data
//! dir, by one rename. `backup.json` is not signed: these checks catch damage, not a backup made
//! to deceive, so restore only backups you kept.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};

use super::backup::{
    FORMAT, FORMAT_POSTGRES, blob_path, copy_hashed, empty_or_missing, libpq_tool, private_dir,
    secret_files,
};
use crate::cli::open_store;

/// Where a restore writes: the database (`None`: the data dir's SQLite file) and the blobs.
pub struct Target<'a> {
    pub database: Option<&'a str>,
    pub blobs: Option<&'a weir_store::S3Settings>,
}

pub async fn run(data: &Path, input: &Path, target: Target<'_>) -> Result<()> {
    if !empty_or_missing(data)? {
        bail!(
            "{} is not empty: restore into a new data dir (never over a registry's own)",
            data.display()
        );
    }
    let meta: serde_json::Value = serde_json::from_slice(
        &std::fs::read(input.join("backup.json"))
            .with_context(|| format!("reading {}/backup.json", input.display()))?,
    )
    .with_context(|| format!("{}/backup.json is not JSON", input.display()))?;
    let postgres = meta["format"] == FORMAT_POSTGRES;
    if !postgres && meta["format"] != FORMAT {
        bail!(
            "{} is not a weir backup ({FORMAT} or {FORMAT_POSTGRES}; its format is {})",
            input.display(),
            meta["format"]
        );
    }
    match (postgres, target.database) {
        (true, None) => bail!(
            "{} is a backup of a registry on PostgreSQL: restore it into a new, empty database with --database postgres://… (createdb --locale=C --encoding=UTF8 --template=template0 NAME)",
            input.display()
        ),
        (false, Some(_)) => bail!(
            "{} is a backup of an embedded SQLite registry: restore it without --database",
            input.display()
        ),
        (true, Some(url)) => {
            if !weir_store::backup::postgres_is_empty(url)
                .await
                .map_err(|e| anyhow!("{}: {e}", weir_store::dialect::redacted(url)))?
            {
                bail!(
                    "the database {} is not empty: restore into a new, empty database (never over a registry's own)",
                    weir_store::dialect::redacted(url)
                );
            }
        }
        (false, None) => {}
    }
    let blobs_in = meta["blobs"]["in"].as_str().unwrap_or("backup");
    match (blobs_in, target.blobs) {
        ("backup", Some(_)) => bail!(
            "the backup holds its blobs' bytes: restore it without --blobs (a data dir's blobs)"
        ),
        ("backup", None) => {}
        (store, None) => bail!(
            "the backup's blobs are kept in {store}: restore it with --blobs naming that store (or a copy of it)"
        ),
        (_, Some(_)) => {}
    }
    // Everything is copied into a staging directory beside the target and checked there, as
    // it is copied (each file read once); only a staging directory that passed every check
    // becomes the data dir, by one rename. A failure leaves nothing a server would start on.
    let parent = match data.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    let name = data
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow!("{}: not a directory name", data.display()))?;
    let stage = parent.join(format!(
        ".{name}.restoring-{}",
        hex::encode(rand::random::<[u8; 6]>())
    ));
    let staged = stage_into(&stage, input, &meta, &target).await;
    let summary = match staged {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&stage);
            return Err(e);
        }
    };
    if data.exists() {
        // Checked empty above; one that filled up meanwhile makes this fail, and nothing moves.
        if let Err(e) = std::fs::remove_dir(data) {
            let _ = std::fs::remove_dir_all(&stage);
            bail!("{}: {e} (restore into a new data dir)", data.display());
        }
    }
    std::fs::rename(&stage, data)
        .with_context(|| format!("moving the restored registry to {}", data.display()))?;
    std::fs::File::open(&parent)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", parent.display()))?;
    println!(
        "restored {} into {}: {summary}",
        input.display(),
        data.display()
    );
    Ok(())
}

/// Copies and checks the backup into `stage`; what it restored, for the summary.
async fn stage_into(
    stage: &Path,
    input: &Path,
    meta: &serde_json::Value,
    target: &Target<'_>,
) -> Result<String> {
    private_dir(stage)?;
    let db_file = if target.database.is_some() {
        "database.dump"
    } else {
        "weir.db"
    };
    // The dump is checked in the staging directory and restored from there (read once).
    let (db_sha, _) = copy_hashed(&input.join(db_file), &stage.join(db_file), true)?;
    if Some(db_sha.as_str()) != meta["database"]["sha256"].as_str() {
        bail!(
            "{}/{db_file} is not the database the backup wrote (its SHA-256 differs)",
            input.display()
        );
    }
    let bytes_here = target.blobs.is_none();
    let manifest = std::fs::read_to_string(input.join("blobs.manifest"))
        .with_context(|| format!("reading {}/blobs.manifest", input.display()))?;
    let mut blobs: Vec<(String, i64)> = vec![];
    for line in manifest.lines() {
        let (sha, size) = line
            .split_once(' ')
            .ok_or_else(|| anyhow!("blobs.manifest: {line:?} is not `SHA256 SIZE`"))?;
        let size: i64 = size
            .parse()
            .map_err(|_| anyhow!("blobs.manifest: {line:?}"))?;
        if bytes_here {
            let from = blob_path(&input.join("blobs"), sha)?;
            let (got, n) = copy_hashed(&from, &blob_path(&stage.join("blobs"), sha)?, false)?;
            if got != sha || i64::try_from(n).ok() != Some(size) {
                bail!(
                    "{} does not hash to its name: the backup is damaged",
                    from.display()
                );
            }
        }
        blobs.push((sha.to_string(), size));
    }
    if Some(blobs.len() as u64) != meta["blobs"]["count"].as_u64() {
        bail!(
            "blobs.manifest lists {} blobs, backup.json says {}",
            blobs.len(),
            meta["blobs"]["count"]
        );
    }
    let secrets = secret_files(&input.join("secrets"), false)?;
    for f in &secrets {
        let name = f.file_name().ok_or_else(|| anyhow!("{}", f.display()))?;
        copy_hashed(f, &stage.join("secrets").join(name), true)?;
    }
    let log_size = meta["log"]["size"].as_i64().unwrap_or(-1);
    let signer = std::fs::read_to_string(stage.join("secrets").join("log.key"))
        .ok()
        .map(|k| weir_tlog::note::Signer::parse(&k))
        .transpose()
        .map_err(|e| anyhow!("secrets/log.key: {e}"))?;
    if log_size > 0 && signer.is_none() {
        bail!(
            "the backup has a log of {log_size} entries but no secrets/log.key: restored, it would sign under a new key"
        );
    }
    if let Some(url) = target.database {
        let dump = stage.join(db_file);
        libpq_tool(
            "pg_restore",
            &[
                "--no-owner".as_ref(),
                "--no-privileges".as_ref(),
                "--exit-on-error".as_ref(),
                "--single-transaction".as_ref(),
                dump.as_os_str(),
            ],
            url,
        )
        .await?;
        std::fs::remove_file(&dump).with_context(|| format!("removing {}", dump.display()))?;
    }
    // Opening it applies any migration newer than the backup; it must be the registry backed
    // up: the same log, the same blobs.
    let store = open_store(stage, target.database, target.blobs).await?;
    if target.blobs.is_some() {
        for (sha, size) in &blobs {
            let hex = weir_core::Sha256Hex::parse(sha).map_err(|e| anyhow!("{e}"))?;
            if store.blobs.size(&hex).await != Some(*size as u64) {
                bail!(
                    "blob {sha} of the backup is not whole in the blob store: restore the bucket first"
                );
            }
        }
    }
    let head = store.db.log_head().await.map_err(|e| anyhow!("{e}"))?;
    let known = store.db.blob_manifest().await.map_err(|e| anyhow!("{e}"))?;
    store.db.close().await;
    if head.size != log_size || head.checkpoint.as_deref() != meta["log"]["checkpoint"].as_str() {
        bail!(
            "the restored log (size {}) is not the one the backup names (size {log_size})",
            head.size
        );
    }
    if known != blobs {
        bail!("the backup's blobs are not the ones its database knows: the backup is damaged");
    }
    let origin = signer.map(|s| s.name().to_string());
    if let (Some(o), Some(cp)) = (&origin, &head.checkpoint)
        && cp.lines().next() != Some(o.as_str())
    {
        bail!("the log's checkpoint is not for the origin of secrets/log.key ({o})");
    }
    Ok(format!(
        "log size {}, {} blobs, {} key files{}",
        head.size,
        blobs.len(),
        secrets.len(),
        match origin {
            Some(o) => format!("; serve it under the same public URL (its log's origin is {o})"),
            None => String::new(),
        }
    ))
}
