//! The content-addressed blob store on a local directory.
//!
//! A blob is stored once under `sha256/<first two hex>/<sha256>`. Ingest streams into a temp file
//! under `tmp/` while hashing on a blocking thread (the network side never waits on the disk or
//! the hash beyond a small bounded queue), then fsyncs, renames into place and fsyncs the
//! directory. A crash or a client disconnect leaves at most a temp file, which [`BlobStore::open`]
//! removes; a blob path that exists is always complete and matches its name.
//!
//! With an S3-compatible store ([`crate::s3`]) the object store holds the blobs and this
//! directory is the replica's cache of them: the same layout and the same guarantee (a file
//! there is complete and was verified against its name), filled on first local use and evicted
//! by `weir admin gc`. Uploads go to both at once: the bytes stream into a multipart upload of the
//! blob's key and into the cache, and the upload completes only once the hash matched.

use std::fmt::Display;
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use weir_core::Sha256Hex;

use crate::s3::{PART_SIZE, Parts, Remote, Upload};
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
    /// The object store that holds the blobs, when not this directory.
    remote: Option<std::sync::Arc<Remote>>,
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
            remote: None,
        })
    }

    /// Blobs on `remote`, with `root` as this replica's cache of them.
    pub fn open_remote(root: &Path, remote: Remote) -> Result<BlobStore> {
        let mut b = BlobStore::open(root)?;
        b.remote = Some(std::sync::Arc::new(remote));
        Ok(b)
    }

    /// The object store holding the blobs, when it is not the local directory.
    pub fn remote(&self) -> Option<&Remote> {
        self.remote.as_deref()
    }

    /// Whether the store is there to read and write: its directories exist, and the object
    /// store answers (`/readyz`).
    pub async fn ready(&self) -> std::result::Result<(), String> {
        for dir in [self.root.join("sha256"), self.root.join("tmp")] {
            match tokio::fs::metadata(&dir).await {
                Ok(m) if m.is_dir() => {}
                _ => return Err("the blob directory is missing".into()),
            }
        }
        match &self.remote {
            Some(r) => r.ready().await,
            None => Ok(()),
        }
    }

    /// Where the blob's file is or would be in the local directory (with an object store: the
    /// cache, which may not hold it; [`BlobStore::local_path`] fills it).
    pub fn path_of(&self, sha: &Sha256Hex) -> PathBuf {
        let s = sha.as_str();
        self.root.join("sha256").join(&s[..2]).join(s)
    }

    /// Size of a stored blob, `None` if absent (or the object store did not answer).
    pub async fn size(&self, sha: &Sha256Hex) -> Option<u64> {
        if let Some(r) = &self.remote {
            return match r.head(sha).await {
                Ok(found) => found.map(|(n, _)| n),
                Err(e) => {
                    tracing::warn!(error = %e, %sha, "the object store did not answer a HEAD");
                    None
                }
            };
        }
        tokio::fs::metadata(self.path_of(sha))
            .await
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len())
    }

    /// When the stored blob was last written, `None` if absent.
    pub async fn modified(
        &self,
        sha: &Sha256Hex,
    ) -> std::io::Result<Option<std::time::SystemTime>> {
        if let Some(r) = &self.remote {
            return Ok(r.head(sha).await?.map(|(_, t)| t));
        }
        match tokio::fs::metadata(self.path_of(sha)).await {
            Ok(m) => Ok(Some(m.modified()?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A local file holding the blob: the blob's own file, or (with an object store) the
    /// cache's copy, fetched and verified against its name first when the cache lacks it.
    pub async fn local_path(&self, sha: &Sha256Hex) -> std::io::Result<PathBuf> {
        let path = self.path_of(sha);
        let Some(remote) = &self.remote else {
            return Ok(path);
        };
        if tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_file()) {
            return Ok(path);
        }
        let body = remote.get(sha).await?;
        let expect = Expect {
            sha256: Some(sha.clone()),
            ..Expect::default()
        };
        self.ingest_local(body, expect)
            .await
            .map_err(|e| std::io::Error::other(format!("caching blob {sha}: {e}")))?;
        Ok(path)
    }

    /// The first `cap` bytes of the blob (all of it when shorter).
    pub async fn read_prefix(&self, sha: &Sha256Hex, cap: u64) -> std::io::Result<Vec<u8>> {
        let path = self.path_of(sha);
        let cached = tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_file());
        if let (Some(remote), false) = (&self.remote, cached) {
            let size = remote
                .head(sha)
                .await?
                .map(|(n, _)| n)
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))?;
            let end = size.min(cap);
            if end == 0 {
                return Ok(Vec::new());
            }
            return Ok(remote.get_range(sha, 0..end).await?.to_vec());
        }
        tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
            use std::io::Read;
            let mut buf = Vec::new();
            std::fs::File::open(&path)?
                .take(cap)
                .read_to_end(&mut buf)?;
            Ok(buf)
        })
        .await
        .map_err(std::io::Error::other)?
    }

    /// Removes the blob (from the object store and the cache too).
    pub async fn remove(&self, sha: &Sha256Hex) -> std::io::Result<()> {
        if let Some(r) = &self.remote {
            r.delete(sha).await?;
        }
        match tokio::fs::remove_file(self.path_of(sha)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Every stored blob: its name, size and last change (the object store's listing, or the
    /// directory's files).
    pub async fn list(&self) -> std::io::Result<Vec<(String, u64, std::time::SystemTime)>> {
        if let Some(r) = &self.remote {
            return r.list().await;
        }
        let dir = self.root.join("sha256");
        tokio::task::spawn_blocking(move || list_dir(&dir))
            .await
            .map_err(std::io::Error::other)?
    }

    /// With an object store: removes the cached copies written before `cutoff` (the object
    /// store keeps the blobs). Returns the files and bytes removed.
    pub async fn evict_cache(&self, cutoff: std::time::SystemTime) -> std::io::Result<(u64, u64)> {
        if self.remote.is_none() {
            return Ok((0, 0));
        }
        let dir = self.root.join("sha256");
        let mut freed = (0, 0);
        for (name, len, modified) in tokio::task::spawn_blocking(move || list_dir(&dir))
            .await
            .map_err(std::io::Error::other)??
        {
            if modified >= cutoff {
                continue;
            }
            if let Ok(sha) = Sha256Hex::parse(&name)
                && tokio::fs::remove_file(self.path_of(&sha)).await.is_ok()
            {
                freed.0 += 1;
                freed.1 += len;
            }
        }
        Ok(freed)
    }

    /// A short-lived URL for downloading the blob straight from the object store, when there is
    /// one (see [`Remote::presign_get`]).
    pub async fn presign_get(
        &self,
        sha: &Sha256Hex,
        ttl: std::time::Duration,
    ) -> Option<std::io::Result<String>> {
        let r = self.remote.as_ref()?;
        Some(r.presign_get(sha, ttl).await)
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
        match &self.remote {
            None => self.ingest_local(body, expect).await,
            Some(r) => self.ingest_remote(r.clone(), body, expect).await,
        }
    }

    /// [`BlobStore::ingest`] with an object store. With a promised digest the bytes stream to its
    /// key as they arrive (or are only hashed and cached, when the object store has them); without
    /// one they are cached first and sent once their digest is known. Either way the upload
    /// completes only after the digest and size matched, and never over an existing object.
    async fn ingest_remote<S, E>(
        &self,
        remote: std::sync::Arc<Remote>,
        body: S,
        expect: Expect,
    ) -> Result<(Sha256Hex, u64), BlobError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: Display,
    {
        let Some(sha) = expect.sha256.clone() else {
            let (sha, n) = self.ingest_local(body, expect).await?;
            if remote.head(&sha).await?.is_none() {
                upload_file(&remote, &sha, &self.path_of(&sha), n).await?;
            }
            return Ok((sha, n));
        };
        if remote.head(&sha).await?.is_some() {
            return self.ingest_local(body, expect).await;
        }
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(QUEUE_CHUNKS);
        let sender = tokio::spawn(send_parts(remote.clone(), sha.clone(), rx));
        let tee = body.then(move |item| {
            let tx = tx.clone();
            async move {
                let chunk = item.map_err(|e| e.to_string())?;
                tx.send(chunk.clone())
                    .await
                    .map_err(|_| "the object store stopped taking the upload".to_string())?;
                Ok::<_, String>(chunk)
            }
        });
        let cached = self.ingest_local(tee, expect).await;
        let sent = sender
            .await
            .map_err(|e| BlobError::Io(std::io::Error::other(e.to_string())));
        match (cached, sent) {
            (Ok(done), Ok(Ok(pending))) => {
                pending.commit(&remote, &sha).await?;
                Ok(done)
            }
            (Ok(_), Ok(Err(e))) => Err(BlobError::Io(e)),
            (Err(e), Ok(Ok(pending))) => {
                pending.abandon().await;
                Err(e)
            }
            // The sender's own error says why the tee stopped.
            (Err(BlobError::Interrupted(_)), Ok(Err(e))) => Err(BlobError::Io(e)),
            (Err(e), _) | (Ok(_), Err(e)) => Err(e),
        }
    }

    /// Streams `body` into the local directory (the store, or the cache of the object store).
    async fn ingest_local<S, E>(
        &self,
        body: S,
        expect: Expect,
    ) -> Result<(Sha256Hex, u64), BlobError>
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

fn list_dir(dir: &Path) -> std::io::Result<Vec<(String, u64, std::time::SystemTime)>> {
    let mut out = Vec::new();
    let prefixes = match std::fs::read_dir(dir) {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for prefix in prefixes.flatten() {
        let Ok(files) = std::fs::read_dir(prefix.path()) else {
            continue;
        };
        for f in files.flatten() {
            let Ok(meta) = f.metadata() else { continue };
            if meta.is_file() {
                let modified = meta.modified()?;
                out.push((
                    f.file_name().to_string_lossy().to_string(),
                    meta.len(),
                    modified,
                ));
            }
        }
    }
    Ok(out)
}

/// What [`send_parts`] leaves to do once the digest is known: complete the multipart upload, or
/// (a blob smaller than a part) put it whole.
struct Pending {
    upload: Option<Upload>,
    rest: Bytes,
}

impl Pending {
    async fn commit(self, remote: &Remote, sha: &Sha256Hex) -> std::io::Result<()> {
        match self.upload {
            None => remote.put_new(sha, self.rest).await.map(|_| ()),
            Some(mut up) => {
                if !self.rest.is_empty()
                    && let Err(e) = up.part(self.rest).await
                {
                    up.abort().await;
                    return Err(e);
                }
                up.complete_if_absent().await.map(|_| ())
            }
        }
    }

    async fn abandon(self) {
        if let Some(up) = self.upload {
            up.abort().await;
        }
    }
}

/// Sends what arrives on `rx` to a multipart upload of `sha`'s key, a part at a time; the
/// upload starts with the first full part.
async fn send_parts(
    remote: std::sync::Arc<Remote>,
    sha: Sha256Hex,
    mut rx: tokio::sync::mpsc::Receiver<Bytes>,
) -> std::io::Result<Pending> {
    let mut parts = Parts::default();
    let mut upload: Option<Upload> = None;
    while let Some(chunk) = rx.recv().await {
        for part in parts.push(&chunk) {
            let up = match upload.as_mut() {
                Some(up) => up,
                None => match remote.begin(&sha).await {
                    Ok(u) => upload.insert(u),
                    Err(e) => return Err(e),
                },
            };
            if let Err(e) = up.part(part).await {
                if let Some(u) = upload.take() {
                    u.abort().await;
                }
                return Err(e);
            }
        }
    }
    Ok(Pending {
        upload,
        rest: parts.rest(),
    })
}

/// Sends a verified local file to `sha`'s key (a multipart upload when larger than a part).
async fn upload_file(remote: &Remote, sha: &Sha256Hex, path: &Path, n: u64) -> std::io::Result<()> {
    use tokio::io::AsyncReadExt;
    if n <= PART_SIZE as u64 {
        let bytes = tokio::fs::read(path).await?;
        return remote.put_new(sha, bytes.into()).await.map(|_| ());
    }
    let mut file = tokio::fs::File::open(path).await?;
    let mut up = remote.begin(sha).await?;
    let mut left = n;
    while left > 0 {
        let len = left.min(PART_SIZE as u64) as usize;
        let mut buf = vec![0u8; len];
        if let Err(e) = file.read_exact(&mut buf).await {
            up.abort().await;
            return Err(e);
        }
        if let Err(e) = up.part(buf.into()).await {
            up.abort().await;
            return Err(e);
        }
        left -= len as u64;
    }
    up.complete_if_absent().await.map(|_| ())
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

    /// A blob store on the S3-compatible server `WEIR_TEST_S3` names, or `None` (then the test
    /// is skipped, unless `WEIR_S3_REQUIRED` is set: CI sets it and fails instead).
    fn on_s3(dir: &Path) -> Option<BlobStore> {
        match crate::test_s3() {
            Some(settings) => {
                let remote = Remote::open(&settings).expect("remote");
                Some(BlobStore::open_remote(dir, remote).expect("open"))
            }
            None => {
                assert!(
                    std::env::var_os("WEIR_S3_REQUIRED").is_none(),
                    "WEIR_S3_REQUIRED is set but WEIR_TEST_S3 names no S3 server"
                );
                eprintln!("skipped: WEIR_TEST_S3 is not set");
                None
            }
        }
    }

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    fn sha_of(bytes: &[u8]) -> Sha256Hex {
        Sha256Hex::from_digest(&Sha256::digest(bytes))
    }

    fn stream_of(bytes: Vec<u8>, chunk: usize) -> impl Stream<Item = Result<Bytes, String>> {
        let parts: Vec<_> = bytes
            .chunks(chunk)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        futures::stream::iter(parts)
    }

    #[tokio::test]
    async fn s3_a_promised_blob_streams_in_parts_and_is_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let Some(store) = on_s3(dir.path()) else {
            return;
        };
        // Two full parts and a tail: a multipart upload.
        let bytes = pattern(2 * PART_SIZE + 12_345);
        let sha = sha_of(&bytes);
        let expect = Expect {
            sha256: Some(sha.clone()),
            size: Some(bytes.len() as u64),
            ..Expect::default()
        };
        let (got, n) = store
            .ingest(stream_of(bytes.clone(), 64 << 10), expect.clone())
            .await
            .expect("ingest");
        assert_eq!((got.clone(), n), (sha.clone(), bytes.len() as u64));
        assert_eq!(store.size(&sha).await, Some(bytes.len() as u64));
        // A range straight from the object store, then the whole blob through an empty cache.
        std::fs::remove_file(store.path_of(&sha)).expect("evict");
        let head = store.read_prefix(&sha, 10).await.expect("prefix");
        assert_eq!(head, bytes[..10]);
        assert!(
            !store.path_of(&sha).exists(),
            "a prefix read does not fill the cache"
        );
        let path = store.local_path(&sha).await.expect("cache");
        assert_eq!(std::fs::read(path).expect("read"), bytes);
        // Again: already stored, so only hashed and cached; the object is unchanged.
        store
            .ingest(stream_of(bytes.clone(), 1 << 20), expect)
            .await
            .expect("again");
        assert_eq!(store.size(&sha).await, Some(bytes.len() as u64));
        assert_eq!(store.temp_files(), 0);
    }

    #[tokio::test]
    async fn s3_a_blob_that_does_not_match_its_promise_is_never_visible() {
        let dir = tempfile::tempdir().expect("tempdir");
        let Some(store) = on_s3(dir.path()) else {
            return;
        };
        let bytes = pattern(PART_SIZE + 99);
        let claimed = sha_of(b"something else");
        let r = store
            .ingest(
                stream_of(bytes.clone(), 1 << 20),
                Expect {
                    sha256: Some(claimed.clone()),
                    ..Expect::default()
                },
            )
            .await;
        assert!(matches!(r, Err(BlobError::HashMismatch { .. })), "{r:?}");
        assert_eq!(
            store.size(&claimed).await,
            None,
            "nothing at the claimed key"
        );
        assert_eq!(store.size(&sha_of(&bytes)).await, None);
        // Cut off after a full part was sent: aborted, nothing visible, nothing cached.
        let sha = sha_of(&bytes);
        let cut = futures::stream::iter(vec![
            Ok(Bytes::from(bytes[..PART_SIZE + 10].to_vec())),
            Err("connection reset".to_string()),
        ]);
        let r = store
            .ingest(
                cut,
                Expect {
                    sha256: Some(sha.clone()),
                    ..Expect::default()
                },
            )
            .await;
        assert!(r.is_err(), "{r:?}");
        assert_eq!(store.size(&sha).await, None);
        assert!(!store.path_of(&sha).exists());
        assert_eq!(store.temp_files(), 0);
        assert!(store.list().await.expect("list").is_empty());
    }

    #[tokio::test]
    async fn s3_two_uploads_of_one_blob_at_once_both_succeed_and_agree() {
        let dir = tempfile::tempdir().expect("tempdir");
        let Some(store) = on_s3(dir.path()) else {
            return;
        };
        let other_dir = tempfile::tempdir().expect("tempdir");
        // A second replica: its own cache, the same prefix.
        let other = BlobStore {
            root: other_dir.path().to_path_buf(),
            tmp: BlobStore::open(other_dir.path()).expect("open").tmp,
            remote: store.remote.clone(),
        };
        let bytes = pattern(PART_SIZE * 2 + 1);
        let sha = sha_of(&bytes);
        let expect = Expect {
            sha256: Some(sha.clone()),
            ..Expect::default()
        };
        let (a, b) = tokio::join!(
            store.ingest(stream_of(bytes.clone(), 256 << 10), expect.clone()),
            other.ingest(stream_of(bytes.clone(), 1 << 20), expect),
        );
        assert_eq!(a.expect("a").0, sha);
        assert_eq!(b.expect("b").0, sha);
        std::fs::remove_file(store.path_of(&sha)).expect("evict");
        let path = store.local_path(&sha).await.expect("fetch");
        assert_eq!(
            std::fs::read(path).expect("read"),
            bytes,
            "the stored bytes are the blob"
        );
        // Without a promise the bytes are cached first, then sent whole (small) or in parts.
        for n in [0, 5, PART_SIZE + 3] {
            let bytes = pattern(n);
            let (sha, _) = store
                .ingest(
                    stream_of(bytes.clone(), 4096.max(n / 3 + 1)),
                    Expect::default(),
                )
                .await
                .expect("ingest");
            assert_eq!(store.size(&sha).await, Some(n as u64), "{n} bytes");
        }
    }

    #[tokio::test]
    async fn s3_a_presigned_url_names_one_blob_and_expires() {
        let dir = tempfile::tempdir().expect("tempdir");
        let Some(store) = on_s3(dir.path()) else {
            return;
        };
        let (sha, _) = store
            .ingest(chunks(vec![b"weights"]), Expect::default())
            .await
            .expect("ingest");
        let url = store
            .presign_get(&sha, std::time::Duration::from_secs(120))
            .await
            .expect("remote")
            .expect("signed");
        let (path, query) = url.split_once('?').expect("a query");
        assert!(
            path.ends_with(&format!("/sha256/{}/{sha}", &sha.as_str()[..2])),
            "{path}"
        );
        let params: std::collections::HashMap<&str, &str> = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .collect();
        assert_eq!(params.get("X-Amz-Expires"), Some(&"120"));
        assert_eq!(params.get("X-Amz-SignedHeaders"), Some(&"host"));
        let date = params.get("X-Amz-Date").expect("date");
        let signed_at = time::PrimitiveDateTime::parse(
            date,
            time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"),
        )
        .expect("date")
        .assume_utc();
        let age = time::OffsetDateTime::now_utc() - signed_at;
        assert!(age.whole_seconds().abs() < 60, "signed now: {date}");
        // The URL serves the blob (moto checks no signature; weir's part is the scope above).
        let body = reqwest::get(&url)
            .await
            .expect("get")
            .bytes()
            .await
            .expect("body");
        assert_eq!(&body[..], b"weights");
    }
}
