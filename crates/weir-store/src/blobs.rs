//! The content-addressed blob store on a local directory.
//!
//! A blob is stored once under `sha256/<first two hex>/<sha256>`. Ingest streams into a temp file
//! under `tmp/` while hashing on a blocking thread (the network side never waits on the disk or
//! the hash beyond a small bounded queue), then fsyncs, renames into place and fsyncs the
//! directory. A crash or a client disconnect leaves at most a temp file, which [`BlobStore::open`]
//! removes; a blob path that exists is always complete and matches its name.

use std::fmt::Display;
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use weir_core::Sha256Hex;

use crate::{Result, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("upload is larger than the {max} bytes allowed here")]
    TooLarge { max: u64 },
    #[error("size mismatch: expected {expected} bytes, received {got}")]
    SizeMismatch { expected: u64, got: u64 },
    #[error("sha256 mismatch: expected {expected}, received content hashes to {got}")]
    HashMismatch { expected: String, got: String },
    #[error("upload interrupted: {0}")]
    Interrupted(String),
    #[error("blob storage I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// What the uploader promised, checked after the last byte.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    pub sha256: Option<Sha256Hex>,
    pub size: Option<u64>,
    pub max_size: Option<u64>,
}

#[derive(Clone, Debug)]
pub struct BlobStore {
    root: PathBuf,
    tmp: PathBuf,
}

/// Bytes buffered between the network and the disk writer: 16 chunks plus a 1 MiB write buffer.
const QUEUE_CHUNKS: usize = 16;
const WRITE_BUFFER: usize = 1 << 20;

/// Starts writeback of what was written so far every [`FLUSH_EVERY`] bytes, on a helper thread
/// (at most one in flight), so the disk works while the network still delivers and the final
/// fsync of a multi-GB upload only has the tail left to flush. Without it the kernel would hold
/// gigabytes of dirty pages until the end, and the client would wait for all of them after its
/// last byte.
#[derive(Default)]
struct Flusher {
    flushed_at: u64,
    pending: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

const FLUSH_EVERY: u64 = 64 << 20;

impl Flusher {
    fn maybe_start(
        &mut self,
        out: &mut std::io::BufWriter<tempfile::NamedTempFile>,
        n: u64,
    ) -> std::io::Result<()> {
        if n - self.flushed_at < FLUSH_EVERY {
            return Ok(());
        }
        self.finish()?;
        out.flush()?;
        let file = out.get_ref().as_file().try_clone()?;
        self.pending = Some(std::thread::spawn(move || file.sync_data()));
        self.flushed_at = n;
        Ok(())
    }

    fn finish(&mut self) -> std::io::Result<()> {
        match self.pending.take() {
            Some(h) => h
                .join()
                .map_err(|_| std::io::Error::other("writeback thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl BlobStore {
    pub fn open(root: &Path) -> Result<BlobStore> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io { path, source }
        };
        let tmp = root.join("tmp");
        std::fs::create_dir_all(root.join("sha256")).map_err(io(root))?;
        std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
        // Leftovers of a crash or an aborted upload: never visible, now removed.
        for entry in std::fs::read_dir(&tmp).map_err(io(&tmp))? {
            let entry = entry.map_err(io(&tmp))?;
            let _ = std::fs::remove_file(entry.path());
        }
        Ok(BlobStore {
            root: root.to_path_buf(),
            tmp,
        })
    }

    /// Whether the store is there to read and write: its directories exist (`/readyz`).
    pub async fn ready(&self) -> std::result::Result<(), String> {
        for dir in [self.root.join("sha256"), self.root.join("tmp")] {
            match tokio::fs::metadata(&dir).await {
                Ok(m) if m.is_dir() => {}
                _ => return Err("the blob directory is missing".into()),
            }
        }
        Ok(())
    }

    pub fn path_of(&self, sha: &Sha256Hex) -> PathBuf {
        let s = sha.as_str();
        self.root.join("sha256").join(&s[..2]).join(s)
    }

    /// Size of a stored blob, `None` if absent.
    pub async fn size(&self, sha: &Sha256Hex) -> Option<u64> {
        tokio::fs::metadata(self.path_of(sha))
            .await
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len())
    }

    /// Number of temp files currently in flight (uploads in progress or crash leftovers).
    pub fn temp_files(&self) -> usize {
        std::fs::read_dir(&self.tmp).map(|d| d.count()).unwrap_or(0)
    }

    /// Streams `body` into the store. Returns the digest and size once the blob is durable.
    pub async fn ingest<S, E>(&self, body: S, expect: Expect) -> Result<(Sha256Hex, u64), BlobError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: Display,
    {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(QUEUE_CHUNKS);
        let tmp_dir = self.tmp.clone();
        let max = expect.max_size.or(expect.size);
        let writer = tokio::task::spawn_blocking(move || -> Result<_, BlobError> {
            let file = tempfile::NamedTempFile::new_in(&tmp_dir)?;
            let mut out = std::io::BufWriter::with_capacity(WRITE_BUFFER, file);
            // Hashing runs on its own thread, so it overlaps the copy into the page cache.
            let (hash_tx, hash_rx) = std::sync::mpsc::sync_channel::<Bytes>(QUEUE_CHUNKS);
            let hasher = std::thread::spawn(move || {
                let mut h = Sha256::new();
                while let Ok(chunk) = hash_rx.recv() {
                    h.update(&chunk);
                }
                h.finalize()
            });
            let mut n: u64 = 0;
            let mut flusher = Flusher::default();
            while let Some(chunk) = rx.blocking_recv() {
                n += chunk.len() as u64;
                if let Some(max) = max
                    && n > max
                {
                    return Err(BlobError::TooLarge { max });
                }
                out.write_all(&chunk)?;
                if hash_tx.send(chunk).is_err() {
                    return Err(BlobError::Io(std::io::Error::other(
                        "hashing thread stopped",
                    )));
                }
                flusher.maybe_start(&mut out, n)?;
            }
            drop(hash_tx);
            out.flush()?;
            flusher.finish()?;
            let digest = hasher
                .join()
                .map_err(|_| BlobError::Io(std::io::Error::other("hashing thread panicked")))?;
            let file = out.into_inner().map_err(|e| e.into_error())?;
            Ok((file, digest, n))
        });

        let mut body = std::pin::pin!(body);
        let mut failure = None;
        while let Some(item) = body.next().await {
            match item {
                Ok(chunk) => {
                    if tx.send(chunk).await.is_err() {
                        break; // the writer stopped early; its error says why
                    }
                }
                Err(e) => {
                    failure = Some(BlobError::Interrupted(e.to_string()));
                    break;
                }
            }
        }
        drop(tx);
        let written = writer
            .await
            .map_err(|e| BlobError::Io(std::io::Error::other(e.to_string())))?;
        if let Some(f) = failure {
            return Err(f); // the temp file was dropped with the writer's result, so it is gone
        }
        let (file, digest, n) = written?;
        let sha = Sha256Hex::from_digest(&digest);
        if let Some(size) = expect.size
            && size != n
        {
            return Err(BlobError::SizeMismatch {
                expected: size,
                got: n,
            });
        }
        if let Some(want) = &expect.sha256
            && *want != sha
        {
            return Err(BlobError::HashMismatch {
                expected: want.to_string(),
                got: sha.to_string(),
            });
        }
        let dest = self.path_of(&sha);
        tokio::task::spawn_blocking(move || -> Result<(), BlobError> {
            if dest.is_file() {
                // Already stored: content addressing makes this a no-op, but the file is fresh
                // again, so the garbage collector's grace period covers this upload too.
                if let Ok(f) = std::fs::File::options().append(true).open(&dest) {
                    let _ = f.set_modified(std::time::SystemTime::now());
                }
                return Ok(());
            }
            file.as_file().sync_all()?;
            let dir = dest.parent().map(Path::to_path_buf).unwrap_or_default();
            std::fs::create_dir_all(&dir)?;
            file.persist(&dest).map_err(|e| e.error)?;
            std::fs::File::open(&dir)?.sync_all()?;
            Ok(())
        })
        .await
        .map_err(|e| BlobError::Io(std::io::Error::other(e.to_string())))??;
        Ok((sha, n))
    }
}

impl Store {
    /// Ingests a blob and records it in the database. Only then can a commit reference it.
    pub async fn ingest<S, E>(&self, body: S, expect: Expect) -> Result<(Sha256Hex, u64)>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: Display,
    {
        let (sha, size) = self.blobs.ingest(body, expect).await?;
        self.db.record_blob(&sha, size).await?;
        Ok((sha, size))
    }

    /// Ingests bytes received for `repo` and records that the repo possesses them, so that a
    /// commit of this repo may reference them. The only way, besides being in one of the repo's
    /// commits, that a repo comes to possess a blob.
    pub async fn ingest_for<S, E>(
        &self,
        repo: &crate::Repo,
        body: S,
        expect: Expect,
    ) -> Result<(Sha256Hex, u64)>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: Display,
    {
        let (sha, size) = self.ingest(body, expect).await?;
        self.db.record_upload(repo, &sha, size).await?;
        Ok((sha, size))
    }

    /// [`Store::ingest_for`] of bytes in memory (small regular files).
    pub async fn ingest_bytes_for(
        &self,
        repo: &crate::Repo,
        bytes: Bytes,
    ) -> Result<(Sha256Hex, u64)> {
        let stream = futures::stream::iter([Ok::<_, std::convert::Infallible>(bytes)]);
        self.ingest_for(repo, stream, Expect::default()).await
    }

    pub async fn ingest_bytes(&self, bytes: Bytes) -> Result<(Sha256Hex, u64)> {
        let stream = futures::stream::iter([Ok::<_, std::convert::Infallible>(bytes)]);
        self.ingest(stream, Expect::default()).await
    }

    /// Whether the blob is both recorded and present with the given size.
    pub async fn has_blob(&self, sha: &Sha256Hex, size: u64) -> Result<bool> {
        Ok(self.db.blob_size(sha).await? == Some(size) && self.blobs.size(sha).await == Some(size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: Vec<&'static [u8]>) -> impl Stream<Item = Result<Bytes, String>> {
        futures::stream::iter(parts.into_iter().map(|p| Ok(Bytes::from_static(p))))
    }

    #[tokio::test]
    async fn ingest_hashes_and_dedupes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = BlobStore::open(dir.path()).expect("open");
        let (sha, n) = store
            .ingest(chunks(vec![b"hel", b"lo\n"]), Expect::default())
            .await
            .expect("ingest");
        assert_eq!(n, 6);
        assert_eq!(
            sha.as_str(),
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
        );
        assert_eq!(
            std::fs::read(store.path_of(&sha)).expect("read"),
            b"hello\n"
        );
        let (sha2, _) = store
            .ingest(chunks(vec![b"hello\n"]), Expect::default())
            .await
            .expect("again");
        assert_eq!(sha, sha2);
        assert_eq!(store.temp_files(), 0);
    }

    #[tokio::test]
    async fn large_ingest_crosses_writeback_checkpoints() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = BlobStore::open(dir.path()).expect("open");
        let chunk = Bytes::from(vec![7u8; 1 << 20]);
        let n = (FLUSH_EVERY >> 20) * 2 + 3;
        let stream = futures::stream::iter((0..n).map(move |_| Ok::<_, String>(chunk.clone())));
        let (sha, size) = store
            .ingest(stream, Expect::default())
            .await
            .expect("ingest");
        assert_eq!(size, n << 20);
        let mut h = Sha256::new();
        for _ in 0..n {
            h.update(vec![7u8; 1 << 20]);
        }
        assert_eq!(sha, Sha256Hex::from_digest(&h.finalize()));
        assert_eq!(
            std::fs::metadata(store.path_of(&sha)).expect("blob").len(),
            size
        );
    }

    #[tokio::test]
    async fn mismatches_and_interruptions_leave_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = BlobStore::open(dir.path()).expect("open");
        let bad_size = Expect {
            size: Some(5),
            ..Expect::default()
        };
        assert!(matches!(
            store.ingest(chunks(vec![b"hello\n"]), bad_size).await,
            Err(BlobError::TooLarge { .. })
        ));
        let short = Expect {
            size: Some(10),
            ..Expect::default()
        };
        assert!(matches!(
            store.ingest(chunks(vec![b"hello\n"]), short).await,
            Err(BlobError::SizeMismatch { .. })
        ));
        let bad_hash = Expect {
            sha256: Some(Sha256Hex::parse(&"0".repeat(64)).expect("hex")),
            ..Expect::default()
        };
        assert!(matches!(
            store.ingest(chunks(vec![b"hello\n"]), bad_hash).await,
            Err(BlobError::HashMismatch { .. })
        ));
        let broken = futures::stream::iter(vec![
            Ok(Bytes::from_static(b"part")),
            Err("connection reset".to_string()),
        ]);
        assert!(matches!(
            store.ingest(broken, Expect::default()).await,
            Err(BlobError::Interrupted(_))
        ));
        assert_eq!(store.temp_files(), 0);
        let stored = std::fs::read_dir(dir.path().join("sha256"))
            .expect("dir")
            .count();
        assert_eq!(stored, 0);
    }
}
