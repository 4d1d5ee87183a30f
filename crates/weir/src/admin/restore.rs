//! `weir admin restore IN`: a backup (see [`super::backup`]) into a data dir that does not
//! exist or is empty. Everything is checked (the database's SHA-256, every blob's bytes against
//! its name) before a file is written; the restored log must be the one backed up.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};

use super::backup::{
    FORMAT, blob_path, copy_hashed, empty_or_missing, private_dir, secret_files, sha256_file,
};
use crate::cli::open_store;

pub async fn run(data: &Path, input: &Path) -> Result<()> {
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
    if meta["format"] != FORMAT {
        bail!(
            "{} is not a {FORMAT} backup (format {})",
            input.display(),
            meta["format"]
        );
    }
    // Everything is checked before anything is written.
    let (db_sha, _) = sha256_file(&input.join("weir.db"))?;
    if Some(db_sha.as_str()) != meta["database"]["sha256"].as_str() {
        bail!(
            "{}/weir.db is not the database the backup wrote (its SHA-256 differs)",
            input.display()
        );
    }
    let manifest = std::fs::read_to_string(input.join("blobs.manifest"))
        .with_context(|| format!("reading {}/blobs.manifest", input.display()))?;
    let mut blobs = vec![];
    for line in manifest.lines() {
        let (sha, size) = line
            .split_once(' ')
            .ok_or_else(|| anyhow!("blobs.manifest: {line:?} is not `SHA256 SIZE`"))?;
        let size: u64 = size
            .parse()
            .map_err(|_| anyhow!("blobs.manifest: {line:?}"))?;
        let path = blob_path(&input.join("blobs"), sha)?;
        let (got, n) = sha256_file(&path)?;
        if got != sha || n != size {
            bail!(
                "{} does not hash to its name: the backup is damaged",
                path.display()
            );
        }
        blobs.push(sha.to_string());
    }
    let secrets = secret_files(&input.join("secrets"))?;
    private_dir(data)?;
    for sha in &blobs {
        copy_hashed(
            &blob_path(&input.join("blobs"), sha)?,
            &blob_path(&data.join("blobs"), sha)?,
            false,
        )?;
    }
    for f in &secrets {
        let name = f.file_name().ok_or_else(|| anyhow!("{}", f.display()))?;
        copy_hashed(f, &data.join("secrets").join(name), true)?;
    }
    copy_hashed(&input.join("weir.db"), &data.join("weir.db"), true)?;
    // Opening it applies any migration newer than the backup; its log must be the one backed up.
    let store = open_store(data).await?;
    let head = store.db.log_head().await.map_err(|e| anyhow!("{e}"))?;
    if Some(head.size) != meta["log"]["size"].as_i64() {
        bail!(
            "the restored log has {} entries, the backup says {}",
            head.size,
            meta["log"]["size"]
        );
    }
    let origin = std::fs::read_to_string(data.join("secrets").join("log.key"))
        .ok()
        .and_then(|k| weir_tlog::note::Signer::parse(&k).ok())
        .map(|s| s.name().to_string());
    println!(
        "restored {} into {}: log size {}, {} blobs, {} key files{}",
        input.display(),
        data.display(),
        head.size,
        blobs.len(),
        secrets.len(),
        match origin {
            Some(o) => format!("; serve it under the same public URL (its log's origin is {o})"),
            None => String::new(),
        }
    );
    Ok(())
}
