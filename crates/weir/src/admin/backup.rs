//! `weir admin backup OUT` (and the format `weir admin restore IN` reads).
//!
//! A backup is a directory, consistent at one moment (one transaction of the database, so at
//! the log checkpoint signed in it):
//! - `weir.db`: a copy of the database (SQLite's `VACUUM INTO`; the server may keep running);
//! - `blobs/sha256/xx/SHA`: every blob that copy knows, each checked against its name while it
//!   is copied (content addressing makes a blob written later harmless: it is simply not in the
//!   copy's world);
//! - `blobs.manifest`: `SHA256 SIZE` per line;
//! - `secrets/`: the registry's keys (upload, log, release, and any other key file), 0600;
//! - `backup.json`: the format, when, the database's SHA-256, the log's size and checkpoint.
//!
//! The directory is created 0700: it holds the keys. A restore checks everything (the
//! database's digest, every blob's bytes) before it writes a file, into a data dir that does
//! not exist or is empty, and never over a live one.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::json;
use sha2::{Digest, Sha256};

/// The format written in `backup.json`.
pub const FORMAT: &str = "weir-backup-1";

pub(super) fn private_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {}", path.display()))?;
    }
    Ok(())
}

pub(super) fn empty_or_missing(path: &Path) -> Result<bool> {
    match std::fs::read_dir(path) {
        Ok(mut d) => Ok(d.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(anyhow!("{}: {e}", path.display())),
    }
}

/// Copies `from` to `to` (created 0600 when `secret`), returning the SHA-256 of the bytes.
pub(super) fn copy_hashed(from: &Path, to: &Path, secret: bool) -> Result<(String, u64)> {
    let mut input =
        std::fs::File::open(from).with_context(|| format!("reading {}", from.display()))?;
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(if secret { 0o600 } else { 0o644 });
    }
    let mut out = opts
        .open(to)
        .with_context(|| format!("writing {}", to.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = input
            .read(&mut buf)
            .with_context(|| format!("reading {}", from.display()))?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        out.write_all(&buf[..k])
            .with_context(|| format!("writing {}", to.display()))?;
        n += k as u64;
    }
    out.sync_all()
        .with_context(|| format!("writing {}", to.display()))?;
    Ok((hex::encode(h.finalize()), n))
}

pub(super) fn sha256_file(path: &Path) -> Result<(String, u64)> {
    let mut f = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((hex::encode(h.finalize()), n))
}

/// Where a blob lives under a blob root (the store's layout).
pub(super) fn blob_path(root: &Path, sha: &str) -> Result<PathBuf> {
    if sha.len() != 64
        || !sha
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        bail!("{sha:?} is not a blob's SHA-256");
    }
    Ok(root.join("sha256").join(&sha[..2]).join(sha))
}

/// Writes `bytes` to a new file and syncs it.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// The key files of a `secrets` directory. A live registry's keys may be symlinks (a mounted
/// secret): `follow` reads through them. A backup's must be plain files: anything else is
/// refused, never skipped.
pub(super) fn secret_files(dir: &Path, follow: bool) -> Result<Vec<PathBuf>> {
    let mut out = vec![];
    match std::fs::read_dir(dir) {
        Ok(d) => {
            for e in d {
                let e = e?;
                let meta = if follow {
                    std::fs::metadata(e.path())?
                } else {
                    std::fs::symlink_metadata(e.path())?
                };
                if meta.is_file() {
                    out.push(e.path());
                } else if !follow || !meta.is_dir() {
                    bail!(
                        "{} is not a plain file: a backup's keys are files",
                        e.path().display()
                    );
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => bail!("{}: {e}", dir.display()),
    }
    out.sort();
    Ok(out)
}

/// Copies the data dir's key files into `out/secrets` (0700, each 0600); their names.
fn copy_secrets(data: &Path, out: &Path) -> Result<Vec<String>> {
    let mut secrets = vec![];
    for f in secret_files(&data.join("secrets"), true)? {
        let name = f
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| anyhow!("{}: not a UTF-8 name", f.display()))?
            .to_string();
        copy_hashed(&f, &out.join("secrets").join(&name), true)?;
        secrets.push(name);
    }
    #[cfg(unix)]
    if out.join("secrets").exists() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(out.join("secrets"), std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(secrets)
}

/// The format of a backup of a registry on PostgreSQL (and perhaps S3).
pub const FORMAT_POSTGRES: &str = "weir-backup-postgresql-1";

/// Runs one of PostgreSQL's client tools (`pg_dump`, `pg_restore`) on `database`, the password
/// passed in `PGPASSWORD`, never on the command line.
pub(super) async fn libpq_tool(
    tool: &str,
    args: &[&std::ffi::OsStr],
    database: &str,
) -> Result<()> {
    let (url, password) = weir_store::dialect::libpq_parts(database);
    let mut cmd = std::process::Command::new(tool);
    cmd.args(args).arg("--dbname").arg(&url);
    if let Some(pw) = password {
        cmd.env("PGPASSWORD", pw);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .map_err(|e| anyhow!("running {tool}: {e}"))?
        .map_err(|e| {
        anyhow!(
            "running {tool}: {e} (install PostgreSQL's client tools, apt-get install postgresql-client, of the server's major version or newer)"
        )
    })?;
    if !out.status.success() {
        bail!(
            "{tool} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// `weir admin --database URL [--blobs s3://…] backup OUT`: the database by `pg_dump` of one
/// exported snapshot, and, read in that same snapshot, the blob manifest and the log's head.
/// Blobs in the data dir are copied (checked against their names); blobs on S3 stay there (the
/// bucket's versioning or replication keeps them) and each is checked to be present whole.
pub async fn run_postgres(
    data: &Path,
    out: &Path,
    database: &str,
    blobs: Option<&weir_store::S3Settings>,
) -> Result<()> {
    if !empty_or_missing(out)? {
        bail!(
            "{} is not empty: a backup goes into a new directory",
            out.display()
        );
    }
    let store = crate::cli::open_store(data, Some(database), blobs).await?;
    private_dir(out)?;
    let mut snap = store
        .db
        .export_snapshot()
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let manifest = snap.blob_manifest().await.map_err(|e| anyhow!("{e}"))?;
    let head = snap.log_head().await.map_err(|e| anyhow!("{e}"))?;
    let dump = out.join("database.dump");
    let dumped = libpq_tool(
        "pg_dump",
        &[
            "--format=custom".as_ref(),
            "--no-owner".as_ref(),
            "--no-privileges".as_ref(),
            "--snapshot".as_ref(),
            snap.id.as_ref(),
            "--file".as_ref(),
            dump.as_os_str(),
        ],
        database,
    )
    .await;
    snap.close().await;
    dumped?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dump, std::fs::Permissions::from_mode(0o600))?;
    }
    let mut lines = String::new();
    let mut bytes = 0u64;
    let blobs_in = match store.blobs.remote() {
        Some(remote) => {
            for (sha, size) in &manifest {
                let hex = weir_core::Sha256Hex::parse(sha).map_err(|e| anyhow!("{e}"))?;
                if store.blobs.size(&hex).await != Some(*size as u64) {
                    bail!(
                        "blob {sha}, known to the database at the snapshot, is not whole in {} (collected since?): run the backup again",
                        remote.name
                    );
                }
                bytes += *size as u64;
                lines.push_str(&format!("{sha} {size}\n"));
            }
            remote.name.clone()
        }
        None => {
            let (from_root, to_root) = (data.join("blobs"), out.join("blobs"));
            for (sha, size) in &manifest {
                let from = blob_path(&from_root, sha)?;
                let (got, n) =
                    copy_hashed(&from, &blob_path(&to_root, sha)?, false).with_context(|| {
                        format!("blob {sha}, known to the database at the snapshot")
                    })?;
                if got != *sha || n != *size as u64 {
                    bail!(
                        "blob {sha} in {} does not hash to its name: the store is damaged",
                        from.display()
                    );
                }
                bytes += n;
                lines.push_str(&format!("{sha} {size}\n"));
            }
            "backup".to_string()
        }
    };
    store.db.close().await;
    let secrets = copy_secrets(data, out)?;
    let (db_sha, _) = sha256_file(&dump)?;
    let meta = json!({
        "format": FORMAT_POSTGRES,
        "created_at": weir_registry::clock::iso8601(weir_registry::clock::now()),
        "database": {"file": "database.dump", "sha256": db_sha, "source": weir_store::dialect::redacted(database)},
        "log": {"size": head.size, "checkpoint": head.checkpoint},
        "blobs": {"count": manifest.len(), "bytes": bytes, "in": blobs_in},
        "secrets": secrets,
    });
    write_synced(&out.join("blobs.manifest"), lines.as_bytes())?;
    write_synced(&out.join("backup.json"), &serde_json::to_vec_pretty(&meta)?)?;
    std::fs::File::open(out)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", out.display()))?;
    println!(
        "backed up {} into {}: the database (pg_dump of one snapshot) at log size {}, {} blobs ({bytes} bytes, {}), {} key files",
        weir_store::dialect::redacted(database),
        out.display(),
        head.size,
        manifest.len(),
        if blobs_in == "backup" {
            "copied".to_string()
        } else {
            format!("kept in {blobs_in}")
        },
        secrets.len()
    );
    Ok(())
}

pub async fn run(data: &Path, out: &Path) -> Result<()> {
    if !empty_or_missing(out)? {
        bail!(
            "{} is not empty: a backup goes into a new directory",
            out.display()
        );
    }
    // The live registry is only read: no migration, no blob-store start-up (which would clear
    // its uploads in progress), nothing created where the path is wrong.
    let live = weir_store::Db::open_sqlite_readonly(&data.join("weir.db"))
        .await
        .map_err(|e| anyhow!("{}: {e}", data.display()))?;
    private_dir(out)?;
    let db_copy = out.join("weir.db");
    live.snapshot_into(&db_copy)
        .await
        .map_err(|e| anyhow!("copying the database: {e}"))?;
    live.close().await;
    // Everything else is read from the copy: the moment it was taken.
    let copy = weir_store::Db::open_sqlite(&db_copy)
        .await
        .map_err(|e| anyhow!("opening the copy {}: {e}", db_copy.display()))?;
    let manifest = copy.blob_manifest().await.map_err(|e| anyhow!("{e}"))?;
    let head = copy.log_head().await.map_err(|e| anyhow!("{e}"))?;
    copy.close().await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&db_copy, std::fs::Permissions::from_mode(0o600))?;
    }
    let blobs_from = data.join("blobs");
    let blobs_to = out.join("blobs");
    let mut lines = String::new();
    let mut bytes = 0u64;
    for (sha, size) in &manifest {
        let from = blob_path(&blobs_from, sha)?;
        if !from.exists() {
            bail!(
                "blob {sha}, known to the database at the copy, is gone from {} (collected since?): run the backup again",
                blobs_from.display()
            );
        }
        let (got, n) = copy_hashed(&from, &blob_path(&blobs_to, sha)?, false)?;
        if got != *sha || n != *size as u64 {
            bail!(
                "blob {sha} in {} does not hash to its name: the store is damaged",
                from.display()
            );
        }
        bytes += n;
        lines.push_str(&format!("{sha} {size}\n"));
    }
    let secrets = copy_secrets(data, out)?;
    let (db_sha, _) = sha256_file(&db_copy)?;
    let meta = json!({
        "format": FORMAT,
        "created_at": weir_registry::clock::iso8601(weir_registry::clock::now()),
        "database": {"file": "weir.db", "sha256": db_sha},
        "log": {"size": head.size, "checkpoint": head.checkpoint},
        "blobs": {"count": manifest.len(), "bytes": bytes},
        "secrets": secrets,
    });
    // Written last, and on disk before the backup says it is done: a backup without it is
    // unfinished, and restore refuses it.
    write_synced(&out.join("blobs.manifest"), lines.as_bytes())?;
    write_synced(&out.join("backup.json"), &serde_json::to_vec_pretty(&meta)?)?;
    std::fs::File::open(out)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", out.display()))?;
    println!(
        "backed up {} into {}: the database at log size {}, {} blobs ({bytes} bytes), {} key files",
        data.display(),
        out.display(),
        head.size,
        manifest.len(),
        secrets.len()
    );
    Ok(())
}
