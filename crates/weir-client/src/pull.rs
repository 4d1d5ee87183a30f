//! `weir pull NS/NAME[@REV] [DIR]`: fetch the revision's manifest, download the files that are
//! missing or differ (in parallel), resume partial downloads with `Range`, and check the SHA-256
//! of every byte before a file is moved into place.

use std::path::{Path, PathBuf};

use futures::{StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use weir_core::{RepoId, RepoPath, Sha256Hex};

use crate::{Client, ClientError, Result, encode_path, encode_segment, hash_into, io_err};

pub struct PullOptions {
    pub revision: String,
    pub parallel: usize,
    pub progress: bool,
}

#[derive(Debug)]
pub struct PullOutcome {
    pub commit: String,
    pub files: usize,
    pub downloaded: usize,
    pub downloaded_bytes: u64,
    pub resumed: usize,
    pub up_to_date: usize,
}

struct Wanted {
    path: RepoPath,
    size: u64,
    sha256: Sha256Hex,
}

/// Hashes a local file; `None` if it does not exist.
async fn local_sha256(path: &Path) -> Result<Option<(u64, String)>> {
    let mut h = Sha256::new();
    Ok(hash_into(path, &mut h, |_| {})
        .await?
        .map(|n| (n, hex::encode(h.finalize()))))
}

enum Fetched {
    Done { resumed: bool },
}

impl Client {
    pub async fn pull(&self, repo: &RepoId, dir: &Path, opts: &PullOptions) -> Result<PullOutcome> {
        let manifest: Value = self
            .get_json(&format!(
                "/api/v1/repos/{}/{}/manifest/{}",
                repo.namespace,
                repo.name,
                encode_segment(&opts.revision)
            ))
            .await?;
        let commit = manifest["commit"]
            .as_str()
            .ok_or_else(|| ClientError::Invalid("manifest without a commit".into()))?
            .to_string();
        let mut wanted = Vec::new();
        for f in manifest["files"].as_array().cloned().unwrap_or_default() {
            wanted.push(parse_entry(&f)?);
        }
        let files = wanted.len();
        // Asked before anything is written: a denied pull leaves nothing behind (no directory,
        // no partial file), and says why and what to do.
        let check = self.access_check(repo, &commit).await?;
        if !check.allow {
            return Err(ClientError::Api {
                status: 403,
                code: check.reason,
                message: check.message,
                next: check.next,
            });
        }
        let created_dir = !tokio::fs::try_exists(dir).await.unwrap_or(false);
        let partial_dir = dir.join(".weir").join("partial");
        tokio::fs::create_dir_all(&partial_dir)
            .await
            .map_err(io_err(partial_dir.display()))?;
        let result = self
            .pull_into(repo, &commit, dir, &partial_dir, wanted, opts)
            .await;
        if let Err(ClientError::Api { .. }) = &result {
            // Refused midway (a hold, a revocation): what resuming needs stays, empty
            // directories this pull made do not.
            let _ = tokio::fs::remove_dir(&partial_dir).await;
            let _ = tokio::fs::remove_dir(dir.join(".weir")).await;
            if created_dir {
                let _ = tokio::fs::remove_dir(dir).await;
            }
        }
        let (downloaded, total, resumed, up_to_date) = result?;
        Ok(PullOutcome {
            commit,
            files,
            downloaded,
            downloaded_bytes: total,
            resumed,
            up_to_date,
        })
    }

    /// Fetches what is missing of `wanted` into `dir`: (downloaded, bytes, resumed, up to date).
    async fn pull_into(
        &self,
        repo: &RepoId,
        commit: &str,
        dir: &Path,
        partial_dir: &Path,
        wanted: Vec<Wanted>,
        opts: &PullOptions,
    ) -> Result<(usize, u64, usize, usize)> {
        let files = wanted.len();

        // Skip files already present with the right content.
        let mut todo = Vec::new();
        for w in wanted {
            let dest = dir.join(w.path.as_str());
            match local_sha256(&dest).await? {
                Some((n, sha)) if n == w.size && sha == w.sha256.as_str() => {}
                _ => todo.push(w),
            }
        }
        let up_to_date = files - todo.len();
        // Identical files are fetched once (their partial file is named by the content) and
        // copied to the other paths once the bytes are checked.
        let mut seen = std::collections::BTreeSet::new();
        let (todo, copies): (Vec<Wanted>, Vec<Wanted>) = todo
            .into_iter()
            .partition(|w| seen.insert(w.sha256.as_str().to_string()));
        let total: u64 = todo.iter().map(|w| w.size).sum();
        let bar = if opts.progress {
            ProgressBar::new(total)
        } else {
            ProgressBar::hidden()
        };
        if let Ok(style) = ProgressStyle::with_template(
            "{msg:10} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message("pulling");
        let downloaded = todo.len() + copies.len();
        let sources: std::collections::BTreeMap<String, std::path::PathBuf> = todo
            .iter()
            .map(|w| (w.sha256.as_str().to_string(), dir.join(w.path.as_str())))
            .collect();
        let results: Vec<Fetched> = futures::stream::iter(todo.into_iter().map(|w| {
            let bar = bar.clone();
            async move {
                self.fetch_file(repo, commit, dir, partial_dir, &w, &bar)
                    .await
            }
        }))
        .buffer_unordered(opts.parallel.max(1))
        .try_collect()
        .await?;
        bar.finish_and_clear();
        for w in &copies {
            let dest = dir.join(w.path.as_str());
            let Some(src) = sources.get(w.sha256.as_str()) else {
                continue;
            };
            if let Some(parent) = dest.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(io_err(parent.display()))?;
            }
            // Through the partial directory and a rename, as every file lands: never through
            // whatever already sits at the destination (a symlink is replaced, not followed).
            let tmp = partial_dir.join(format!("{}.copy", w.sha256.as_str()));
            tokio::fs::copy(src, &tmp)
                .await
                .map_err(io_err(tmp.display()))?;
            tokio::fs::rename(&tmp, &dest)
                .await
                .map_err(io_err(dest.display()))?;
        }
        let _ = tokio::fs::remove_dir(partial_dir).await;
        let _ = tokio::fs::remove_dir(dir.join(".weir")).await;
        let resumed = results
            .iter()
            .filter(|r| matches!(r, Fetched::Done { resumed: true }))
            .count();
        Ok((downloaded, total, resumed, up_to_date))
    }

    async fn fetch_file(
        &self,
        repo: &RepoId,
        commit: &str,
        dir: &Path,
        partial_dir: &Path,
        w: &Wanted,
        bar: &ProgressBar,
    ) -> Result<Fetched> {
        let partial = partial_dir.join(w.sha256.as_str());
        let url = self.url(&format!(
            "/{}/{}/resolve/{commit}/{}",
            repo.namespace,
            repo.name,
            encode_path(w.path.as_str())
        ));
        let mut attempts = 0;
        let mut resumed_any = false;
        loop {
            attempts += 1;
            match self.download_once(&url, &partial, w, bar).await {
                Ok(resumed) => {
                    resumed_any |= resumed;
                    break;
                }
                Err(e @ ClientError::Integrity { .. }) => {
                    let _ = tokio::fs::remove_file(&partial).await;
                    if attempts >= 2 {
                        return Err(e);
                    }
                }
                Err(e @ (ClientError::Http(_) | ClientError::Connect { .. })) if attempts < 4 => {
                    tracing::warn!(path = %w.path, error = %e, "download interrupted; resuming");
                    tokio::time::sleep(std::time::Duration::from_millis(250 * attempts)).await;
                }
                Err(e) => return Err(e),
            }
        }
        let dest: PathBuf = dir.join(w.path.as_str());
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(io_err(parent.display()))?;
        }
        tokio::fs::rename(&partial, &dest)
            .await
            .map_err(io_err(dest.display()))?;
        Ok(Fetched::Done {
            resumed: resumed_any,
        })
    }

    /// One attempt: hash what the partial file already holds, request the rest, append while
    /// hashing, then compare. Returns whether it resumed.
    async fn download_once(
        &self,
        url: &str,
        partial: &Path,
        w: &Wanted,
        bar: &ProgressBar,
    ) -> Result<bool> {
        let mut hasher = Sha256::new();
        let mut have = hash_into(partial, &mut hasher, |_| {}).await?.unwrap_or(0);
        if have > w.size {
            let _ = tokio::fs::remove_file(partial).await;
            hasher = Sha256::new();
            have = 0;
        }
        let mut resumed = false;
        if have < w.size || w.size == 0 {
            let mut rb = self.request(reqwest::Method::GET, url);
            if have > 0 {
                rb = rb.header("Range", format!("bytes={have}-"));
            }
            let resp = self.send(rb).await?;
            let mut file = if resp.status() == reqwest::StatusCode::PARTIAL_CONTENT && have > 0 {
                resumed = true;
                bar.inc(have);
                tokio::fs::OpenOptions::new()
                    .append(true)
                    .open(partial)
                    .await
                    .map_err(io_err(partial.display()))?
            } else {
                // A full answer: start over.
                hasher = Sha256::new();
                have = 0;
                tokio::fs::File::create(partial)
                    .await
                    .map_err(io_err(partial.display()))?
            };
            let mut stream = resp.bytes_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                have += chunk.len() as u64;
                if have > w.size {
                    break;
                }
                hasher.update(&chunk);
                file.write_all(&chunk)
                    .await
                    .map_err(io_err(partial.display()))?;
                bar.inc(chunk.len() as u64);
            }
            file.flush().await.map_err(io_err(partial.display()))?;
            file.sync_all().await.map_err(io_err(partial.display()))?;
        }
        let got = hex::encode(hasher.finalize());
        if have != w.size || got != w.sha256.as_str() {
            return Err(ClientError::Integrity {
                path: w.path.to_string(),
                expected: format!("{} ({} bytes)", w.sha256, w.size),
                got: format!("{got} ({have} bytes)"),
            });
        }
        Ok(resumed)
    }
}

/// Never trust a server's paths: they are re-validated before anything is written.
fn parse_entry(f: &Value) -> Result<Wanted> {
    let bad = || ClientError::Invalid(format!("malformed manifest entry {f}"));
    let path = RepoPath::parse(f["path"].as_str().ok_or_else(bad)?)
        .map_err(|e| ClientError::Invalid(e.to_string()))?;
    let size = f["size"].as_u64().ok_or_else(bad)?;
    let sha256 = Sha256Hex::parse(f["sha256"].as_str().ok_or_else(bad)?)
        .map_err(|e| ClientError::Invalid(e.to_string()))?;
    Ok(Wanted { path, size, sha256 })
}
