//! Releases and offline verification: `weir release`, the `DIR.sig` / `DIR.sig.tlog-proof`
//! files written beside a pulled directory, and `weir verify DIR`, which checks the directory
//! against the bundle, the bundle's signature, and (when the proof file is there) that the
//! release is in a checkpoint signed by the pinned log key, all without the network.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};
use weir_core::RepoId;
use weir_signing::model_signing::{Resource, compare, is_ignored, verify_bundle};
use weir_tlog::note::Verifier;
use weir_tlog::proof::ProofFile;

use crate::{Client, ClientError, Result, encode_segment, hash_into, io_err};

fn invalid(e: impl std::fmt::Display) -> ClientError {
    ClientError::Invalid(e.to_string())
}

/// `DIR.sig` and `DIR.sig.tlog-proof`, beside the directory (never inside it).
pub fn signature_paths(dir: &Path) -> (PathBuf, PathBuf) {
    let base = dir
        .as_os_str()
        .to_string_lossy()
        .trim_end_matches('/')
        .to_string();
    (
        PathBuf::from(format!("{base}.sig")),
        PathBuf::from(format!("{base}.sig.tlog-proof")),
    )
}

/// `DIR.sig.tlog-opening`: for a private repo's release, whose log entry is sealed, the salt and
/// the public facts that open it (written only when the entry is sealed).
pub fn opening_path(dir: &Path) -> PathBuf {
    let (sig, _) = signature_paths(dir);
    PathBuf::from(format!("{}.tlog-opening", sig.display()))
}

/// A released revision's signature files, as served.
#[derive(Debug, Clone)]
pub struct ReleaseFiles {
    pub bundle: String,
    pub proof: String,
    /// The opening of the sealed log entry of a private repo's release.
    pub opening: Option<String>,
}

impl ReleaseFiles {
    /// Writes `DIR.sig`, `DIR.sig.tlog-proof` and, for a sealed entry, `DIR.sig.tlog-opening`.
    pub fn write_beside(&self, dir: &Path) -> Result<PathBuf> {
        let (sig, prf) = signature_paths(dir);
        std::fs::write(&sig, &self.bundle).map_err(io_err(sig.display()))?;
        std::fs::write(&prf, &self.proof).map_err(io_err(prf.display()))?;
        let open = opening_path(dir);
        match &self.opening {
            Some(o) => std::fs::write(&open, o).map_err(io_err(open.display()))?,
            None => {
                let _ = std::fs::remove_file(&open);
            }
        }
        Ok(sig)
    }
}

/// What `verify_dir` established.
#[derive(Debug)]
pub struct VerifyReport {
    pub files: usize,
    /// `(log size, index)` when the release's inclusion in the log was checked.
    pub logged: Option<(u64, u64)>,
}

/// How a model directory on disk was made, which decides what verification follows and skips.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// A plain directory (`weir pull`, a checkout): regular files only.
    Plain,
    /// A `huggingface_hub` cache snapshot (`…/models--NS--NAME/snapshots/COMMIT`): its files
    /// are symlinks into the repo's `blobs/`, followed there and nowhere else. Nothing is ever
    /// written into the cache.
    HubSnapshot {
        repo: RepoId,
        commit: String,
        blobs: PathBuf,
    },
}

/// Whether `dir` is inside a `huggingface_hub` cache (an ancestor named `models--…` with a
/// `snapshots/` child): nothing may be written there, detected snapshot or not.
pub fn inside_hub_cache(dir: &Path) -> bool {
    let Ok(dir) = std::fs::canonicalize(dir) else {
        return false;
    };
    dir.ancestors().any(|a| {
        a.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("models--"))
            && a.join("snapshots").is_dir()
    })
}

/// Recognizes a `huggingface_hub` cache snapshot by its path and its sibling `blobs/`.
pub fn layout(dir: &Path) -> Layout {
    let Ok(dir) = std::fs::canonicalize(dir) else {
        return Layout::Plain;
    };
    let commit = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let snapshots = dir.parent();
    let repo_dir = snapshots.and_then(Path::parent);
    let (Some(snapshots), Some(repo_dir)) = (snapshots, repo_dir) else {
        return Layout::Plain;
    };
    let name = repo_dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
    // Canonical, so a cache whose blobs/ was moved behind a symlink still matches its links.
    let blobs =
        std::fs::canonicalize(repo_dir.join("blobs")).unwrap_or_else(|_| repo_dir.join("blobs"));
    let is_commit = commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit());
    if snapshots.file_name().and_then(|n| n.to_str()) != Some("snapshots")
        || !is_commit
        || !blobs.is_dir()
    {
        return Layout::Plain;
    }
    let Some((ns, rest)) = name
        .strip_prefix("models--")
        .and_then(|r| r.split_once("--"))
    else {
        return Layout::Plain;
    };
    match RepoId::new(ns, rest) {
        Ok(repo) => Layout::HubSnapshot {
            repo,
            commit: commit.to_string(),
            blobs,
        },
        Err(_) => Layout::Plain,
    }
}

/// Hashes every file of a model directory as `model_signing` does (regular files, default
/// ignores, `.weir/` partial downloads and a `local_dir` download's `.cache/huggingface/`
/// skipped). In a Hub cache snapshot a file is a symlink into the repo's `blobs/`, and is
/// followed there only.
pub async fn hash_dir(dir: &Path, extra_ignores: &[String]) -> Result<Vec<Resource>> {
    let blobs = match layout(dir) {
        Layout::HubSnapshot { blobs, .. } => Some(blobs),
        Layout::Plain => None,
    };
    fn walk(
        root: &Path,
        dir: &Path,
        blobs: Option<&Path>,
        out: &mut Vec<(String, PathBuf)>,
    ) -> Result<()> {
        for e in std::fs::read_dir(dir).map_err(io_err(dir.display()))? {
            let e = e.map_err(io_err(dir.display()))?;
            let p = e.path();
            let meta = std::fs::symlink_metadata(&p).map_err(io_err(p.display()))?;
            let rel = p
                .strip_prefix(root)
                .map_err(|_| invalid("path outside the model"))?
                .to_str()
                .ok_or_else(|| invalid(format!("{}: file names must be UTF-8", p.display())))?
                .to_string();
            if meta.file_type().is_symlink() {
                let target = std::fs::canonicalize(&p).map_err(io_err(p.display()))?;
                match blobs {
                    Some(b) if target.starts_with(b) && target.is_file() => {
                        out.push((rel, target));
                        continue;
                    }
                    Some(_) => {
                        return Err(invalid(format!(
                            "{rel} links outside the repo's blobs/ in the Hub cache"
                        )));
                    }
                    None => {
                        return Err(invalid(format!(
                            "{rel} is a symlink; model signatures cover regular files only"
                        )));
                    }
                }
            }
            if meta.is_dir() {
                walk(root, &p, blobs, out)?;
            } else if meta.is_file() {
                out.push((rel, p));
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, dir, blobs.as_deref(), &mut files)?;
    // A `local_dir` download keeps its metadata in `.cache/huggingface/download/`; only there is
    // `.cache/huggingface/` the client's, and skipped.
    let local_dir = dir.join(".cache/huggingface/download").is_dir();
    let mut out = Vec::new();
    for (rel, path) in files {
        let skipped = rel == ".weir"
            || rel.starts_with(".weir/")
            || (local_dir && rel.starts_with(".cache/huggingface/"));
        if is_ignored(&rel, extra_ignores) || skipped {
            continue;
        }
        let mut h = Sha256::new();
        hash_into(&path, &mut h, |_| {}).await?;
        out.push(Resource {
            name: rel,
            sha256: h.finalize().into(),
        });
    }
    Ok(out)
}

/// Checks `dir` against `bundle` (signed by `release_pem`) and, if given, the proof file against
/// the pinned log key: the proof's entry must announce this exact bundle for `repo`.
pub async fn verify_dir(
    dir: &Path,
    bundle: &str,
    release_pem: &str,
    proof: Option<(&str, &str)>,
    opening: Option<&str>,
    repo: Option<&RepoId>,
) -> Result<VerifyReport> {
    let v = verify_bundle(bundle, release_pem).map_err(invalid)?;
    let actual = hash_dir(dir, &v.ignore_paths).await?;
    compare(&v.resources, &actual).map_err(invalid)?;
    let mut logged = None;
    if let Some((proof_text, vkey)) = proof {
        let p = ProofFile::parse(proof_text).map_err(invalid)?;
        let entry = p
            .extra
            .clone()
            .ok_or_else(|| invalid("the proof file does not carry its log entry"))?;
        let log = Verifier::parse(vkey).map_err(invalid)?;
        let c = p
            .verify(&entry, &log)
            .map_err(|e| invalid(format!("the release is not proven in the log: {e}")))?;
        let e: Value = serde_json::from_slice(&entry).map_err(invalid)?;
        // A private repo's entry is sealed: its public facts are a salted commitment that the
        // opening (served to those who may see the repo) must open.
        let public = if e["private"] == true {
            let text = opening.ok_or_else(|| {
                invalid("the log entry is sealed (a private repo) and the opening file DIR.sig.tlog-opening is missing; pull again or pass --repo")
            })?;
            let o: weir_core::event::Opening = serde_json::from_str(text)
                .map_err(|err| invalid(format!("the opening file is not valid: {err}")))?;
            if !o.opens(&e) {
                return Err(invalid("the opening does not open the sealed log entry"));
            }
            o.public
        } else {
            e["public"].clone()
        };
        let want = hex::encode(Sha256::digest(bundle.as_bytes()));
        if e["action"] != "release" || public["bundle_sha256"].as_str() != Some(want.as_str()) {
            return Err(invalid("the log entry announces a different bundle"));
        }
        if let Some(r) = repo
            && public["repo"].as_str() != Some(r.to_string().as_str())
        {
            return Err(invalid(format!(
                "the log entry is for {}, not {r}",
                public["repo"]
            )));
        }
        logged = Some((c.size, p.index));
    }
    Ok(VerifyReport {
        files: actual.len(),
        logged,
    })
}

impl Client {
    pub async fn release(
        &self,
        repo: &RepoId,
        revision: &str,
    ) -> Result<weir_wire::releases::Release> {
        let rb = self
            .request(
                reqwest::Method::POST,
                &self.url(&format!("/api/v1/repos/{repo}/releases")),
            )
            .json(&weir_wire::releases::ReleaseRequest {
                revision: Some(revision.to_string()),
            });
        Ok(self.send(rb).await?.json().await?)
    }

    /// Attaches the publisher's own bundle to a released revision.
    pub async fn upload_publisher_bundle(
        &self,
        repo: &RepoId,
        rev: &str,
        bundle: String,
    ) -> Result<weir_wire::releases::PublisherBundle> {
        let url = self.url(&format!(
            "/api/v1/models/{repo}/releases/{}/publisher.sig",
            encode_segment(rev)
        ));
        let rb = self
            .request(reqwest::Method::PUT, &url)
            .header("content-type", "application/json")
            .body(bundle);
        Ok(self.send(rb).await?.json().await?)
    }

    pub async fn release_public_key(&self) -> Result<String> {
        Ok(self
            .send(self.request(
                reqwest::Method::GET,
                &self.url("/api/v1/keys/release.pub.pem"),
            ))
            .await?
            .text()
            .await?)
    }

    /// The bundle and proof of a released revision, if it is released (`None` otherwise).
    pub async fn release_files(&self, repo: &RepoId, rev: &str) -> Result<Option<ReleaseFiles>> {
        let base = format!("/api/v1/models/{repo}/releases/{}", encode_segment(rev));
        let bundle = match self
            .send(self.request(
                reqwest::Method::GET,
                &self.url(&format!("{base}/model.sig")),
            ))
            .await
        {
            Ok(r) => r.text().await?,
            Err(ClientError::Api {
                status: 404, code, ..
            }) if code == "not_released" => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut tries = 0;
        let proof = loop {
            match self
                .send(self.request(
                    reqwest::Method::GET,
                    &self.url(&format!("{base}/model.sig.tlog-proof")),
                ))
                .await
            {
                Ok(r) => break r.text().await?,
                Err(ClientError::Api {
                    status: 404, code, ..
                }) if code == "not_in_log" && tries < 20 => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                }
                Err(e) => return Err(e),
            }
        };
        // A sealed entry (a private repo) comes with its opening.
        let sealed = ProofFile::parse(&proof)
            .ok()
            .and_then(|p| p.extra)
            .and_then(|e| serde_json::from_slice::<Value>(&e).ok())
            .is_some_and(|e| e["private"] == true);
        let opening = if sealed {
            Some(
                self.send(self.request(
                    reqwest::Method::GET,
                    &self.url(&format!("{base}/model.sig.tlog-opening")),
                ))
                .await?
                .text()
                .await?,
            )
        } else {
            None
        };
        Ok(Some(ReleaseFiles {
            bundle,
            proof,
            opening,
        }))
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// `models--acme--m/snapshots/COMMIT` with `a.txt` linking into `blobs/`.
    fn cache() -> (tempfile::TempDir, PathBuf) {
        let root = tempfile::tempdir().expect("tempdir");
        let repo = root.path().join("models--acme--m");
        let snap = repo.join("snapshots").join("a".repeat(40));
        std::fs::create_dir_all(&snap).expect("snap");
        std::fs::create_dir_all(repo.join("blobs")).expect("blobs");
        std::fs::write(repo.join("blobs").join("x"), b"hello").expect("blob");
        std::os::unix::fs::symlink("../../blobs/x", snap.join("a.txt")).expect("link");
        (root, snap)
    }

    #[tokio::test]
    async fn a_hub_snapshot_is_recognized_and_its_links_into_blobs_followed() {
        let (_root, snap) = cache();
        match layout(&snap) {
            Layout::HubSnapshot { repo, commit, .. } => {
                assert_eq!(repo.to_string(), "acme/m");
                assert_eq!(commit, "a".repeat(40));
            }
            Layout::Plain => panic!("not recognized"),
        }
        let files = hash_dir(&snap, &[]).await.expect("hash");
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].name, "a.txt");
        assert_eq!(files[0].sha256, <[u8; 32]>::from(Sha256::digest(b"hello")));
    }

    #[tokio::test]
    async fn a_link_out_of_the_blobs_is_refused_and_plain_dirs_follow_none() {
        let (root, snap) = cache();
        let outside = root.path().join("secret");
        std::fs::write(&outside, b"not a blob").expect("outside");
        std::os::unix::fs::symlink(&outside, snap.join("b.txt")).expect("link");
        let err = hash_dir(&snap, &[]).await.expect_err("refused");
        assert!(
            err.to_string().contains("outside the repo's blobs/"),
            "{err}"
        );
        // A plain directory hides nothing in a `.cache/huggingface/` it happens to have.
        let odd = root.path().join("odd");
        std::fs::create_dir_all(odd.join(".cache/huggingface")).expect("odd");
        std::fs::write(odd.join(".cache/huggingface/extra"), b"x").expect("extra");
        let names: Vec<String> = hash_dir(&odd, &[])
            .await
            .expect("hash")
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, [".cache/huggingface/extra"]);
        let plain = root.path().join("plain");
        std::fs::create_dir_all(&plain).expect("plain");
        std::os::unix::fs::symlink(&outside, plain.join("c.txt")).expect("link");
        assert_eq!(layout(&plain), Layout::Plain);
        let err = hash_dir(&plain, &[]).await.expect_err("refused");
        assert!(err.to_string().contains("regular files only"), "{err}");
    }
}
