//! Hub read routes: whoami, model info, tree, refs, auth-check and `/resolve` (HEAD and GET with
//! `Range`). Metadata is readable by anyone who may see the repo; bytes need a `Download` grant.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use weir_store::facts::BlobFacts;
use weir_wire::ErrorCode;

use crate::extract::{Path, Query};
use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, ETAG, LOCATION};
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tower::ServiceExt;
use weir_core::RepoPath;
use weir_core::git::{FileEntry, TreeBuilder};

use crate::auth::Caller;
use crate::lookup::Visible;
use crate::lookup::resolve_revision;
use crate::{ApiError, AppState, iso8601};

pub async fn whoami(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let Some(token) = &caller.token else {
        return Err(ApiError::invalid_token());
    };
    let account = state.store.db.account(token.account.as_str()).await?;
    let (email, fullname) = account
        .map(|a| (a.email, a.fullname))
        .unwrap_or((None, None));
    let orgs: Vec<Value> = caller
        .orgs
        .iter()
        .map(|(o, role)| json!({"type": "org", "name": o.as_str(), "roleInOrg": if role == "owner" { "admin" } else { "write" }}))
        .collect();
    Ok(Json(json!({
        "type": "user",
        "name": token.account.as_str(),
        "fullname": fullname.unwrap_or_else(|| token.account.to_string()),
        "email": email,
        "orgs": orgs,
        "auth": {"type": "access_token", "accessToken": {"displayName": token.display_name, "role": token.scope.as_str()}},
    })))
}

/// The Hub client's daily telemetry probe; an empty answer lets it cache and move on.
pub async fn agent_harnesses() -> Json<Value> {
    Json(json!({"standardEnvVars": [], "harnesses": {}}))
}

fn wants_blobs(query: &[(String, String)]) -> bool {
    query
        .iter()
        .any(|(k, v)| k == "blobs" && (v == "true" || v == "1"))
}

pub async fn model_info(
    State(state): State<AppState>,
    caller: Caller,
    uri: axum::http::Uri,
    Path((ns, name)): Path<(String, String)>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    info(state, caller, uri, ns, name, "main".to_string(), query).await
}

pub async fn model_info_at(
    State(state): State<AppState>,
    caller: Caller,
    uri: axum::http::Uri,
    Path((ns, name, rev)): Path<(String, String, String)>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    info(state, caller, uri, ns, name, rev, query).await
}

async fn info(
    state: AppState,
    caller: Caller,
    uri: axum::http::Uri,
    ns: String,
    name: String,
    rev: String,
    query: Vec<(String, String)>,
) -> Result<Response, ApiError> {
    // Everything but the download count and the presumption clock changes only with the
    // state version (see weir_store::cache); taken before anything is read.
    let at = state.store.db.state_version().await?;
    let (repo, _) = crate::lookup::visible_or_moved(&state, &caller, &uri, &ns, &name).await?;
    let (blobs, security) = (wants_blobs(&query), wants_security(&query));
    let key = (repo.id, rev.clone(), blobs, security);
    let parts = match state.info.get(at, &key) {
        Some(p) => p,
        None => {
            let p = std::sync::Arc::new(info_parts(&state, &repo, &rev, blobs, security).await?);
            if p.bytes <= MAX_CACHED_INFO {
                state.info.put(at, key, p.clone());
            }
            p
        }
    };
    let downloads = state
        .store
        .db
        .recent_recipients_of(
            &repo,
            crate::now() - weir_registry::listing::DOWNLOAD_WINDOW_SECS,
        )
        .await?;
    let mut weir = parts.weir.clone();
    if let Some((since, notified, policy)) = &parts.clock {
        weir["classification"]["notification"] = json!(crate::views::notification(
            *since,
            notified.as_ref(),
            policy,
            crate::now()
        ));
    }
    Ok(Json(InfoOut {
        body: &parts.body,
        downloads,
        weir: &weir,
    })
    .into_response())
}

/// Largest `model_info` answer kept (a repo of many thousands of files is answered afresh).
const MAX_CACHED_INFO: u64 = 1 << 20;
/// All cached `model_info` answers together at most.
const INFO_CACHE_BYTES: u64 = 32 << 20;

/// `model_info` of one revision, apart from its live parts.
pub struct InfoParts {
    /// The size of the answer, serialized: its weight in the cache.
    bytes: u64,
    /// The answer, with `downloads` and `weir` written at each request.
    body: serde_json::Map<String, Value>,
    weir: Value,
    /// What the classification's presumption clock is computed from, if classified.
    #[allow(clippy::type_complexity)]
    clock: Option<(
        Option<i64>,
        Option<(i64, String)>,
        std::sync::Arc<weir_core::policy::Policy>,
    )>,
}

/// Cached `model_info` answers: (repo, revision, blobs, securityStatus) → their parts, at most
/// [`INFO_CACHE_BYTES`] of them.
pub type InfoMemo =
    weir_store::cache::Memo<(i64, String, bool, bool), std::sync::Arc<InfoParts>, InfoWeight>;

/// Weighs a cached `model_info` answer by its size.
#[derive(Clone)]
pub struct InfoWeight;

impl quick_cache::Weighter<(i64, String, bool, bool), (u64, std::sync::Arc<InfoParts>)>
    for InfoWeight
{
    fn weight(&self, k: &(i64, String, bool, bool), v: &(u64, std::sync::Arc<InfoParts>)) -> u64 {
        v.1.bytes.saturating_add(k.1.len() as u64).max(1)
    }
}

/// An empty `model_info` cache.
pub fn info_memo() -> InfoMemo {
    weir_store::cache::Memo::weighted(4096, INFO_CACHE_BYTES, InfoWeight)
}

struct InfoOut<'a> {
    body: &'a serde_json::Map<String, Value>,
    downloads: i64,
    weir: &'a Value,
}

impl serde::Serialize for InfoOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.body.len()))?;
        for (k, v) in self.body {
            match k.as_str() {
                "downloads" => m.serialize_entry(k, &self.downloads)?,
                "weir" => m.serialize_entry(k, self.weir)?,
                _ => m.serialize_entry(k, v)?,
            }
        }
        m.end()
    }
}

async fn info_parts(
    state: &AppState,
    repo: &weir_store::Repo,
    rev: &str,
    blobs: bool,
    security: bool,
) -> Result<InfoParts, ApiError> {
    let repo = repo.clone();
    let commit = resolve_revision(state, &repo, rev).await?;
    let files = state.store.db.files(&repo, &commit).await?;
    let info = state
        .store
        .db
        .commit_info(&repo, &commit)
        .await?
        .ok_or_else(ApiError::internal)?;
    let siblings: Vec<Value> = files
        .iter()
        .map(|f| {
            if blobs {
                let mut v = json!({"rfilename": f.path.as_str(), "size": f.size, "blobId": f.git_oid});
                if f.lfs {
                    v["lfs"] = json!({"size": f.size, "sha256": f.sha256.as_str(), "pointerSize": pointer_size(f)});
                }
                v
            } else {
                json!({"rfilename": f.path.as_str()})
            }
        })
        .collect();
    let used: u64 = files.iter().map(|f| f.size).sum();
    let id = repo.repo_id.to_string();
    let facts = state.store.db.facts_at(&repo, &commit).await?;
    let card = weir_registry::classification::card_facts(&state.store, &repo, &commit).await?;
    let stored = state.store.db.classification(&repo).await?;
    let policy = weir_registry::policy::policy_in_force(&state.store).await?;
    let classification = match &stored {
        Some(c) => json!({
            "minimumTier": c.tier.as_str(),
            "rule": c.rule,
            "commit": c.commit,
            "notification": Value::Null,
        }),
        None => Value::Null,
    };
    let clock = stored.as_ref().map(|c| {
        (
            c.presumption_since,
            c.notified.clone(),
            std::sync::Arc::new(policy.policy.clone()),
        )
    });
    let weir = json!({
        "tier": repo.tier.as_str(),
        "tierName": repo.tier.name(),
        "card": crate::views::card_json(&card),
        "classification": classification,
    });
    let Value::Object(body) = json!({
        "_id": format!("{:024x}", repo.id),
        "id": id,
        "modelId": id,
        "author": repo.repo_id.namespace.as_str(),
        "sha": commit.as_str(),
        "lastModified": iso8601(info.created_at),
        "createdAt": iso8601(repo.created_at),
        "private": repo.private,
        "gated": crate::views::gated(repo.tier),
        "disabled": false,
        "downloads": 0,
        "likes": state.store.db.like_count(&repo).await?,
        "tags": card.tags,
        "cardData": if card.data.is_empty() { Value::Null } else { Value::Object(weir_core::card::hub_card_data(&card.data)) },
        "siblings": siblings,
        "usedStorage": used,
        "safetensors": safetensors_json(&facts),
        "securityRepoStatus": if security { security_repo_json(&files, &facts) } else { Value::Null },
        "weir": Value::Null,
    }) else {
        return Err(ApiError::internal());
    };
    let bytes = (serde_json::to_vec(&body)
        .map(|v| v.len())
        .unwrap_or(usize::MAX) as u64)
        .saturating_add(serde_json::to_vec(&weir).map(|v| v.len()).unwrap_or(0) as u64);
    Ok(InfoParts {
        bytes,
        body,
        weir,
        clock,
    })
}

fn wants_security(query: &[(String, String)]) -> bool {
    query.iter().any(|(k, v)| {
        (k == "securityStatus" && (v == "true" || v == "True" || v == "1"))
            || (k == "expand" && v == "securityRepoStatus")
    })
}

/// The Hub's parameter summary: every safetensors file's tensors, by dtype and in total.
fn safetensors_json(facts: &HashMap<String, BlobFacts>) -> Value {
    let mut by_dtype: BTreeMap<&str, u64> = BTreeMap::new();
    let mut any = false;
    for f in facts.values() {
        for (dtype, n) in f.safetensors.iter().flatten() {
            any = true;
            let e = by_dtype.entry(dtype).or_default();
            *e = e.saturating_add(*n);
        }
    }
    if !any {
        return Value::Null;
    }
    let total = by_dtype.values().fold(0u64, |a, n| a.saturating_add(*n));
    json!({"parameters": by_dtype, "total": total})
}

/// The Hub's `securityRepoStatus`: the files the scan graded other than safe.
fn security_repo_json(files: &[FileEntry], facts: &HashMap<String, BlobFacts>) -> Value {
    let mut issues = Vec::new();
    let mut done = true;
    for f in files {
        let p = f.path.as_str();
        match facts.get(p).and_then(|x| x.pickle.as_ref()) {
            Some(r) if r.safety() != weir_core::pickle::Safety::Innocuous => issues.push(json!({
                "path": p,
                "level": r.safety().status(),
                "pickleImports": r.imports,
                "incomplete": r.incomplete,
            })),
            Some(_) => {}
            None if !facts.contains_key(p) && weir_core::pickle::wants_scan(p, b"") => done = false,
            None => {}
        }
    }
    json!({"scansDone": done, "filesWithIssues": issues})
}

fn pointer_size(f: &FileEntry) -> usize {
    weir_core::git::lfs_pointer(&f.sha256, f.size).len()
}

pub(super) fn file_json(f: &FileEntry) -> Value {
    let mut v = json!({"type": "file", "path": f.path.as_str(), "oid": f.git_oid, "size": f.size});
    if f.lfs {
        v["lfs"] =
            json!({"oid": f.sha256.as_str(), "size": f.size, "pointerSize": pointer_size(f)});
    }
    v
}

pub async fn tree_root(
    State(state): State<AppState>,
    caller: Caller,
    uri: axum::http::Uri,
    Path((ns, name, rev)): Path<(String, String, String)>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    tree(state, caller, uri, (ns, name), rev, None, query).await
}

pub async fn tree_path(
    State(state): State<AppState>,
    caller: Caller,
    uri: axum::http::Uri,
    Path((ns, name, rev, path)): Path<(String, String, String, String)>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    tree(state, caller, uri, (ns, name), rev, Some(path), query).await
}

async fn tree(
    state: AppState,
    caller: Caller,
    uri: axum::http::Uri,
    (ns, name): (String, String),
    rev: String,
    path: Option<String>,
    query: Vec<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (repo, _) = crate::lookup::visible_or_moved(&state, &caller, &uri, &ns, &name).await?;
    let commit = resolve_revision(&state, &repo, &rev).await?;
    let recursive = query
        .iter()
        .any(|(k, v)| k == "recursive" && (v == "true" || v == "1"));
    let dir = match path.as_deref().map(|p| p.trim_end_matches('/')) {
        None | Some("") => None,
        Some(p) => Some(
            RepoPath::parse(p)
                .map_err(|e| ApiError::bad_request(ErrorCode::InvalidPath, e.to_string()))?,
        ),
    };
    let files = state.store.db.files(&repo, &commit).await?;
    let mut tree = TreeBuilder::new();
    for f in &files {
        tree.add(&f.path, &f.git_oid);
    }
    let (_, dir_oids) = tree.finish();
    let prefix = dir.as_ref().map(|d| format!("{d}/")).unwrap_or_default();
    if let Some(d) = &dir
        && !dir_oids.contains_key(d.as_str())
    {
        return Err(ApiError::entry_not_found(
            &repo.repo_id.to_string(),
            d.as_str(),
            commit.as_str(),
        ));
    }
    let mut entries = Vec::new();
    let mut seen_dirs = BTreeSet::new();
    for f in &files {
        let Some(rest) = f.path.as_str().strip_prefix(&prefix) else {
            continue;
        };
        // every directory between the listed one and the file
        let mut end = 0;
        while let Some(i) = rest[end..].find('/') {
            let sub = format!("{prefix}{}", &rest[..end + i]);
            if seen_dirs.insert(sub.clone()) {
                let oid = dir_oids.get(&sub).cloned().unwrap_or_default();
                entries.push(json!({"type": "directory", "path": sub, "oid": oid, "size": 0}));
            }
            end += i + 1;
            if !recursive {
                break;
            }
        }
        if recursive || !rest.contains('/') {
            entries.push(file_json(f));
        }
    }
    // `list_repo_tree(expand=True)`: each entry's last commit.
    if query
        .iter()
        .any(|(k, v)| k == "expand" && (v == "true" || v == "True" || v == "1"))
    {
        super::history::expand_entries(&state, &repo, &commit, &mut entries).await?;
    }
    Ok(Json(Value::Array(entries)))
}

pub async fn refs(
    State(state): State<AppState>,
    _caller: Caller,
    Visible { repo, facts: _ }: Visible,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let refs = state.store.db.refs(&repo).await?;
    let mut branches = Vec::new();
    let mut tags = Vec::new();
    for r in refs {
        match r.kind {
            weir_store::RefKind::Branch => branches.push(
                json!({"name": r.name.as_str(), "ref": format!("refs/heads/{}", r.name), "targetCommit": r.commit.as_str()}),
            ),
            weir_store::RefKind::Tag => tags.push(
                json!({"name": r.name.as_str(), "ref": format!("refs/tags/{}", r.name), "targetCommit": r.commit.as_str()}),
            ),
        }
    }
    let mut body = json!({"branches": branches, "converts": [], "tags": tags});
    if query.iter().any(|(k, _)| k == "include_prs") {
        body["pullRequests"] = json!([]);
    }
    Ok(Json(body))
}

pub async fn auth_check(
    State(state): State<AppState>,
    caller: Caller,
    Visible { repo, facts: _ }: Visible,
) -> Result<Json<Value>, ApiError> {
    // What a download of the default revision would meet, its incident holds included.
    let head = crate::lookup::resolve_revision(&state, &repo, "main").await?;
    match crate::gate::check_at(&state, &caller, &repo, &head)
        .await?
        .error
    {
        Some(e) => Err(e),
        None => Ok(Json(json!({}))),
    }
}

/// `auth_check(write=True)`: `{}` when the caller may push to the repo (the Writable
/// extractor refuses otherwise: 401 anonymous, 403 without write, missing if hidden).
pub async fn auth_check_write(
    _caller: Caller,
    crate::lookup::Writable(_repo): crate::lookup::Writable,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({})))
}

/// Files up to this size are answered from memory ([`SmallBlobs`]).
pub const SMALL_FILE_MAX: u64 = 256 << 10;

/// The bytes of small blobs (configs, tokenizers, model cards), by content address, so the
/// requests every client makes before a download (`config.json` GETs, `HEAD`s) do not open a
/// file. A blob's bytes never change under its address, so nothing here is ever stale; the
/// download gate has decided before anything is read from here.
pub struct SmallBlobs {
    cache: quick_cache::sync::Cache<String, SmallBlob, BlobWeight>,
}

/// At most this many bytes of small blobs are held.
const SMALL_BLOBS_BYTES: u64 = 64 << 20;

#[derive(Clone)]
pub struct SmallBlob {
    bytes: bytes::Bytes,
    last_modified: Option<HeaderValue>,
}

#[derive(Clone)]
struct BlobWeight;

impl quick_cache::Weighter<String, SmallBlob> for BlobWeight {
    fn weight(&self, _: &String, v: &SmallBlob) -> u64 {
        v.bytes.len().max(1) as u64
    }
}

impl Default for SmallBlobs {
    fn default() -> SmallBlobs {
        SmallBlobs {
            cache: quick_cache::sync::Cache::with_options(
                weir_store::cache::weighted_options(4096, SMALL_BLOBS_BYTES),
                BlobWeight,
                Default::default(),
                Default::default(),
            ),
        }
    }
}

/// `Some(is_head)` for a `GET` or `HEAD` with no `Range` and no conditions.
fn plain_request(req: &Request) -> Option<bool> {
    use axum::http::{Method, header};
    let head = match *req.method() {
        Method::GET => false,
        Method::HEAD => true,
        _ => return None,
    };
    let conditional = [
        header::RANGE,
        header::IF_RANGE,
        header::IF_MATCH,
        header::IF_NONE_MATCH,
        header::IF_MODIFIED_SINCE,
        header::IF_UNMODIFIED_SINCE,
    ]
    .iter()
    .any(|h| req.headers().contains_key(h));
    (!conditional).then_some(head)
}

/// The answer to a plain `GET`/`HEAD` (no `Range`, no conditions) of a small file, with the
/// headers `ServeFile` gives; `None` sends the request the streaming way (large files,
/// ranges, conditional requests, a blob whose bytes are not its recorded size).
async fn small_file(state: &AppState, file: &FileEntry, plain: Option<bool>) -> Option<Response> {
    use axum::http::header;
    let head = plain?;
    if file.size > SMALL_FILE_MAX {
        return None;
    }
    let key = file.sha256.to_string();
    let blob = match state.small_blobs.cache.get(&key) {
        Some(b) => b,
        None => {
            let path = state.store.blobs.local_path(&file.sha256).await.ok()?;
            let want = file.size;
            let read = tokio::task::spawn_blocking(move || -> std::io::Result<SmallBlob> {
                use std::io::Read;
                let f = std::fs::File::open(&path)?;
                let modified = f.metadata()?.modified().ok();
                let mut bytes = Vec::with_capacity(usize::try_from(want).unwrap_or(0));
                f.take(want + 1).read_to_end(&mut bytes)?;
                Ok(SmallBlob {
                    bytes: bytes.into(),
                    last_modified: modified
                        .and_then(|t| HeaderValue::from_str(&httpdate::fmt_http_date(t)).ok()),
                })
            });
            let b = read.await.ok()?.ok()?;
            if b.bytes.len() as u64 != want {
                return None;
            }
            state.small_blobs.cache.insert(key, b.clone());
            b
        }
    };
    let mut resp = if head {
        Response::new(Body::empty())
    } else {
        Response::new(Body::from(blob.bytes.clone()))
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(lm) = blob.last_modified {
        h.insert(header::LAST_MODIFIED, lm);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(blob.bytes.len()));
    Some(resp)
}

/// A presigned URL for downloading `file` straight from the object store, when the blobs are on
/// one, redirects are on, the file is an LFS file (small files are answered here) and the tier
/// asks nothing of a download beyond the decision already taken (T0, T1).
async fn presigned(
    state: &AppState,
    repo: &weir_store::Repo,
    file: &FileEntry,
) -> Option<std::io::Result<String>> {
    let ttl = state.config.blob_redirect_ttl_secs?;
    if !file.lfs || repo.tier > weir_core::Tier::T1 {
        return None;
    }
    state
        .store
        .blobs
        .presign_get(&file.sha256, std::time::Duration::from_secs(ttl))
        .await
}

/// Largest chunk read from disk at a time when streaming a blob.
const SERVE_CHUNK: usize = 1 << 20;
/// Smallest read buffer (a small file is read in one go).
const MIN_SERVE_CHUNK: usize = 8 << 10;

/// The read buffer for a file of `size` bytes: the file itself when small, so a 1 KiB
/// `config.json` does not allocate (and fault in) a 1 MiB buffer per request.
fn serve_chunk(size: u64) -> usize {
    usize::try_from(size)
        .unwrap_or(SERVE_CHUNK)
        .clamp(MIN_SERVE_CHUNK, SERVE_CHUNK)
}

fn header(v: &str) -> HeaderValue {
    HeaderValue::from_str(v).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// `HEAD`/`GET /{ns}/{name}/resolve/{rev}/{path}`: the bytes, with the headers the Hub client
/// reads (`X-Repo-Commit`, `X-Linked-Etag`, `X-Linked-Size`, `ETag`) and `Range` support.
pub async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    Visible { repo, facts: _ }: Visible,
    Path((_, _, rev, path)): Path<(String, String, String, String)>,
    req: Request,
) -> Result<Response, ApiError> {
    let repo_name = repo.repo_id.to_string();
    let path = RepoPath::parse(&path)
        .map_err(|e| ApiError::bad_request(ErrorCode::InvalidPath, e.to_string()))?;
    // The revision and the file in one query.
    let parsed = weir_core::Revision::parse(&rev)
        .map_err(|_| ApiError::revision_not_found(&repo_name, &rev))?;
    let (commit, file) = state
        .store
        .db
        .file_at(&repo, &parsed, &path)
        .await?
        .ok_or_else(|| ApiError::revision_not_found(&repo_name, &rev))?;
    let file =
        file.ok_or_else(|| ApiError::entry_not_found(&repo_name, path.as_str(), commit.as_str()))?;
    // Every decision on gated content is an audit event; a delivery that cannot be recorded
    // does not happen.
    let gate = crate::gate::check_at(&state, &caller, &repo, &commit).await?;
    state
        .metrics
        .download_decision(gate.decision.allow, gate.decision.reason.code());
    let is_get = req.method() == axum::http::Method::GET;
    let logged =
        repo.tier > weir_core::Tier::T0 || gate.decision.reason == weir_authz::Reason::IncidentHold;
    let event = logged.then(|| {
        crate::gate::event(
            &caller,
            &crate::extract::RequestMeta::of(req.headers()),
            if is_get { "download" } else { "download.head" },
            Some(&repo),
            if gate.decision.allow { "allow" } else { "deny" },
            gate.decision.reason.code(),
            json!({"path": path.as_str(), "commit": commit.as_str(), "tier": repo.tier.as_str(), "range": req.headers().get("range").and_then(|v| v.to_str().ok())}),
        )
    });
    // Who received which revision: incident notifications reach exactly these accounts.
    let delivery = match caller.name() {
        Some(n) if is_get && gate.decision.allow => Some(n.as_str()),
        _ => None,
    };
    if event.is_some() || delivery.is_some() {
        state
            .store
            .db
            .record_download(
                event.as_ref(),
                delivery.map(|n| (&repo, commit.as_str(), n)),
            )
            .await
            .map_err(|err| {
                tracing::error!(error = %err, "could not record a delivery");
                ApiError::internal()
            })?;
    }
    if let Some(mut e) = gate.error {
        e.repo_commit = Some(commit.to_string());
        return Err(e);
    }
    let etag = if file.lfs {
        file.sha256.to_string()
    } else {
        file.git_oid.clone()
    };
    let trace_id = req
        .headers()
        .get("x-amzn-trace-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    tracing::info!(
        repo = %repo_name, commit = %commit, path = %path, method = %req.method(),
        user = caller.name().map(|n| n.as_str()).unwrap_or("-"), trace_id, "resolve"
    );
    let plain = plain_request(&req);
    let mut resp = if let Some(url) = presigned(&state, &repo, &file).await {
        // Allowed, recorded, and the bytes need no per-recipient treatment: straight from the
        // object store, through a URL for this one blob that expires soon.
        let url = url.map_err(|e| {
            tracing::error!(error = %e, "presigning a download");
            ApiError::internal()
        })?;
        let mut r = Response::new(Body::empty());
        *r.status_mut() = axum::http::StatusCode::FOUND;
        r.headers_mut().insert(LOCATION, header(&url));
        r.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
        state.metrics.download_redirected();
        r
    } else {
        match small_file(&state, &file, plain).await {
            Some(r) => r,
            None => {
                let blob = state
                    .store
                    .blobs
                    .local_path(&file.sha256)
                    .await
                    .map_err(|e| {
                        tracing::error!(error = %e, "reading a blob");
                        ApiError::internal()
                    })?;
                tower_http::services::ServeFile::new(blob)
                    .with_buf_chunk_size(serve_chunk(file.size))
                    .oneshot(req)
                    .await
                    .map_err(|_| ApiError::internal())?
                    .map(Body::new)
            }
        }
    };
    let h = resp.headers_mut();
    h.insert(
        HeaderName::from_static("x-repo-commit"),
        header(commit.as_str()),
    );
    h.insert(
        HeaderName::from_static("x-linked-etag"),
        header(&format!("\"{etag}\"")),
    );
    h.insert(
        HeaderName::from_static("x-linked-size"),
        header(&file.size.to_string()),
    );
    h.insert(ETAG, header(&format!("\"{etag}\"")));
    // A repo's file is bytes, never a page or a script of this site, whatever it holds.
    h.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        HeaderName::from_static("content-security-policy"),
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    let fname: String = path
        .file_name()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded =
        percent_encoding::utf8_percent_encode(path.file_name(), percent_encoding::NON_ALPHANUMERIC);
    h.insert(
        CONTENT_DISPOSITION,
        header(&format!(
            "inline; filename*=UTF-8''{encoded}; filename=\"{fname}\""
        )),
    );
    Ok(resp.into_response())
}

/// Largest index file read for `safetensors-metadata`.
const MAX_INDEX: u64 = 16 << 20;
/// Most shards one index may name.
const MAX_SHARDS: usize = 10_000;
/// Most header bytes read across a repo's shards for one answer.
const MAX_HEADERS_TOTAL: u64 = 256 << 20;

/// `GET /api/models/{ns}/{name}/safetensors-metadata/{filename}`
/// (`get_sharded_safetensors_metadata`): the index and each shard's header, at `main`. Headers
/// are read from the files' bytes, so the download gate decides, as for `/resolve` (and a gated
/// decision is recorded).
pub async fn safetensors_metadata(
    State(state): State<AppState>,
    caller: Caller,
    meta: crate::extract::RequestMeta,
    Visible { repo, facts: _ }: Visible,
    Path((_, _, filename)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let repo_name = repo.repo_id.to_string();
    let commit = resolve_revision(&state, &repo, "main").await?;
    let path = RepoPath::parse(&filename)
        .map_err(|e| ApiError::bad_request(ErrorCode::InvalidPath, e.to_string()))?;
    let gate = crate::gate::check_at(&state, &caller, &repo, &commit).await?;
    if repo.tier > weir_core::Tier::T0 {
        let e = crate::gate::event(
            &caller,
            &meta,
            "download.metadata",
            Some(&repo),
            if gate.decision.allow { "allow" } else { "deny" },
            gate.decision.reason.code(),
            json!({"path": path.as_str(), "commit": commit.as_str(), "tier": repo.tier.as_str()}),
        );
        state.store.db.record_download(Some(&e), None).await?;
    }
    if let Some(mut e) = gate.error {
        e.repo_commit = Some(commit.to_string());
        return Err(e);
    }
    let missing = |p: &str| ApiError::entry_not_found(&repo_name, p, commit.as_str());
    let index_file = state
        .store
        .db
        .file(&repo, &commit, &path)
        .await?
        .ok_or_else(|| missing(path.as_str()))?;
    let bad = |m: String| ApiError::bad_request(ErrorCode::InvalidFormat, m);
    if index_file.size > MAX_INDEX {
        return Err(bad(format!("{path} is larger than {MAX_INDEX} bytes")));
    }
    let bytes = state
        .store
        .blobs
        .read_prefix(&index_file.sha256, MAX_INDEX)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "reading an index blob");
            ApiError::internal()
        })?;
    let index: Value =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("{path} is not JSON: {e}")))?;
    let shards: BTreeSet<String> = index["weight_map"]
        .as_object()
        .ok_or_else(|| bad(format!("{path} has no weight_map")))?
        .values()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    if shards.len() > MAX_SHARDS {
        return Err(bad(format!("{path} names more than {MAX_SHARDS} shards")));
    }
    let dir = path
        .as_str()
        .rsplit_once('/')
        .map(|(d, _)| format!("{d}/"))
        .unwrap_or_default();
    let mut headers = serde_json::Map::new();
    let mut total = 0u64;
    for shard in shards {
        let p = RepoPath::parse(&format!("{dir}{shard}"))
            .map_err(|e| bad(format!("shard {shard:?}: {e}")))?;
        let f = state
            .store
            .db
            .file(&repo, &commit, &p)
            .await?
            .ok_or_else(|| missing(p.as_str()))?;
        let file = state.store.blobs.local_path(&f.sha256).await.map_err(|e| {
            tracing::error!(error = %e, "reading a shard");
            ApiError::internal()
        })?;
        let size = f.size;
        let left = MAX_HEADERS_TOTAL.saturating_sub(total);
        let header = tokio::task::spawn_blocking(
            move || -> Result<Result<(Vec<u8>, u64), String>, std::io::Error> {
                use std::io::Read;
                let mut fh = std::fs::File::open(&file)?;
                let mut first = [0u8; 8];
                if fh.read_exact(&mut first).is_err() {
                    return Ok(Err("shorter than a safetensors header".into()));
                }
                let len = match weir_core::safetensors::header_len(&first, size) {
                    Ok(l) if l <= left => l,
                    Ok(_) => return Ok(Err("the headers are too large to answer at once".into())),
                    Err(e) => return Ok(Err(e.to_string())),
                };
                let mut h = vec![0u8; len as usize];
                fh.read_exact(&mut h)?;
                if let Err(e) = weir_core::safetensors::parse_header(&h, size) {
                    return Ok(Err(e.to_string()));
                }
                Ok(Ok((h, len)))
            },
        )
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|e| {
            tracing::error!(error = %e, "reading a shard header");
            ApiError::internal()
        })?
        .map_err(|m| bad(format!("{}: {m}", p.as_str())))?;
        total += header.1;
        let v: Value =
            serde_json::from_slice(&header.0).map_err(|e| bad(format!("{}: {e}", p.as_str())))?;
        headers.insert(shard, v);
    }
    Ok(Json(json!({"index": index, "headers": headers})))
}
