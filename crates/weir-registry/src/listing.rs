//! The model listing (`list_models`, `GET /api/models`): every repo the subject may see, found by
//! search, author and filters, sorted, a page at a time. A hidden repo is absent, exactly like a
//! missing one. Card facts come from the head of `main`, read once per head and kept.

use serde_json::{Map, Value};
use weir_authz::{Action, Subject};
use weir_core::{CommitId, Tier};
use weir_store::listing::Listed;
use weir_store::{Repo, Store, StoreError};
use weir_wire::ErrorCode;

use crate::access::facts;
use crate::{Kind, ServiceError};

/// The most results one page holds; the default when the client names no limit.
pub const MAX_PAGE: usize = 1000;
/// How far back `downloads` counts (the Hub's 30 days).
pub const DOWNLOAD_WINDOW_SECS: i64 = 30 * 86_400;
/// Bounds on what a query may ask: search text, filters.
pub const MAX_SEARCH: usize = 256;
pub const MAX_FILTERS: usize = 32;

/// How results are ordered; always descending, as on the Hub, unless `ascending`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// The Hub's default for `list_models` without `sort` is by trending; weir has no trend
    /// signal, so recent downloads stand in for it.
    #[default]
    TrendingScore,
    LastModified,
    CreatedAt,
    Downloads,
    Likes,
    Id,
}

impl Sort {
    pub fn parse(s: &str) -> Option<Sort> {
        Some(match s {
            "trendingScore" | "trending_score" => Sort::TrendingScore,
            "lastModified" | "last_modified" => Sort::LastModified,
            "createdAt" | "created_at" => Sort::CreatedAt,
            "downloads" => Sort::Downloads,
            "likes" => Sort::Likes,
            "id" | "modelId" => Sort::Id,
            _ => return None,
        })
    }
}

/// What a listing asks for.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Substring of the repo id, case-insensitive.
    pub search: Option<String>,
    /// The namespace.
    pub author: Option<String>,
    /// Every filter must match: a card tag, `license:X`, the library or the pipeline tag, or
    /// `tier:TN`.
    pub filters: Vec<String>,
    /// `Some(true)`: gated repos only (T1 and above); `Some(false)`: T0 only.
    pub gated: Option<bool>,
    pub pipeline_tag: Option<String>,
    pub sort: Sort,
    pub ascending: bool,
    /// Page size (at most [`MAX_PAGE`]).
    pub limit: Option<usize>,
    /// Where the page starts (the cursor of the previous page's `next`).
    pub offset: usize,
}

/// One model in a listing.
#[derive(Debug, Clone)]
pub struct Model {
    pub repo: Repo,
    /// The head of `main` (`None` for a repo without one).
    pub sha: Option<CommitId>,
    pub last_modified: i64,
    /// The card's front matter at that head.
    pub card: Map<String, Value>,
    pub tags: Vec<String>,
    pub downloads: i64,
}

impl Model {
    fn field(&self, key: &str) -> Option<&str> {
        self.card.get(key).and_then(Value::as_str)
    }

    pub fn library_name(&self) -> Option<&str> {
        self.field("library_name")
    }

    pub fn pipeline_tag(&self) -> Option<&str> {
        self.field("pipeline_tag")
    }

    fn licenses(&self) -> Vec<&str> {
        match self.card.get("license") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        }
    }

    fn matches(&self, filter: &str) -> bool {
        let f = filter.to_ascii_lowercase();
        if let Some(l) = f.strip_prefix("license:") {
            return self.licenses().iter().any(|x| x.eq_ignore_ascii_case(l));
        }
        if let Some(t) = f.strip_prefix("tier:") {
            return self.repo.tier.as_str().eq_ignore_ascii_case(t);
        }
        self.tags.iter().any(|t| t.eq_ignore_ascii_case(&f))
            || self
                .library_name()
                .is_some_and(|l| l.eq_ignore_ascii_case(&f))
            || self
                .pipeline_tag()
                .is_some_and(|p| p.eq_ignore_ascii_case(&f))
    }
}

/// One page of a listing, and where the next one starts.
#[derive(Debug, Clone)]
pub struct Page {
    pub models: Vec<Model>,
    pub next: Option<usize>,
}

fn invalid(code: ErrorCode, message: impl Into<String>) -> ServiceError {
    ServiceError::refused(Kind::Invalid, code, message)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => vec![],
    }
}

/// The card front matter at the head, read from the blob once per head and kept.
async fn card_at(
    store: &Store,
    l: &Listed,
    head: &CommitId,
) -> Result<Map<String, Value>, StoreError> {
    if let Some((commit, card)) = &l.card
        && commit == head.as_str()
    {
        return serde_json::from_str(card)
            .map_err(|e| StoreError::Corrupt(format!("repo card of {}: {e}", l.repo.repo_id)));
    }
    let facts = crate::classification::card_facts(store, &l.repo, head).await?;
    let json = Value::Object(facts.data.clone()).to_string();
    store.db.put_repo_card(l.repo.id, head, &json).await?;
    Ok(facts.data)
}

/// The page of models `subject` may see that `q` asks for.
pub async fn models(
    store: &Store,
    subject: &Subject,
    q: &Query,
    now: i64,
) -> Result<Page, ServiceError> {
    if q.search.as_ref().is_some_and(|s| s.len() > MAX_SEARCH) {
        return Err(invalid(
            ErrorCode::InvalidQuery,
            format!("search is at most {MAX_SEARCH} bytes"),
        ));
    }
    if q.filters.len() > MAX_FILTERS {
        return Err(invalid(
            ErrorCode::InvalidQuery,
            format!("at most {MAX_FILTERS} filters"),
        ));
    }
    let limit = q.limit.unwrap_or(MAX_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(
            invalid(ErrorCode::InvalidQuery, format!("limit is 1 to {MAX_PAGE}"))
                .next("ask for fewer and follow the Link header's next page"),
        );
    }
    let search = q.search.as_deref().map(str::to_ascii_lowercase);
    let downloads = store
        .db
        .recent_recipients(now - DOWNLOAD_WINDOW_SECS)
        .await?;
    let mut out = Vec::new();
    for l in store.db.listing().await? {
        let repo = &l.repo;
        // Who may not see it never learns it exists.
        if !weir_authz::authorize(subject, &Action::ReadMetadata(&facts(repo))).allow {
            continue;
        }
        let id = repo.repo_id.to_string();
        if q.author
            .as_deref()
            .is_some_and(|a| !repo.repo_id.namespace.as_str().eq_ignore_ascii_case(a))
            || search
                .as_deref()
                .is_some_and(|s| !id.to_ascii_lowercase().contains(s))
            || q.gated.is_some_and(|g| g != (repo.tier > Tier::T0))
        {
            continue;
        }
        let (sha, last_modified, card) = match &l.head {
            Some((head, at)) => (Some(head.clone()), *at, card_at(store, &l, head).await?),
            None => (None, repo.updated_at, Map::new()),
        };
        let tags = strings(card.get("tags"));
        let m = Model {
            repo: repo.clone(),
            sha,
            last_modified,
            card,
            tags,
            downloads: downloads.get(&repo.id).copied().unwrap_or(0),
        };
        if !q.filters.iter().all(|f| m.matches(f))
            || q.pipeline_tag
                .as_deref()
                .is_some_and(|p| m.pipeline_tag() != Some(p))
        {
            continue;
        }
        out.push(m);
    }
    let key = |m: &Model| -> (i64, String) {
        let n = match q.sort {
            Sort::TrendingScore | Sort::Downloads => m.downloads,
            Sort::LastModified => m.last_modified,
            Sort::CreatedAt => m.repo.created_at,
            Sort::Likes | Sort::Id => 0,
        };
        (n, m.repo.repo_id.to_string())
    };
    out.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        let by = if q.sort == Sort::Id {
            kb.1.cmp(&ka.1)
        } else {
            // Ties fall back to the id, ascending, so pages are stable.
            kb.0.cmp(&ka.0).then(ka.1.cmp(&kb.1))
        };
        if q.ascending { by.reverse() } else { by }
    });
    let total = out.len();
    let models: Vec<Model> = out.into_iter().skip(q.offset).take(limit).collect();
    let end = q.offset.saturating_add(models.len());
    Ok(Page {
        models,
        next: (end < total).then_some(end),
    })
}
