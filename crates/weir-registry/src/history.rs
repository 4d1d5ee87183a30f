//! A repo's history as the Hub client reads it: the commits behind a revision, a page at a time
//! (`list_repo_commits`), and the last commit that touched each path (`get_paths_info` and
//! `list_repo_tree` with `expand=True`).

use std::collections::{BTreeMap, HashMap};

use weir_core::CommitId;
use weir_store::{CommitInfo, Repo, Store, StoreError};

/// Commits per page of `list_repo_commits`.
pub const PAGE: usize = 50;
/// How far back one request walks: older history is not served in one go.
pub const MAX_WALK: usize = 10_000;
/// How many commits the last-commit search compares before it stops (a path untouched for
/// longer gets the oldest commit compared).
pub const MAX_LAST_COMMIT_WALK: usize = 1_000;

/// One page of the commits behind `head`, newest first, and whether more follow.
pub async fn commits(
    store: &Store,
    repo: &Repo,
    head: &CommitId,
    page: usize,
) -> Result<(Vec<CommitInfo>, bool), StoreError> {
    let skip = page.saturating_mul(PAGE);
    if skip >= MAX_WALK {
        return Ok((vec![], false));
    }
    let mut all = store
        .db
        .history(repo, head, skip.saturating_add(PAGE + 1))
        .await?;
    let more = all.len() > skip + PAGE;
    all.truncate(skip + PAGE);
    Ok((all.into_iter().skip(skip).collect(), more))
}

/// For each of `wanted` (file paths, or directories: a directory is touched when anything under
/// it is), the newest commit at or behind `head` that changed it.
pub async fn last_commits(
    store: &Store,
    repo: &Repo,
    head: &CommitId,
    wanted: &[String],
) -> Result<HashMap<String, CommitInfo>, StoreError> {
    let mut found = HashMap::new();
    if wanted.is_empty() {
        return Ok(found);
    }
    let chain = store.db.history(repo, head, MAX_LAST_COMMIT_WALK).await?;
    let snapshot = async |c: &CommitInfo| -> Result<BTreeMap<String, String>, StoreError> {
        Ok(store
            .db
            .files(repo, &c.id)
            .await?
            .into_iter()
            .map(|f| (f.path.to_string(), f.git_oid))
            .collect())
    };
    let Some(first) = chain.first() else {
        return Ok(found);
    };
    let mut current = snapshot(first).await?;
    for (i, c) in chain.iter().enumerate() {
        let parent = match chain.get(i + 1) {
            Some(p) => snapshot(p).await?,
            // The oldest commit compared: whatever it holds, it is the last known change.
            None => BTreeMap::new(),
        };
        let changed: Vec<&String> = current
            .iter()
            .filter(|(p, oid)| parent.get(*p) != Some(*oid))
            .map(|(p, _)| p)
            .chain(parent.keys().filter(|p| !current.contains_key(*p)))
            .collect();
        for w in wanted {
            if found.contains_key(w) {
                continue;
            }
            let dir = format!("{w}/");
            if changed.iter().any(|p| *p == w || p.starts_with(&dir)) {
                found.insert(w.clone(), c.clone());
            }
        }
        if found.len() == wanted.len() {
            break;
        }
        current = parent;
    }
    Ok(found)
}
