//! `weir push DIR NS/NAME`: hash every file, upload the missing ones through the LFS batch API
//! (streamed, in parallel), then make one commit. Unchanged files are not sent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use futures::{StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use weir_core::{RefName, RepoId, RepoPath};

use crate::{Client, ClientError, Result, encode_segment, hash_into, io_err};

pub struct PushOptions {
    pub branch: RefName,
    pub message: String,
    pub private: bool,
    /// Remove files from the branch that are not in the directory (`.gitattributes` is kept).
    pub delete_missing: bool,
    pub parallel: usize,
    pub progress: bool,
}

#[derive(Debug)]
pub struct PushOutcome {
    /// `None` when nothing changed.
    pub commit: Option<String>,
    /// Every local file: `uploaded + reused + unchanged`.
    pub files: usize,
    /// Files whose bytes this push sent.
    pub uploaded: usize,
    pub uploaded_bytes: u64,
    /// Changed files whose bytes the repo already held (no upload needed).
    pub reused: usize,
    pub unchanged: usize,
    pub deleted: usize,
}

struct LocalFile {
    path: RepoPath,
    abs: PathBuf,
    size: u64,
    sha256: String,
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(RepoPath, PathBuf)>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(io_err(dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(io_err(dir.display()))?;
        let abs = entry.path();
        let name = entry.file_name();
        if name == ".git" || name == ".weir" || name == ".cache" {
            continue;
        }
        let ft = match std::fs::metadata(&abs) {
            Ok(m) => m,
            // Removed while we walked: it is not part of the push.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err(abs.display())(e)),
        };
        if ft.is_dir() {
            walk(root, &abs, out)?;
        } else if ft.is_file() {
            let rel = abs.strip_prefix(root).map_err(|_| {
                ClientError::Invalid(format!("{} is outside {}", abs.display(), root.display()))
            })?;
            let rel = rel.to_str().ok_or_else(|| {
                ClientError::Invalid(format!("{}: file names must be UTF-8", abs.display()))
            })?;
            let path = RepoPath::parse(rel).map_err(|e| ClientError::Invalid(e.to_string()))?;
            out.push((path, abs));
        }
    }
    Ok(())
}

async fn hash_file(abs: &Path, bar: &ProgressBar) -> Result<(u64, String)> {
    let mut h = Sha256::new();
    let n = hash_into(abs, &mut h, |k| bar.inc(k))
        .await?
        .ok_or_else(|| {
            ClientError::Invalid(format!("{} disappeared while pushing", abs.display()))
        })?;
    Ok((n, hex::encode(h.finalize())))
}

fn bar(total: u64, show: bool, what: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{msg:10} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
    ) {
        b.set_style(style.progress_chars("=> "));
    }
    b.set_message(what.to_string());
    b
}

impl Client {
    pub async fn push(&self, dir: &Path, repo: &RepoId, opts: &PushOptions) -> Result<PushOutcome> {
        let mut found = Vec::new();
        walk(dir, dir, &mut found)?;
        found.sort();

        // Create the repo if needed (409 means it exists). This runs before hashing so that a bad token
        // or a namespace we may not write to fails before gigabytes are hashed.
        let create = self
            .request(reqwest::Method::POST, &self.url("/api/repos/create"))
            .json(&json!({"name": repo.name.as_str(), "organization": repo.namespace.as_str(), "private": opts.private}));
        match self.send(create).await {
            Ok(_) => {}
            Err(ClientError::Api { status: 409, .. }) => {}
            Err(e) => return Err(e),
        }

        let total: u64 = found
            .iter()
            .map(|(_, abs)| std::fs::metadata(abs).map(|m| m.len()).unwrap_or(0))
            .sum();
        let hashing = bar(total, opts.progress, "hashing");
        let mut files = Vec::with_capacity(found.len());
        for (path, abs) in found {
            let (size, sha256) = hash_file(&abs, &hashing).await?;
            files.push(LocalFile {
                path,
                abs,
                size,
                sha256,
            });
        }
        hashing.finish_and_clear();

        // What the branch holds now, to skip unchanged files and find deleted ones.
        let manifest_path = format!(
            "/api/v1/repos/{}/{}/manifest/{}",
            repo.namespace,
            repo.name,
            encode_segment(opts.branch.as_str())
        );
        let main_path = format!(
            "/api/v1/repos/{}/{}/manifest/main",
            repo.namespace, repo.name
        );
        let manifest: Result<Value> = match self.get_json(&manifest_path).await {
            // A new branch starts from main's head, as the server creates it.
            Err(ClientError::Api {
                status: 404, code, ..
            }) if code == "revision_not_found" => self.get_json(&main_path).await,
            other => other,
        };
        let (parent, remote) = match manifest {
            Ok(m) => {
                let mut remote = BTreeMap::new();
                for f in m["files"].as_array().cloned().unwrap_or_default() {
                    if let (Some(p), Some(s)) = (f["path"].as_str(), f["sha256"].as_str()) {
                        remote.insert(p.to_string(), s.to_string());
                    }
                }
                (m["commit"].as_str().map(str::to_string), remote)
            }
            Err(ClientError::Api {
                status: 404, code, ..
            }) if code == "revision_not_found" => (None, BTreeMap::new()),
            Err(e) => return Err(e),
        };

        let changed: Vec<&LocalFile> = files
            .iter()
            .filter(|f| remote.get(f.path.as_str()) != Some(&f.sha256))
            .collect();
        let deleted: Vec<String> = if opts.delete_missing {
            remote
                .keys()
                .filter(|p| {
                    p.as_str() != ".gitattributes"
                        && !files.iter().any(|f| f.path.as_str() == p.as_str())
                })
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        let unchanged = files.len() - changed.len();
        if changed.is_empty() && deleted.is_empty() {
            return Ok(PushOutcome {
                commit: None,
                files: files.len(),
                uploaded: 0,
                uploaded_bytes: 0,
                reused: 0,
                unchanged,
                deleted: 0,
            });
        }

        // Ask which objects the server lacks; upload those.
        let mut uniq: BTreeMap<&str, u64> = BTreeMap::new();
        for f in &changed {
            uniq.insert(&f.sha256, f.size);
        }
        let objects: Vec<Value> = uniq
            .iter()
            .map(|(oid, size)| json!({"oid": oid, "size": size}))
            .collect();
        let batch_url = self.url(&format!(
            "/{}/{}.git/info/lfs/objects/batch",
            repo.namespace, repo.name
        ));
        let batch: Value = self
            .send(
                self.request(reqwest::Method::POST, &batch_url)
                    .header("Accept", "application/vnd.git-lfs+json")
                    .header("Content-Type", "application/vnd.git-lfs+json")
                    .body(json!({"operation": "upload", "transfers": ["basic"], "objects": objects, "hash_algo": "sha256",
                                 "ref": {"name": format!("refs/heads/{}", opts.branch)}}).to_string()),
            )
            .await?
            .json()
            .await?;
        let mut uploads = Vec::new();
        for o in batch["objects"].as_array().cloned().unwrap_or_default() {
            if let Some(err) = o.get("error") {
                return Err(ClientError::Invalid(format!(
                    "server refused object {}: {}",
                    o["oid"], err["message"]
                )));
            }
            let Some(href) = o["actions"]["upload"]["href"].as_str() else {
                continue; // already stored
            };
            let oid = o["oid"].as_str().unwrap_or_default().to_string();
            let verify = o["actions"]["verify"]["href"].as_str().map(str::to_string);
            // The verify call carries the token: only ever to this server.
            if let Some(v) = &verify
                && !v.starts_with(&format!("{}/", self.server().trim_end_matches('/')))
            {
                return Err(ClientError::Invalid(format!(
                    "the server named a verify URL on another host ({v}); refusing to send the token there"
                )));
            }
            let file = changed.iter().find(|f| f.sha256 == oid).ok_or_else(|| {
                ClientError::Invalid(format!("server asked for unknown object {oid}"))
            })?;
            uploads.push((href.to_string(), verify, file.abs.clone(), file.size, oid));
        }
        let upload_total: u64 = uploads.iter().map(|u| u.3).sum();
        let sent: std::collections::BTreeSet<String> =
            uploads.iter().map(|u| u.4.clone()).collect();
        let uploaded = changed.iter().filter(|f| sent.contains(&f.sha256)).count();
        let reused = changed.len() - uploaded;
        let up_bar = bar(upload_total, opts.progress, "uploading");
        futures::stream::iter(uploads.into_iter().map(|(href, verify, abs, size, oid)| {
            let up_bar = up_bar.clone();
            async move {
                let f = tokio::fs::File::open(&abs)
                    .await
                    .map_err(io_err(abs.display()))?;
                let progress = up_bar.clone();
                let stream = tokio_util::io::ReaderStream::with_capacity(f, 1 << 20)
                    .inspect_ok(move |c| progress.inc(c.len() as u64));
                // The signed link authorizes itself: no token is sent with it.
                let put = self
                    .http
                    .put(&href)
                    .header("Content-Length", size)
                    .body(reqwest::Body::wrap_stream(stream));
                self.send(put).await?;
                if let Some(v) = verify {
                    self.send(
                        self.request(reqwest::Method::POST, &v)
                            .json(&json!({"oid": oid, "size": size})),
                    )
                    .await?;
                }
                Ok::<_, ClientError>(())
            }
        }))
        .buffer_unordered(opts.parallel.max(1))
        .try_collect::<Vec<_>>()
        .await?;
        up_bar.finish_and_clear();

        let mut body = String::new();
        let mut header = json!({"summary": opts.message, "description": ""});
        if let Some(p) = &parent {
            header["parentCommit"] = json!(p);
        }
        body.push_str(&json!({"key": "header", "value": header}).to_string());
        body.push('\n');
        for f in &changed {
            let line = json!({"key": "lfsFile", "value": {"path": f.path.as_str(), "algo": "sha256", "oid": f.sha256, "size": f.size}});
            body.push_str(&line.to_string());
            body.push('\n');
        }
        for p in &deleted {
            body.push_str(&json!({"key": "deletedFile", "value": {"path": p}}).to_string());
            body.push('\n');
        }
        let commit_url = self.url(&format!(
            "/api/models/{}/{}/commit/{}",
            repo.namespace,
            repo.name,
            encode_segment(opts.branch.as_str())
        ));
        let resp: Value = self
            .send(
                self.request(reqwest::Method::POST, &commit_url)
                    .header("Content-Type", "application/x-ndjson")
                    .body(body),
            )
            .await?
            .json()
            .await?;
        Ok(PushOutcome {
            commit: resp["commitOid"].as_str().map(str::to_string),
            files: files.len(),
            uploaded,
            uploaded_bytes: upload_total,
            reused,
            unchanged,
            deleted: deleted.len(),
        })
    }
}
