//! Hub write routes: create repo, preupload, the NDJSON commit, branches and tags.

use std::collections::BTreeSet;
use weir_wire::ErrorCode;

use crate::extract::{Path, Query};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use weir_authz::Action;
use weir_core::git::CommitSignature;
use weir_core::{CommitId, Name, RefName, RepoId, RepoPath, Sha256Hex};
use weir_store::{CommitOp, NewCommit, RefKind, StoreError};

use crate::auth::Caller;
use crate::extract::{Json as JsonBody, parse_json};
use crate::lookup::Writable;
use crate::lookup::resolve_revision;
use crate::{ApiError, AppState};

#[derive(Deserialize)]
pub struct CreateRepo {
    name: String,
    organization: Option<String>,
    #[serde(default)]
    private: Option<bool>,
    visibility: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// The namespace and name of a Hub repo body (`create_repo`, `delete_repo`): `organization`
/// and `name`, or `name` as `NS/NAME`, or `name` in the caller's own namespace.
fn hub_repo_name(name: &str, organization: Option<&str>, own: &str) -> (String, String) {
    match (organization, name.split_once('/')) {
        (Some(org), _) => (org.to_string(), name.to_string()),
        (None, Some((ns, n))) => (ns.to_string(), n.to_string()),
        (None, None) => (own.to_string(), name.to_string()),
    }
}

/// Only model repos exist here: a dataset, space or kernel type is refused with the way forward.
fn model_repos_only(kind: Option<&str>) -> Result<(), ApiError> {
    match kind {
        Some(kind) if kind != "model" => Err(ApiError::bad_request(
            ErrorCode::UnsupportedRepoType,
            format!("repo type {kind:?} is not supported"),
        )
        .next("weir hosts model repos only; omit 'repo_type'")),
        _ => Ok(()),
    }
}

#[derive(Deserialize)]
pub struct DeleteRepo {
    name: String,
    organization: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// `delete_repo`: the repo becomes a tombstone (README, "Deleting a repo"). A repo the caller
/// cannot see is missing, as on the Hub (`RepositoryNotFoundError`, which `missing_ok` accepts).
pub async fn delete_repo(
    State(state): State<AppState>,
    caller: Caller,
    meta: crate::extract::RequestMeta,
    JsonBody(req): JsonBody<DeleteRepo>,
) -> Result<Json<Value>, ApiError> {
    model_repos_only(req.kind.as_deref())?;
    let default_ns = caller.name().map(|u| u.to_string()).unwrap_or_default();
    let (ns, name) = hub_repo_name(&req.name, req.organization.as_deref(), &default_ns);
    let (repo, _) = crate::lookup::visible_repo(&state, &caller, &ns, &name).await?;
    weir_registry::repos::delete(
        &state.store,
        &repo,
        &caller.subject,
        &meta.context(&caller),
        crate::now(),
    )
    .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct DuplicateRepo {
    repository: String,
    visibility: Option<String>,
}

/// `duplicate_repo`: a copy of `main` in a new repo, for a caller who may download the source
/// (README, "Duplicating a repo").
pub async fn duplicate_repo(
    State(state): State<AppState>,
    caller: Caller,
    meta: crate::extract::RequestMeta,
    crate::lookup::Visible { repo, .. }: crate::lookup::Visible,
    JsonBody(req): JsonBody<DuplicateRepo>,
) -> Result<Json<Value>, ApiError> {
    let Some(user) = caller.name().cloned() else {
        return Err(ApiError::denied(
            weir_authz::Reason::NotSignedIn,
            &repo.repo_id.to_string(),
            true,
        ));
    };
    let target = RepoId::parse(&req.repository).map_err(|e| {
        ApiError::bad_request(ErrorCode::InvalidRepoId, e.to_string())
            .next("name the copy NAMESPACE/NAME")
    })?;
    let private = match req.visibility.as_deref() {
        None => None,
        Some("private") => Some(true),
        Some("public") => Some(false),
        Some(other) => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidField,
                format!("visibility is public or private, not {other:?}"),
            ));
        }
    };
    let commit = crate::lookup::resolve_revision(&state, &repo, "main").await?;
    // Copying is receiving every byte: the download gate decides, as for `/resolve`.
    let gate = crate::gate::check_at(&state, &caller, &repo, &commit).await?;
    if let Some(e) = gate.error {
        return Err(e);
    }
    // Asked before the namespace is looked up, so the answer says nothing of other namespaces.
    caller.require(
        &Action::CreateRepo {
            namespace: &target.namespace,
        },
        &target.to_string(),
    )?;
    if state
        .store
        .db
        .account(target.namespace.as_str())
        .await?
        .is_none()
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NamespaceNotFound,
            format!("namespace {} does not exist", target.namespace),
        ));
    }
    let author = signature(&state, &user).await?;
    weir_registry::repos::duplicate(
        &state.store,
        &repo,
        &commit,
        &target,
        private,
        &caller.subject,
        author,
        &meta.context(&caller),
        crate::now(),
    )
    .await
    .map_err(|e| match e {
        weir_registry::ServiceError::Store(StoreError::Exists(_)) => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::RepoExists,
            format!("{target} already exists"),
        ),
        other => other.into(),
    })?;
    Ok(Json(
        json!({"url": format!("{}/{target}", state.config.public_url), "filesCopyPending": false}),
    ))
}

#[derive(Deserialize)]
pub struct MoveRepo {
    #[serde(rename = "fromRepo")]
    from_repo: String,
    #[serde(rename = "toRepo")]
    to_repo: String,
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// `move_repo`: a rename, within or across namespaces (README, "Moving a repo"); the former name
/// redirects.
pub async fn move_repo(
    State(state): State<AppState>,
    caller: Caller,
    meta: crate::extract::RequestMeta,
    JsonBody(req): JsonBody<MoveRepo>,
) -> Result<Json<Value>, ApiError> {
    model_repos_only(req.kind.as_deref())?;
    let (ns, name) = req
        .from_repo
        .split_once('/')
        .ok_or_else(|| ApiError::repo_not_found(&req.from_repo, caller.anonymous()))?;
    let (repo, _) = crate::lookup::visible_repo(&state, &caller, ns, name).await?;
    let to = RepoId::parse(&req.to_repo).map_err(|e| {
        ApiError::bad_request(ErrorCode::InvalidRepoId, e.to_string())
            .next("name it NAMESPACE/NAME")
    })?;
    weir_registry::repos::move_repo(
        &state.store,
        &repo,
        &to,
        &caller.subject,
        &meta.context(&caller),
        crate::now(),
    )
    .await
    .map_err(|e| match e {
        weir_registry::ServiceError::Store(StoreError::Exists(_)) => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::RepoExists,
            format!("{to} is taken (a repo, a deleted repo or a moved repo's former name)"),
        )
        .next("pick another name"),
        other => other.into(),
    })?;
    Ok(Json(json!({})))
}

pub async fn create_repo(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(req): JsonBody<CreateRepo>,
) -> Result<Json<Value>, ApiError> {
    model_repos_only(req.kind.as_deref())?;
    let Some(user) = caller.name().cloned() else {
        return Err(
            ApiError::denied(weir_authz::Reason::NotSignedIn, &req.name, true).hub("RepoNotFound"),
        );
    };
    let (ns, name) = hub_repo_name(&req.name, req.organization.as_deref(), user.as_str());
    let id = RepoId::new(&ns, &name)
        .map_err(|e| ApiError::bad_request(ErrorCode::InvalidRepoId, e.to_string()))?;
    let namespace = id.namespace.clone();
    caller.require(
        &Action::CreateRepo {
            namespace: &namespace,
        },
        &id.to_string(),
    )?;
    if state.store.db.account(namespace.as_str()).await?.is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NamespaceNotFound,
            format!("namespace {namespace} does not exist"),
        )
        .next("create it with 'weir admin org add'"));
    }
    let private = req.private.unwrap_or(false) || req.visibility.as_deref() == Some("private");
    let url = format!("{}/{id}", state.config.public_url);
    match state
        .store
        .create_repo(&id, private, signature(&state, &user).await?)
        .await
    {
        Ok(_) => Ok(Json(
            json!({"url": url, "name": id.to_string(), "id": id.to_string()}),
        )),
        Err(StoreError::Exists(_)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::RepoExists,
            "You already created this model repo",
        )
        .with("url", json!(url))),
        Err(e) => Err(e.into()),
    }
}

async fn signature(state: &AppState, user: &Name) -> Result<CommitSignature, ApiError> {
    let email = state
        .store
        .db
        .account(user.as_str())
        .await?
        .and_then(|a| a.email)
        .unwrap_or_else(|| format!("{user}@users.noreply.weir"));
    Ok(CommitSignature {
        name: user.to_string(),
        email,
        time: time::OffsetDateTime::now_utc().unix_timestamp(),
    })
}

#[derive(Deserialize)]
pub struct PreuploadFile {
    path: String,
    size: u64,
}

#[derive(Deserialize)]
pub struct Preupload {
    files: Vec<PreuploadFile>,
}

pub async fn preupload(
    State(state): State<AppState>,
    _caller: Caller,
    Writable(repo): Writable,
    Path((_, _, rev)): Path<(String, String, String)>,
    JsonBody(req): JsonBody<Preupload>,
) -> Result<Json<Value>, ApiError> {
    // The current head, if the branch exists, tells the client which files are unchanged.
    let head = resolve_revision(&state, &repo, &rev).await.ok();
    let mut out = Vec::with_capacity(req.files.len());
    for f in req.files {
        let path = RepoPath::parse(&f.path)
            .map_err(|e| ApiError::bad_request(ErrorCode::InvalidPath, e.to_string()))?;
        let lfs = weir_core::is_lfs(&path, f.size);
        let mut entry = json!({"path": f.path, "uploadMode": if lfs { "lfs" } else { "regular" }, "shouldIgnore": false});
        if let Some(h) = &head
            && let Some(existing) = state.store.db.file(&repo, h, &path).await?
        {
            entry["oid"] = json!(if existing.lfs {
                existing.sha256.to_string()
            } else {
                existing.git_oid
            });
        }
        out.push(entry);
    }
    Ok(Json(
        json!({"files": out, "commitOid": head.map(|h| h.to_string())}),
    ))
}

/// One NDJSON line may carry a base64 regular file of up to `MAX_REGULAR_FILE` bytes.
const MAX_LINE: usize = (weir_core::MAX_REGULAR_FILE as usize / 3 + 1) * 4 + 64 * 1024;
const MAX_OPERATIONS: usize = 100_000;

#[derive(Deserialize)]
struct Line {
    key: String,
    value: Value,
}

#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    summary: String,
    #[serde(default)]
    description: String,
    #[serde(rename = "parentCommit")]
    parent_commit: Option<String>,
}

#[derive(Deserialize)]
struct FileLine {
    path: String,
    content: String,
    #[serde(default)]
    encoding: Option<String>,
}

#[derive(Deserialize)]
struct LfsLine {
    path: String,
    oid: String,
    size: Option<u64>,
    algo: Option<String>,
}

#[derive(Deserialize)]
struct PathLine {
    path: String,
}

fn invalid_line(n: usize, why: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(ErrorCode::InvalidCommit, format!("commit line {n}: {why}"))
        .next("send application/x-ndjson: a header line, then file, lfsFile, deletedFile or deletedFolder lines")
}

fn parse_path(n: usize, p: &str) -> Result<RepoPath, ApiError> {
    RepoPath::parse(p)
        .map_err(|e| ApiError::bad_request(ErrorCode::InvalidPath, format!("commit line {n}: {e}")))
}

/// `POST /api/models/{repo}/commit/{rev}`: streams the NDJSON body line by line; regular files
/// are stored as they arrive, so the body is never held whole. Nothing is visible until the
/// final commit transaction moves the branch.
pub async fn commit(
    State(state): State<AppState>,
    caller: Caller,
    Writable(repo): Writable,
    Path((_, _, rev)): Path<(String, String, String)>,
    Query(query): Query<Vec<(String, String)>>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    if query
        .iter()
        .any(|(k, v)| k == "create_pr" && v != "0" && v != "false")
    {
        return Err(ApiError::bad_request(
            ErrorCode::Unsupported,
            "pull requests are not supported",
        )
        .next("commit to a branch instead"));
    }
    let branch = RefName::parse(rev.strip_prefix("refs/heads/").unwrap_or(&rev))
        .map_err(|_| ApiError::revision_not_found(&repo.repo_id.to_string(), &rev))?;
    let user = caller.name().cloned().ok_or_else(ApiError::invalid_token)?;

    let mut header: Option<Header> = None;
    let mut ops = Vec::new();
    let mut touched = BTreeSet::new();
    let mut lines = crate::ndjson::LineBuffer::new(MAX_LINE);
    let mut stream = body.into_data_stream();
    let mut n = 0usize;
    let mut done = false;
    while !done {
        let line = match lines.next_line() {
            Some(line) => line,
            None => match stream.next().await {
                Some(Ok(chunk)) => {
                    lines.push(&chunk).map_err(|_| {
                        invalid_line(
                            n + 1,
                            "line too long (regular files are limited to 10 MiB; use LFS)",
                        )
                    })?;
                    continue;
                }
                Some(Err(e)) => {
                    return Err(ApiError::bad_request(
                        ErrorCode::UploadInterrupted,
                        format!("request body: {e}"),
                    ));
                }
                None => {
                    done = true;
                    lines.finish()
                }
            },
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        n += 1;
        if n > MAX_OPERATIONS {
            return Err(invalid_line(n, "too many operations in one commit"));
        }
        let line: Line = serde_json::from_slice(&line).map_err(|e| invalid_line(n, e))?;
        if header.is_none() {
            if line.key != "header" {
                return Err(invalid_line(n, "the first line must be the header"));
            }
            header = Some(serde_json::from_value(line.value).map_err(|e| invalid_line(n, e))?);
            continue;
        }
        let op = match line.key.as_str() {
            "file" => {
                let f: FileLine =
                    serde_json::from_value(line.value).map_err(|e| invalid_line(n, e))?;
                let path = parse_path(n, &f.path)?;
                if f.encoding.as_deref().is_some_and(|e| e != "base64") {
                    return Err(invalid_line(n, "only base64 encoding is supported"));
                }
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(f.content.as_bytes())
                    .map_err(|e| invalid_line(n, format!("content is not valid base64: {e}")))?;
                if bytes.len() as u64 > weir_core::MAX_REGULAR_FILE {
                    return Err(invalid_line(
                        n,
                        "regular files are limited to 10 MiB; upload it through LFS",
                    ));
                }
                let (sha256, size) = state.store.ingest_bytes_for(&repo, bytes.into()).await?;
                CommitOp::Add { path, sha256, size }
            }
            "lfsFile" => {
                let f: LfsLine =
                    serde_json::from_value(line.value).map_err(|e| invalid_line(n, e))?;
                let path = parse_path(n, &f.path)?;
                if f.algo.as_deref().is_some_and(|a| a != "sha256") {
                    return Err(invalid_line(n, "only sha256 LFS objects are supported"));
                }
                let sha256 = Sha256Hex::parse(&f.oid).map_err(|e| invalid_line(n, e))?;
                // Possession before reference: only bytes uploaded for this repo or already in
                // its commits; a blob stored for another repo answers exactly like a missing one.
                let stored = state.store.db.possessed(&repo, &sha256).await?;
                let size = match (f.size, stored) {
                    (Some(s), Some(st)) if s == st => s,
                    (None, Some(st)) => st,
                    (Some(s), Some(st)) => {
                        return Err(invalid_line(
                            n,
                            format!(
                                "{path}: size {s} does not match the uploaded object ({st} bytes)"
                            ),
                        ));
                    }
                    (size, None) => {
                        return Err(StoreError::NotUploaded {
                            path: path.to_string(),
                            sha256: sha256.to_string(),
                            size: size.unwrap_or(0),
                        }
                        .into());
                    }
                };
                CommitOp::Add { path, sha256, size }
            }
            "deletedFile" => {
                let f: PathLine =
                    serde_json::from_value(line.value).map_err(|e| invalid_line(n, e))?;
                CommitOp::Delete(parse_path(n, &f.path)?)
            }
            "deletedFolder" => {
                let f: PathLine =
                    serde_json::from_value(line.value).map_err(|e| invalid_line(n, e))?;
                CommitOp::DeleteFolder(parse_path(n, f.path.trim_end_matches('/'))?)
            }
            other => return Err(invalid_line(n, format!("unknown key {other:?}"))),
        };
        let p = match &op {
            CommitOp::Add { path, .. } | CommitOp::Delete(path) | CommitOp::DeleteFolder(path) => {
                path.clone()
            }
        };
        if !touched.insert(p.clone()) {
            return Err(invalid_line(n, format!("{p} appears twice in one commit")));
        }
        ops.push(op);
    }
    let header = header.ok_or_else(|| invalid_line(0, "empty body"))?;
    let expected_parent = header
        .parent_commit
        .as_deref()
        .map(CommitId::parse)
        .transpose()
        .map_err(|e| ApiError::bad_request(ErrorCode::InvalidCommit, e.to_string()))?;
    let summary = if header.summary.trim().is_empty() {
        "Upload files".to_string()
    } else {
        header.summary
    };
    let c = NewCommit {
        branch,
        expected_parent,
        create_branch: true,
        ops,
        author: signature(&state, &user).await?,
        summary,
        description: header.description,
    };
    let id = state.store.commit(&repo, &c).await?;
    tracing::info!(repo = %repo.repo_id, commit = %id, user = %user, "commit");
    if c.branch.as_str() == "main" {
        // The card may have changed (compute, base model): the policy decides again at once.
        weir_registry::classification::reclassify_logged(
            &state.store,
            &repo.repo_id,
            Some(user.as_str()),
            weir_registry::classification::Lowering::Never,
            crate::now(),
        )
        .await;
    }
    Ok(Json(json!({
        "commitOid": id.as_str(),
        "commitUrl": format!("{}/{}/commit/{}", state.config.public_url, repo.repo_id, id),
        "commitMessage": c.summary,
        "pullRequestUrl": null,
    })))
}

#[derive(Deserialize, Default)]
struct BranchReq {
    #[serde(rename = "startingPoint")]
    starting_point: Option<String>,
}

pub async fn create_branch(
    State(state): State<AppState>,
    _caller: Caller,
    Writable(repo): Writable,
    Path((_, _, branch)): Path<(String, String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let req: BranchReq = if body.is_empty() {
        BranchReq::default()
    } else {
        parse_json(&body)?
    };
    let branch = RefName::parse(&branch)
        .map_err(|e| ApiError::bad_request(ErrorCode::InvalidRef, e.to_string()))?;
    let from = req.starting_point.unwrap_or_else(|| "main".to_string());
    let commit = resolve_revision(&state, &repo, &from).await?;
    state
        .store
        .db
        .create_ref(&repo, RefKind::Branch, &branch, &commit)
        .await
        .map_err(ref_exists)?;
    Ok(Json(
        json!({"name": branch.as_str(), "targetCommit": commit.as_str()}),
    ))
}

#[derive(Deserialize)]
pub struct TagReq {
    tag: String,
}

pub async fn create_tag(
    State(state): State<AppState>,
    _caller: Caller,
    Writable(repo): Writable,
    Path((_, _, rev)): Path<(String, String, String)>,
    JsonBody(req): JsonBody<TagReq>,
) -> Result<Json<Value>, ApiError> {
    let tag = RefName::parse(&req.tag)
        .map_err(|e| ApiError::bad_request(ErrorCode::InvalidRef, e.to_string()))?;
    let commit = resolve_revision(&state, &repo, &rev).await?;
    state
        .store
        .db
        .create_ref(&repo, RefKind::Tag, &tag, &commit)
        .await
        .map_err(ref_exists)?;
    Ok(Json(
        json!({"name": tag.as_str(), "targetCommit": commit.as_str()}),
    ))
}

/// `DELETE /api/models/{ns}/{name}/branch/{branch}` and `…/tag/{tag}` (`delete_branch`,
/// `delete_tag`): the ref goes, its commits stay, and the deletion is an event on the log. The
/// default branch is never deleted, and a tag naming a released commit stays (a published
/// release's tag is not moved away).
async fn delete_ref(
    state: &AppState,
    caller: &Caller,
    meta: &crate::extract::RequestMeta,
    repo: &weir_store::Repo,
    kind: RefKind,
    name: &str,
) -> Result<(), ApiError> {
    let id = repo.repo_id.to_string();
    let refname = RefName::parse(name)
        .map_err(|e| ApiError::bad_request(ErrorCode::InvalidRef, e.to_string()))?;
    if kind == RefKind::Branch && refname.as_str() == "main" {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::DefaultBranch,
            format!("main is the default branch of {id} and is never deleted"),
        ));
    }
    let kind_name = match kind {
        RefKind::Branch => "branch",
        RefKind::Tag => "tag",
    };
    let deleted = state
        .store
        .db
        .delete_ref_logged(repo, kind, &refname, |commit| {
            crate::gate::event(
                caller,
                meta,
                "ref.deleted",
                Some(repo),
                "change",
                kind_name,
                json!({"ref": refname.as_str(), "kind": kind_name, "commit": commit.as_str()}),
            )
        })
        .await
        .map_err(|e| match e {
            StoreError::StateChanged { .. } => ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::TagReleased,
                format!("tag {name} of {id} names a released revision and stays"),
            )
            .next("create a new tag for a new revision"),
            other => other.into(),
        })?;
    match deleted {
        Some(_) => Ok(()),
        None => Err(ApiError::revision_not_found(&id, name)),
    }
}

#[derive(Deserialize)]
pub struct Squash {
    message: Option<String>,
}

/// `super_squash_history`: the branch's head becomes one root commit with the same files. The
/// old commits stay (releases and tags name them; they resolve by id), and the change is an
/// event (`branch.squashed`, naming the old and new heads).
pub async fn super_squash(
    State(state): State<AppState>,
    caller: Caller,
    meta: crate::extract::RequestMeta,
    Writable(repo): Writable,
    Path((_, _, branch)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<Squash>,
) -> Result<Json<Value>, ApiError> {
    let Some(user) = caller.name().cloned() else {
        return Err(ApiError::invalid_token());
    };
    let branch = RefName::parse(&branch)
        .map_err(|e| ApiError::bad_request(ErrorCode::InvalidRef, e.to_string()))?;
    let summary = body
        .message
        .unwrap_or_else(|| format!("Super-squash branch '{branch}'"));
    if summary.len() > 4096 {
        return Err(ApiError::bad_request(
            ErrorCode::SummaryTooLong,
            "the commit message is longer than 4096 bytes",
        ));
    }
    // A held head is not re-issued under a new id (holds name commits).
    if let Some(head) = state
        .store
        .db
        .resolve(&repo, &weir_core::Revision::Branch(branch.clone()))
        .await?
        && state
            .store
            .db
            .is_held_here_or_at_source(repo.id, head.as_str())
            .await?
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::IncidentHold,
            format!(
                "the head of {branch} is under an incident delivery hold; it is not squashed into a new commit"
            ),
        ));
    }
    let c = weir_store::NewCommit {
        branch: branch.clone(),
        expected_parent: None,
        create_branch: false,
        ops: Vec::new(),
        author: signature(&state, &user).await?,
        summary,
        description: String::new(),
    };
    let new = state
        .store
        .db
        .squash_branch_logged(&repo, &c, |old, new| {
            crate::gate::event(
                &caller,
                &meta,
                "branch.squashed",
                Some(&repo),
                "change",
                "squashed",
                json!({"public": {"repo": repo.repo_id.to_string(), "branch": branch.as_str(), "from": old.as_str(), "to": new.as_str()}}),
            )
        })
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => {
                ApiError::revision_not_found(&repo.repo_id.to_string(), branch.as_str())
            }
            other => other.into(),
        })?;
    Ok(Json(json!({"commit": new.as_str()})))
}

pub async fn delete_branch(
    State(state): State<AppState>,
    caller: Caller,
    meta: crate::extract::RequestMeta,
    Writable(repo): Writable,
    Path((_, _, branch)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    delete_ref(&state, &caller, &meta, &repo, RefKind::Branch, &branch).await?;
    Ok(Json(json!({})))
}

pub async fn delete_tag(
    State(state): State<AppState>,
    caller: Caller,
    meta: crate::extract::RequestMeta,
    Writable(repo): Writable,
    Path((_, _, tag)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    delete_ref(&state, &caller, &meta, &repo, RefKind::Tag, &tag).await?;
    Ok(Json(json!({})))
}

fn ref_exists(e: StoreError) -> ApiError {
    match e {
        StoreError::Exists(what) => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::RefExists,
            format!("{what} already exists"),
        )
        .next("pick another name"),
        other => other.into(),
    }
}
