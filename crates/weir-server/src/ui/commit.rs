//! A commit's page at `/{ns}/{name}/commit/{sha}` (the URL the Hub client prints for a
//! commit): its summary, author, parent, and the files it added, removed and changed. Diffs of
//! text files are shown for open (T0) models, whose files anyone may download; a gated model's
//! commit lists the files by name and size only, so no file's content leaves past the gate.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use weir_core::Tier;
use weir_store::Repo;

use super::Chrome;
use super::session::Viewer;
use crate::extract::Path;
use crate::lookup::{resolve_revision, visible_or_moved};
use crate::{ApiError, AppState};

/// The largest file diffed, the most diff text one page shows, the most file bytes one page
/// reads, how long one file's diff may take, and the most changes listed.
pub const MAX_DIFFED_FILE: u64 = 256 * 1024;
pub const MAX_DIFF_TEXT: usize = 60 * 1024;
pub const MAX_READ: u64 = 4 * 1024 * 1024;
pub const DIFF_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(200);
pub const MAX_CHANGES: usize = 500;

pub(super) struct Change {
    path: String,
    what: &'static str,
    size: String,
    diff: Option<String>,
    note: &'static str,
}

#[derive(Template)]
#[template(path = "commit.html")]
struct Page<'a> {
    chrome: &'a Chrome,
    id: String,
    sha: String,
    parent: Option<String>,
    summary: String,
    description: String,
    author: String,
    date: String,
    changes: Vec<Change>,
    more: usize,
    diffs_shown: bool,
}

pub(super) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    uri: axum::http::Uri,
    Path((ns, name, sha)): Path<(String, String, String)>,
) -> Response {
    if weir_core::Name::parse(&ns).is_ok_and(|n| n.is_reserved_namespace()) {
        return crate::not_found(uri).await.into_response();
    }
    match build(&state, &viewer, &uri, &ns, &name, &sha).await {
        Ok(p) => super::render(&p, Some(&viewer.headers)),
        Err(e) if e.status == axum::http::StatusCode::TEMPORARY_REDIRECT => e.into_response(),
        Err(e) => viewer.error(e),
    }
}

async fn text_of(state: &AppState, f: &weir_core::git::FileEntry) -> Option<String> {
    if f.lfs || f.size > MAX_DIFFED_FILE {
        return None;
    }
    let bytes = state
        .store
        .blobs
        .read_prefix(&f.sha256, MAX_DIFFED_FILE)
        .await
        .ok()?;
    String::from_utf8(bytes).ok()
}

async fn build<'a>(
    state: &AppState,
    viewer: &'a Viewer,
    uri: &axum::http::Uri,
    ns: &str,
    name: &str,
    sha: &str,
) -> Result<Page<'a>, ApiError> {
    let (repo, _): (Repo, _) = visible_or_moved(state, &viewer.caller, uri, ns, name).await?;
    let id = repo.repo_id.to_string();
    let commit = resolve_revision(state, &repo, sha).await?;
    let info = state
        .store
        .db
        .commit_info(&repo, &commit)
        .await?
        .ok_or_else(|| ApiError::revision_not_found(&id, sha))?;
    let now: BTreeMap<String, weir_core::git::FileEntry> = state
        .store
        .db
        .files(&repo, &commit)
        .await?
        .into_iter()
        .map(|f| (f.path.to_string(), f))
        .collect();
    let before: BTreeMap<String, weir_core::git::FileEntry> = match &info.parent {
        Some(p) => state
            .store
            .db
            .files(&repo, p)
            .await?
            .into_iter()
            .map(|f| (f.path.to_string(), f))
            .collect(),
        None => BTreeMap::new(),
    };
    // Contents only where anyone may download them, and this viewer may now: both sides of the
    // diff (a parent under an incident hold shows nothing of its files).
    let mut diffs_shown = repo.tier == Tier::T0
        && crate::gate::check_at(state, &viewer.caller, &repo, &commit)
            .await?
            .decision
            .allow;
    if diffs_shown && let Some(p) = &info.parent {
        diffs_shown = crate::gate::check_at(state, &viewer.caller, &repo, p)
            .await?
            .decision
            .allow;
    }
    let mut read_budget = MAX_READ;
    let mut budget = MAX_DIFF_TEXT;
    let mut changes = vec![];
    let paths: std::collections::BTreeSet<&String> = now.keys().chain(before.keys()).collect();
    let mut more = 0;
    for path in paths {
        let (old, new) = (before.get(path), now.get(path));
        if changes.len() == MAX_CHANGES {
            more += usize::from(old.map(|f| &f.git_oid) != new.map(|f| &f.git_oid));
            continue;
        }
        let what = match (old, new) {
            (None, Some(_)) => "added",
            (Some(_), None) => "removed",
            (Some(a), Some(b)) if a.git_oid != b.git_oid => "changed",
            _ => continue,
        };
        let size = new.or(old).map(|f| super::size(f.size)).unwrap_or_default();
        let (mut diff, mut note) = (None, "");
        let sizes = old.map(|f| f.size).unwrap_or(0) + new.map(|f| f.size).unwrap_or(0);
        if diffs_shown && budget > 0 && sizes <= read_budget {
            read_budget -= sizes;
            let a = match old {
                Some(f) => text_of(state, f).await,
                None => Some(String::new()),
            };
            let b = match new {
                Some(f) => text_of(state, f).await,
                None => Some(String::new()),
            };
            match (a, b) {
                (Some(a), Some(b)) => {
                    // Bounded work on a blocking thread: a diff that would take long gives up
                    // (and shows a coarser, still correct, diff).
                    let header = (format!("a/{path}"), format!("b/{path}"));
                    let d = tokio::task::spawn_blocking(move || {
                        similar::TextDiff::configure()
                            .timeout(DIFF_TIMEOUT)
                            .diff_lines(&a, &b)
                            .unified_diff()
                            .context_radius(3)
                            .header(&header.0, &header.1)
                            .to_string()
                    })
                    .await
                    .unwrap_or_default();
                    if d.len() <= budget {
                        budget -= d.len();
                        diff = Some(d);
                    } else {
                        budget = 0;
                        note = "the diff is longer than the page shows";
                    }
                }
                _ => note = "not a small text file",
            }
        } else if diffs_shown {
            note = "the diffs are longer than the page shows";
        }
        changes.push(Change {
            path: path.clone(),
            what,
            size,
            diff,
            note,
        });
    }
    Ok(Page {
        chrome: &viewer.chrome,
        sha: commit.to_string(),
        parent: info.parent.map(|p| p.to_string()),
        summary: info.summary,
        description: info.description,
        author: info.author,
        date: crate::iso8601(info.created_at),
        changes,
        more,
        diffs_shown,
        id,
    })
}
