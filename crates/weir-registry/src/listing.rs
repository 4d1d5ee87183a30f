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
    /// Whether `search` also matches the card: its tags, the text of its front matter and the
    /// plain words of its body (the web UI's full-text search; the Hub's `search` is by id
    /// only).
    pub search_cards: bool,
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
    /// Models with at least / at most this many parameters (the card's `parameters`).
    pub min_parameters: Option<f64>,
    pub max_parameters: Option<f64>,
    /// A filter on data weir does not hold (apps that run a model, inference providers): no
    /// model is known to match, so the answer is empty rather than everything.
    pub unknowable: bool,
    /// Page size (at most [`MAX_PAGE`]).
    pub limit: Option<usize>,
    /// Where the page starts: after this position (the previous page's `next`).
    pub after: Option<Cursor>,
}

/// A position in a listing: the sort key and the id of the last model of a page. The next page
/// starts after it, so models added, removed or re-ranked meanwhile never shift a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub key: i64,
    pub id: String,
}

impl Cursor {
    /// `KEY:ID`, as it travels in the `cursor` parameter.
    pub fn parse(s: &str) -> Option<Cursor> {
        let (key, id) = s.split_once(':')?;
        Some(Cursor {
            key: key.parse().ok()?,
            id: id.to_string(),
        })
    }

    pub fn encode(&self) -> String {
        format!("{}:{}", self.key, self.id)
    }
}

/// Parses a parameter count such as `6B`, `350M`, `1.5e9` or `7000000`.
pub fn parse_count(s: &str) -> Option<f64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'K' | 'k' => (&s[..s.len() - 1], 1e3),
        'M' | 'm' => (&s[..s.len() - 1], 1e6),
        'B' | 'b' => (&s[..s.len() - 1], 1e9),
        'T' | 't' => (&s[..s.len() - 1], 1e12),
        _ => (s, 1.0),
    };
    let n: f64 = num.trim().parse().ok()?;
    (n.is_finite() && n >= 0.0).then_some(n * mult)
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
    pub likes: i64,
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

    pub fn licenses(&self) -> Vec<&str> {
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
        if let Some(d) = f.strip_prefix("dataset:") {
            return strings(self.card.get("datasets"))
                .iter()
                .any(|x| x.eq_ignore_ascii_case(d));
        }
        if let Some(b) = f.strip_prefix("base_model:") {
            return strings(self.card.get("base_model"))
                .iter()
                .any(|x| x.eq_ignore_ascii_case(b));
        }
        self.tags.iter().any(|t| t.eq_ignore_ascii_case(&f))
            || strings(self.card.get("language"))
                .iter()
                .any(|l| l.eq_ignore_ascii_case(&f))
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
    pub next: Option<Cursor>,
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
/// The most of a README read for its words (the catalogue's full-text search).
pub const MAX_BODY_READ: u64 = 256 * 1024;
/// The most words one full-text search asks for (each an index lookup).
pub const MAX_SEARCH_TERMS: usize = 8;

/// The card's facts at `head`, from the cache when it was read at `head`; else read again and
/// kept, with its body's plain words, which are returned too (a fresh read: the database's
/// copy is not the head's yet).
async fn card_at(
    store: &Store,
    l: &Listed,
    head: &CommitId,
) -> Result<(Map<String, Value>, Option<Vec<String>>), StoreError> {
    if let Some((commit, card)) = &l.card
        && commit == head.as_str()
        && let Ok(data) = serde_json::from_str(card)
    {
        return Ok((data, None));
    }
    let facts = crate::classification::card_facts(store, &l.repo, head).await?;
    let terms = card_terms(store, &l.repo, head).await?;
    let json = Value::Object(facts.data.clone()).to_string();
    // The cache is an optimization: a failed write costs a re-read next time, never the list.
    if let Err(e) = store.db.put_repo_card(l.repo.id, head, &json, &terms).await {
        tracing::warn!(repo = %l.repo.repo_id, error = %e, "could not keep the card facts");
    }
    Ok((facts.data, Some(terms)))
}

/// The plain words of the README at `head` (its first [`MAX_BODY_READ`] bytes), bounded.
async fn card_terms(
    store: &Store,
    repo: &Repo,
    head: &CommitId,
) -> Result<Vec<String>, StoreError> {
    let Ok(path) = weir_core::RepoPath::parse("README.md") else {
        return Ok(vec![]);
    };
    let Some(f) = store.db.file(repo, head, &path).await? else {
        return Ok(vec![]);
    };
    let bytes = store
        .blobs
        .read_prefix(&f.sha256, MAX_BODY_READ)
        .await
        .map_err(|e| StoreError::Corrupt(format!("README.md blob: {e}")))?;
    Ok(weir_core::card::terms(&String::from_utf8_lossy(&bytes)))
}

/// The position of `m` in a listing sorted by `sort` (a page that ends at `m` continues after it).
pub fn cursor_of(m: &Model, sort: Sort) -> Cursor {
    let key = match sort {
        Sort::TrendingScore | Sort::Downloads => m.downloads,
        Sort::LastModified => m.last_modified,
        Sort::CreatedAt => m.repo.created_at,
        Sort::Likes => m.likes,
        Sort::Id => 0,
    };
    Cursor {
        key,
        id: m.repo.repo_id.to_string(),
    }
}

/// The string values of a card's front matter, lowercased, for searching.
fn card_text(card: &Map<String, Value>) -> String {
    fn walk(v: &Value, out: &mut String) {
        match v {
            Value::String(s) => {
                out.push_str(&s.to_ascii_lowercase());
                out.push('\n');
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = String::new();
    card.values().for_each(|v| walk(v, &mut out));
    out
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
    // The Hub client sends the total it wants as `limit` and stops reading once it has them; a
    // page holds at most MAX_PAGE, and the Link header carries on from there.
    let limit = q.limit.unwrap_or(MAX_PAGE).min(MAX_PAGE);
    if limit == 0 {
        return Err(invalid(ErrorCode::InvalidQuery, "limit must be at least 1"));
    }
    let search = q.search.as_deref().map(str::to_ascii_lowercase);
    let downloads = store
        .db
        .recent_recipients(now - DOWNLOAD_WINDOW_SECS)
        .await?;
    let likes = store.db.like_counts().await?;
    // The cards that hold every word of the search, found through the database's index on
    // the word (no text is scanned); a card read afresh below (it changed) is matched as it is
    // read.
    let words = search
        .as_deref()
        .filter(|_| q.search_cards)
        .map(weir_core::card::terms)
        .unwrap_or_default();
    if words.len() > MAX_SEARCH_TERMS {
        return Err(invalid(
            ErrorCode::InvalidQuery,
            format!("a search has at most {MAX_SEARCH_TERMS} words"),
        ));
    }
    let in_bodies = store.db.cards_with_terms(&words).await?;
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
            || (!q.search_cards
                && search
                    .as_deref()
                    .is_some_and(|s| !id.to_ascii_lowercase().contains(s)))
            || q.gated.is_some_and(|g| g != (repo.tier > Tier::T0))
        {
            continue;
        }
        let mut body_hit = false;
        let (sha, last_modified, card) = match &l.head {
            // One repo whose card cannot be read is listed without it; it never fails the list.
            Some((head, at)) => match card_at(store, &l, head).await {
                Ok((card, fresh)) => {
                    body_hit = !words.is_empty()
                        && match fresh {
                            Some(terms) => words.iter().all(|w| terms.binary_search(w).is_ok()),
                            None => {
                                in_bodies.get(&repo.id).map(String::as_str) == Some(head.as_str())
                            }
                        };
                    // A card's body is searched where it may be read (weir_authz's ReadCard:
                    // T0–T2, not held): a T3 or T4 card's words are no oracle. The tier is
                    // asked first, so a hold is looked up only for a card that could be read.
                    if body_hit && repo.tier >= Tier::T3 {
                        body_hit = false;
                    }
                    if body_hit {
                        let mut f = facts(repo);
                        f.held = store
                            .db
                            .is_held_here_or_at_source(repo.id, head.as_str())
                            .await?;
                        body_hit = weir_authz::authorize(subject, &Action::ReadCard(&f)).allow;
                    }
                    (Some(head.clone()), *at, card)
                }
                Err(e) => {
                    tracing::warn!(repo = %id, error = %e, "card facts unreadable; listed without");
                    (Some(head.clone()), *at, Map::new())
                }
            },
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
            likes: likes.get(&repo.id).copied().unwrap_or(0),
        };
        let params = m.card.get("parameters").and_then(|v| match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => parse_count(s),
            _ => None,
        });
        let out_of_range = q
            .min_parameters
            .is_some_and(|min| params.is_none_or(|p| p < min))
            || q.max_parameters
                .is_some_and(|max| params.is_none_or(|p| p > max));
        let text_miss = q.search_cards
            && search.as_deref().is_some_and(|s| {
                !id.to_ascii_lowercase().contains(s)
                    && !m.tags.iter().any(|t| t.to_ascii_lowercase().contains(s))
                    && !card_text(&m.card).contains(s)
                    && !body_hit
            });
        if out_of_range
            || text_miss
            || !q.filters.iter().all(|f| m.matches(f))
            || q.pipeline_tag
                .as_deref()
                .is_some_and(|p| m.pipeline_tag() != Some(p))
        {
            continue;
        }
        out.push(m);
    }
    let sort = q.sort;
    let key = |m: &Model| cursor_of(m, sort);
    // Descending by key (by id for `id`), ties by id ascending; `direction=1` reverses it all.
    let order = |a: &Cursor, b: &Cursor| {
        let by = if sort == Sort::Id {
            b.id.cmp(&a.id)
        } else {
            b.key.cmp(&a.key).then(a.id.cmp(&b.id))
        };
        if q.ascending { by.reverse() } else { by }
    };
    if q.unknowable {
        out.clear();
    }
    out.sort_by(|a, b| order(&key(a), &key(b)));
    if let Some(after) = &q.after {
        out.retain(|m| order(&key(m), after) == std::cmp::Ordering::Greater);
    }
    let more = out.len() > limit;
    out.truncate(limit);
    let next = if more { out.last().map(key) } else { None };
    Ok(Page { models: out, next })
}
