//! Blobs on an S3-compatible object store (`--blobs s3://bucket/prefix`), through object_store's
//! `aws` backend.
//!
//! A blob lives at `PREFIX/sha256/<first two hex>/<sha256>` and is written once: the bytes stream
//! into a multipart upload of that very key while they are hashed (parts of [`PART_SIZE`]), and
//! the upload is completed only after the hash and size match what was promised, with
//! `If-None-Match: *` so a replica never overwrites what another completed (a 412 means the same
//! bytes are there already). An upload that is abandoned or crashes is never completed, so it is
//! never visible: S3 keeps its parts until they are aborted (weir aborts what it can; a bucket
//! lifecycle rule `AbortIncompleteMultipartUpload` removes the rest). Nothing is ever copied or
//! renamed server-side (S3 copies stop at 5 GB).
//!
//! Downloads that need no per-recipient treatment are sent to a presigned `GET` of the key that
//! expires after a short time ([`Remote::presign_get`]); the rest read through the replica's local,
//! verified cache (see [`crate::BlobStore`]).

use std::io;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use futures::stream::BoxStream;
use http::header::{CONTENT_TYPE, IF_NONE_MATCH};
use http::{HeaderValue, Method};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path as Key;
use object_store::signer::{SignedUrlOptions, Signer};
use object_store::{GetOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions};
use weir_core::Sha256Hex;

/// Size of every multipart part but the last (S3 wants at least 5 MiB).
pub const PART_SIZE: usize = 8 << 20;
/// Parts in flight to the object store at once, per upload.
const PARTS_IN_FLIGHT: usize = 3;
/// How long the completion request of an upload is signed for.
const COMPLETE_SIGNED_FOR: Duration = Duration::from_secs(300);

/// Where the blobs are: the bucket and prefix, the endpoint, region and credentials.
/// Credentials not given here come from the standard `AWS_*` environment variables.
#[derive(Clone, Default)]
pub struct S3Settings {
    /// `s3://BUCKET` or `s3://BUCKET/PREFIX`.
    pub url: String,
    /// The S3 API's base URL (`http://127.0.0.1:9000` for a local server); unset, AWS.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    /// The secret itself (the configuration reads it from a file).
    pub secret_access_key: Option<String>,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("url", &self.url)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "…"),
            )
            .finish()
    }
}

/// `s3://bucket/prefix` split into the bucket and a prefix that is empty or ends with `/`.
pub fn parse_url(url: &str) -> Result<(String, String), String> {
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| format!("blobs must be an s3://BUCKET[/PREFIX] URL, not {url:?}"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let valid_bucket = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if !valid_bucket {
        return Err(format!(
            "{bucket:?} is not an S3 bucket name (3 to 63 lower-case letters, digits, '-' and '.')"
        ));
    }
    let prefix = prefix.trim_matches('/');
    let valid_prefix = prefix.len() <= 256
        && prefix.split('/').all(|seg| {
            prefix.is_empty()
                || (!seg.is_empty()
                    && seg != "."
                    && seg != ".."
                    && seg
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)))
        });
    if !valid_prefix {
        return Err(format!(
            "the prefix {prefix:?} must be segments of letters, digits, '-', '_' and '.'"
        ));
    }
    let prefix = if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}/")
    };
    Ok((bucket.to_string(), prefix))
}

/// One S3 bucket and prefix holding the blobs.
pub struct Remote {
    s3: Arc<AmazonS3>,
    prefix: String,
    http: reqwest::Client,
    /// `s3://bucket/prefix` (no credentials), for messages.
    pub name: String,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote").field("name", &self.name).finish()
    }
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

impl Remote {
    pub fn open(s: &S3Settings) -> Result<Remote, String> {
        let (bucket, prefix) = parse_url(&s.url)?;
        let mut b = AmazonS3Builder::from_env().with_bucket_name(&bucket);
        if let Some(e) = &s.endpoint {
            b = b.with_endpoint(e).with_allow_http(e.starts_with("http://"));
        }
        if let Some(r) = &s.region {
            b = b.with_region(r);
        }
        if let Some(k) = &s.access_key_id {
            b = b.with_access_key_id(k);
        }
        if let Some(k) = &s.secret_access_key {
            b = b.with_secret_access_key(k);
        }
        let s3 = b
            .build()
            .map_err(|e| format!("the S3 store {}: {e}", s.url))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("an HTTP client for S3: {e}"))?;
        Ok(Remote {
            s3: Arc::new(s3),
            name: format!("s3://{bucket}/{prefix}"),
            prefix,
            http,
        })
    }

    fn key(&self, sha: &Sha256Hex) -> Key {
        let s = sha.as_str();
        Key::from(format!("{}sha256/{}/{s}", self.prefix, &s[..2]))
    }

    /// Size and last change of the stored blob, `None` if absent.
    pub async fn head(&self, sha: &Sha256Hex) -> io::Result<Option<(u64, SystemTime)>> {
        match self.s3.head(&self.key(sha)).await {
            Ok(m) => Ok(Some((m.size, to_system_time(m.last_modified.timestamp())))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(other(e)),
        }
    }

    /// The bytes in `range` of the blob (which must lie within it).
    pub async fn get_range(&self, sha: &Sha256Hex, range: Range<u64>) -> io::Result<Bytes> {
        self.s3
            .get_range(&self.key(sha), range)
            .await
            .map_err(other)
    }

    /// The whole blob as a stream.
    pub async fn get(&self, sha: &Sha256Hex) -> io::Result<BoxStream<'static, io::Result<Bytes>>> {
        let r = self
            .s3
            .get_opts(&self.key(sha), GetOptions::default())
            .await
            .map_err(other)?;
        Ok(r.into_stream().map(|c| c.map_err(other)).boxed())
    }

    /// Stores `bytes` at the blob's key unless something is there (`false`: it was).
    pub async fn put_new(&self, sha: &Sha256Hex, bytes: Bytes) -> io::Result<bool> {
        let opts = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self.s3.put_opts(&self.key(sha), bytes.into(), opts).await {
            Ok(_) => Ok(true),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Ok(false),
            Err(e) => Err(other(e)),
        }
    }

    /// Starts a multipart upload of the blob's key; nothing is visible until it completes.
    pub async fn begin(&self, sha: &Sha256Hex) -> io::Result<Upload> {
        let key = self.key(sha);
        let id = self.s3.create_multipart(&key).await.map_err(other)?;
        Ok(Upload {
            s3: self.s3.clone(),
            http: self.http.clone(),
            key,
            id,
            parts: Vec::new(),
            in_flight: std::collections::VecDeque::new(),
        })
    }

    /// A URL that lets its holder `GET` this one blob (with any `Range`) for `ttl`.
    pub async fn presign_get(&self, sha: &Sha256Hex, ttl: Duration) -> io::Result<String> {
        self.s3
            .signed_url(Method::GET, &self.key(sha), ttl)
            .await
            .map(|u| u.to_string())
            .map_err(other)
    }

    pub async fn delete(&self, sha: &Sha256Hex) -> io::Result<()> {
        match self.s3.delete(&self.key(sha)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(other(e)),
        }
    }

    /// Every blob under the prefix: name, size, last change.
    pub async fn list(&self) -> io::Result<Vec<(String, u64, SystemTime)>> {
        let root = Key::from(format!("{}sha256", self.prefix));
        let mut out = Vec::new();
        let mut listing = self.s3.list(Some(&root));
        while let Some(m) = listing.next().await {
            let m = m.map_err(other)?;
            if let Some(name) = m.location.filename() {
                out.push((
                    name.to_string(),
                    m.size,
                    to_system_time(m.last_modified.timestamp()),
                ));
            }
        }
        Ok(out)
    }

    /// Whether the store answers: a `HEAD` of a key that is never written (404 is fine).
    pub async fn ready(&self) -> Result<(), String> {
        let probe = Key::from(format!("{}readyz", self.prefix));
        match self.s3.head(&probe).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(format!("the S3 store does not answer: {e}")),
        }
    }
}

fn to_system_time(secs: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64)
}

/// A multipart upload in progress to one blob's key.
pub struct Upload {
    s3: Arc<AmazonS3>,
    http: reqwest::Client,
    key: Key,
    id: String,
    parts: Vec<PartId>,
    in_flight: std::collections::VecDeque<tokio::task::JoinHandle<object_store::Result<PartId>>>,
}

impl Upload {
    /// Sends one part (every part but the last must be [`PART_SIZE`]); at most
    /// [`PARTS_IN_FLIGHT`] travel at once.
    pub async fn part(&mut self, bytes: Bytes) -> io::Result<()> {
        while self.in_flight.len() >= PARTS_IN_FLIGHT {
            self.settle_one().await?;
        }
        let (s3, key, id) = (self.s3.clone(), self.key.clone(), self.id.clone());
        let idx = self.parts.len() + self.in_flight.len();
        self.in_flight.push_back(tokio::spawn(async move {
            s3.put_part(&key, &id, idx, bytes.into()).await
        }));
        Ok(())
    }

    async fn settle_one(&mut self) -> io::Result<()> {
        if let Some(h) = self.in_flight.pop_front() {
            let part = h.await.map_err(other)?.map_err(other)?;
            self.parts.push(part);
        }
        Ok(())
    }

    /// Completes the upload unless the key exists (`false`: it did, and the upload is
    /// aborted). The completion carries `If-None-Match: *`, signed, so two replicas completing
    /// the same blob never overwrite each other.
    pub async fn complete_if_absent(mut self) -> io::Result<bool> {
        while !self.in_flight.is_empty() {
            self.settle_one().await?;
        }
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (i, p) in self.parts.iter().enumerate() {
            let etag = p
                .content_id
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            xml.push_str(&format!(
                "<Part><PartNumber>{}</PartNumber><ETag>{etag}</ETag></Part>",
                i + 1
            ));
        }
        xml.push_str("</CompleteMultipartUpload>");
        let opts = SignedUrlOptions::default()
            .with_query([("uploadId", self.id.as_str())])
            .with_signed_header(IF_NONE_MATCH, HeaderValue::from_static("*"));
        let url = self
            .s3
            .signed_url_opts(Method::POST, &self.key, COMPLETE_SIGNED_FOR, &opts)
            .await
            .map_err(other)?;
        let resp = self
            .http
            .post(url)
            .header(IF_NONE_MATCH, "*")
            .header(CONTENT_TYPE, "application/xml")
            .body(xml)
            .send()
            .await
            .map_err(other)?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if status == reqwest::StatusCode::PRECONDITION_FAILED {
            self.abort().await;
            return Ok(false);
        }
        // S3 may answer 200 with an error document once it has started completing.
        if !status.is_success() || text.contains("<Error>") {
            let detail: String = text.chars().take(300).collect();
            self.abort().await;
            return Err(other(format!(
                "the object store refused to complete the upload ({status}): {detail}"
            )));
        }
        Ok(true)
    }

    /// Drops the parts (best effort: a lifecycle rule removes what a crash leaves).
    pub async fn abort(self) {
        for h in &self.in_flight {
            h.abort();
        }
        if let Err(e) = self.s3.abort_multipart(&self.key, &self.id).await {
            tracing::warn!(error = %e, key = %self.key, "aborting a multipart upload");
        }
    }
}

/// Collects a stream's chunks into parts of [`PART_SIZE`].
#[derive(Default)]
pub(crate) struct Parts {
    buf: BytesMut,
}

impl Parts {
    /// Adds `chunk`; returns every part now full.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Vec<Bytes> {
        let mut full = Vec::new();
        let mut rest = chunk;
        while !rest.is_empty() {
            let room = PART_SIZE - self.buf.len();
            let take = room.min(rest.len());
            self.buf.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.buf.len() == PART_SIZE {
                full.push(
                    std::mem::replace(&mut self.buf, BytesMut::with_capacity(PART_SIZE)).freeze(),
                );
            }
        }
        full
    }

    pub(crate) fn rest(self) -> Bytes {
        self.buf.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_bucket_and_prefix() {
        assert_eq!(
            parse_url("s3://weir").expect("ok"),
            ("weir".into(), "".into())
        );
        assert_eq!(
            parse_url("s3://weir-blobs/prod/eu/").expect("ok"),
            ("weir-blobs".into(), "prod/eu/".into())
        );
        for bad in [
            "weir",
            "http://weir",
            "s3://W",
            "s3://ab",
            "s3://weir/../x",
            "s3://weir/a//b",
            "s3://weir/a b",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parts_are_full_but_the_last() {
        let mut p = Parts::default();
        assert!(p.push(&vec![1u8; PART_SIZE - 1]).is_empty());
        let full = p.push(&vec![2u8; PART_SIZE + 2]);
        assert_eq!(full.len(), 2);
        assert!(full.iter().all(|f| f.len() == PART_SIZE));
        assert_eq!((full[0][PART_SIZE - 2], full[0][PART_SIZE - 1]), (1, 2));
        assert_eq!(&p.rest()[..], &[2u8]);
    }

    #[test]
    fn settings_never_print_the_secret() {
        let s = S3Settings {
            url: "s3://weir".into(),
            secret_access_key: Some("hunter2-secret".into()),
            ..S3Settings::default()
        };
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
