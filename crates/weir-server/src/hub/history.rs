//! A repo's history for the Hub client: `GET /api/models/{ns}/{name}/commits/{rev}`
//! (`list_repo_commits`, a page at a time with `Link: <…>; rel="next"`) and
//! `POST /api/models/{ns}/{name}/paths-info/{rev}` (`get_paths_info`, with the last commit of
//! each path when `expand` is set). Metadata: whoever may see the repo may read them, as on the
//! Hub.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use serde_json::{Value, json};
use weir_core::RepoPath;
use weir_core::git::TreeBuilder;
use weir_registry::history;
use weir_store::CommitInfo;
use weir_wire::ErrorCode;

use crate::auth::Caller;
use crate::extract::{Path, Query};
use crate::lookup::{Visible, resolve_revision};
use crate::{ApiError, AppState, iso8601};

/// Paths one `paths-info` request may ask about.
pub const MAX_PATHS: usize = 1000;

fn truthy(v: &str) -> bool {
    matches!(v, "true" | "True" | "1")
}

/// The Hub's `lastCommit` of a tree entry.
pub(super) fn last_commit_json(c: &CommitInfo) -> Value {
    json!({"id": c.id.as_str(), "title": c.summary, "date": iso8601(c.created_at)})
}

/// `expand=True` on tree and paths-info entries: each one's last commit and, for files, its
/// security status (the unsafe-serialization scan).
pub(super) async fn expand_entries(
    state: &AppState,
    repo: &weir_store::Repo,
    commit: &weir_core::CommitId,
    entries: &mut [Value],
) -> Result<(), ApiError> {
    let wanted: Vec<String> = entries
        .iter()
        .filter_map(|e| e["path"].as_str().map(String::from))
        .collect();
    let last = history::last_commits(&state.store, repo, commit, &wanted).await?;
    let facts = state.store.db.facts_at(repo, commit).await?;
    for e in entries.iter_mut() {
        let Some(p) = e["path"].as_str().map(String::from) else {
            continue;
        };
        if let Some(c) = last.get(&p) {
            e["lastCommit"] = last_commit_json(c);
        }
        if e["type"] == "file" {
            e["securityFileStatus"] = security_json(&p, facts.get(&p));
        }
    }
    Ok(())
}

/// The Hub's `securityFileStatus` of a file: the pickle import scan where the file is
/// pickle-based; `unscanned` for one committed before the scan existed.
pub(super) fn security_json(path: &str, facts: Option<&weir_store::facts::BlobFacts>) -> Value {
    match facts.and_then(|f| f.pickle.as_ref()) {
        Some(r) => json!({
            "status": r.safety().status(),
            "avScan": null,
            "pickleImportScan": {
                "highestSafetyLevel": r.safety().as_str(),
                "imports": r.imports,
                "incomplete": r.incomplete,
            },
        }),
        None if facts.is_none() && weir_core::pickle::wants_scan(path, b"") => {
            json!({"status": "unscanned", "avScan": null, "pickleImportScan": null})
        }
        None => json!({"status": "safe", "avScan": null, "pickleImportScan": null}),
    }
}

pub(super) async fn list_commits(
    State(state): State<AppState>,
    _caller: Caller,
    Visible { repo, .. }: Visible,
    Path((_, _, rev)): Path<(String, String, String)>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<(HeaderMap, Json<Value>), ApiError> {
    let head = resolve_revision(&state, &repo, &rev).await?;
    let page = match query.iter().find(|(k, _)| k == "p") {
        None => 0,
        Some((_, v)) => v.parse::<usize>().map_err(|_| {
            ApiError::bad_request(
                ErrorCode::InvalidQuery,
                format!("page {v:?} is not a number"),
            )
        })?,
    };
    let formatted = query
        .iter()
        .any(|(k, v)| (k == "expand[]" || k == "expand") && v == "formatted");
    let (commits, more) = history::commits(&state.store, &repo, &head, page).await?;
    let items: Vec<Value> = commits
        .iter()
        .map(|c| {
            let mut v = json!({
                "id": c.id.as_str(),
                "title": c.summary,
                "message": c.description,
                "date": iso8601(c.created_at),
                "authors": [{"user": c.author}],
            });
            if formatted {
                v["formatted"] = json!({
                    "title": crate::views::html_escape(&c.summary),
                    "message": crate::views::html_escape(&c.description),
                });
            }
            v
        })
        .collect();
    let mut headers = HeaderMap::new();
    if more {
        let next = format!(
            "<{}/api/models/{}/commits/{}?p={}{}>; rel=\"next\"",
            state.config.public_url,
            repo.repo_id,
            percent_encoding::utf8_percent_encode(&rev, percent_encoding::NON_ALPHANUMERIC),
            page + 1,
            if formatted {
                "&expand%5B%5D=formatted"
            } else {
                ""
            }
        );
        if let Ok(v) = HeaderValue::from_str(&next) {
            headers.insert(header::LINK, v);
        }
    }
    Ok((headers, Json(Value::Array(items))))
}

pub(super) async fn paths_info(
    State(state): State<AppState>,
    _caller: Caller,
    Visible { repo, .. }: Visible,
    Path((_, _, rev)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let bad = |m: String| ApiError::bad_request(ErrorCode::InvalidBody, m);
    // The client sends a form (`paths=a&paths=b&expand=True`); JSON is accepted too.
    let (paths, expand) = if body.first() == Some(&b'{') {
        let v: Value =
            serde_json::from_slice(&body).map_err(|e| bad(format!("invalid JSON: {e}")))?;
        let paths = match &v["paths"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect(),
            _ => vec![],
        };
        (paths, v["expand"].as_bool().unwrap_or(false))
    } else {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
            .map_err(|e| bad(format!("invalid form body: {e}")))?;
        let paths = pairs
            .iter()
            .filter(|(k, _)| k == "paths" || k == "paths[]")
            .map(|(_, v)| v.clone())
            .collect();
        let expand = pairs.iter().any(|(k, v)| k == "expand" && truthy(v));
        (paths, expand)
    };
    if paths.len() > MAX_PATHS {
        return Err(bad(format!("at most {MAX_PATHS} paths per request")));
    }
    let commit = resolve_revision(&state, &repo, &rev).await?;
    let files = state.store.db.files(&repo, &commit).await?;
    let mut tree = TreeBuilder::new();
    for f in &files {
        tree.add(&f.path, &f.git_oid);
    }
    let (_, dir_oids) = tree.finish();
    let mut entries = Vec::new();
    for p in &paths {
        let p = p.trim_end_matches('/');
        // A path that is not a valid repo path names nothing, as a missing one does.
        let Ok(path) = RepoPath::parse(p) else {
            continue;
        };
        if let Some(f) = files.iter().find(|f| f.path == path) {
            entries.push(super::download::file_json(f));
        } else if let Some(oid) = dir_oids.get(path.as_str()) {
            entries.push(json!({"type": "directory", "path": path.as_str(), "oid": oid}));
        }
    }
    if expand {
        expand_entries(&state, &repo, &commit, &mut entries).await?;
    }
    Ok(Json(Value::Array(entries)))
}
