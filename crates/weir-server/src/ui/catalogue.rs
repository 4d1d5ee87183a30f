//! The catalogue: search over names, cards and tags, filters (tier, licence, library, tag,
//! publisher, standing), the Hub's sorts, a page at a time. The URL is the state.

use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use weir_registry::listing::{self, Cursor, Sort};

use super::Chrome;
use super::session::Viewer;
use crate::extract::Query;
use crate::{AppState, now};

/// Models per page.
pub const PAGE: usize = 20;
/// Models one page with a standing filter reads at most.
pub const SCAN: usize = 500;

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub(super) struct Params {
    q: String,
    tier: String,
    license: String,
    library: String,
    tag: String,
    author: String,
    standing: String,
    sort: String,
    after: String,
}

pub(super) struct Row {
    id: String,
    tier: &'static str,
    tier_name: &'static str,
    license: String,
    library: String,
    tags: Vec<String>,
    downloads: i64,
    likes: i64,
    updated: String,
    standing: String,
}

#[derive(Template)]
#[template(path = "catalogue.html")]
struct Page<'a> {
    chrome: &'a Chrome,
    p: &'a Params,
    rows: Vec<Row>,
    next: Option<String>,
    first: bool,
    first_link: String,
    sorts: &'static [(&'static str, &'static str)],
    tiers: &'static [(&'static str, &'static str)],
}

const SORTS: &[(&str, &str)] = &[
    ("trendingScore", "Trending"),
    ("downloads", "Most downloads"),
    ("likes", "Most likes"),
    ("lastModified", "Recently updated"),
    ("createdAt", "Newest"),
    ("id", "Name"),
];

const TIERS: &[(&str, &str)] = &[
    ("T0", "T0 open"),
    ("T1", "T1 acknowledged"),
    ("T2", "T2 vetted"),
    ("T3", "T3 restricted"),
    ("T4", "T4 sealed"),
];

/// `?name=value` pairs of the current query with `after` replaced (for the next page link).
fn link(p: &Params, after: Option<&str>) -> String {
    let mut pairs: Vec<(&str, &str)> = vec![];
    for (k, v) in [
        ("q", &p.q),
        ("tier", &p.tier),
        ("license", &p.license),
        ("library", &p.library),
        ("tag", &p.tag),
        ("author", &p.author),
        ("standing", &p.standing),
        ("sort", &p.sort),
    ] {
        if !v.is_empty() {
            pairs.push((k, v));
        }
    }
    if let Some(a) = after {
        pairs.push(("after", a));
    }
    format!(
        "/?{}",
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    )
}

pub(super) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    q: Result<Query<Params>, crate::ApiError>,
) -> Response {
    let p = match q {
        Ok(Query(p)) => p,
        Err(e) => return viewer.error(e),
    };
    let mut filters = vec![];
    if !p.tier.is_empty() {
        filters.push(format!("tier:{}", p.tier));
    }
    if !p.license.is_empty() {
        filters.push(format!("license:{}", p.license));
    }
    for f in [&p.library, &p.tag] {
        if !f.is_empty() {
            filters.push(f.clone());
        }
    }
    let sort = Sort::parse(&p.sort).unwrap_or_default();
    let wanted_standing = p.standing.trim().to_ascii_lowercase();
    if !wanted_standing.is_empty()
        && weir_core::standing::Standing::parse(&wanted_standing).is_none()
    {
        return viewer.error(
            crate::ApiError::bad_request(
                weir_wire::ErrorCode::InvalidQuery,
                format!("unknown standing {:?}", p.standing),
            )
            .next("use good, probation or suspended"),
        );
    }
    let mut rows = vec![];
    let mut next = None;
    let mut standings: HashMap<String, String> = HashMap::new();
    // One listing read: a page, or (with a standing filter, which is not a card fact) up to
    // SCAN models, of which the first PAGE that match are shown; the next page continues after
    // the last one shown, or after the last one read.
    let query = listing::Query {
        search: (!p.q.trim().is_empty()).then(|| p.q.trim().to_string()),
        search_cards: true,
        author: (!p.author.is_empty()).then(|| p.author.clone()),
        filters,
        sort,
        limit: Some(if wanted_standing.is_empty() {
            PAGE + 1
        } else {
            SCAN
        }),
        after: Cursor::parse(&p.after),
        ..Default::default()
    };
    let page = match listing::models(&state.store, &viewer.caller.subject, &query, now()).await {
        Ok(page) => page,
        Err(e) => return viewer.error(e),
    };
    let mut more = page.next.clone();
    for m in &page.models {
        let ns = m.repo.repo_id.namespace.to_string();
        if !standings.contains_key(&ns) {
            let st = match state.store.db.standing(&ns).await {
                Ok(s) => s.map(|s| s.standing).unwrap_or_else(|| "good".into()),
                Err(e) => return viewer.error(e),
            };
            standings.insert(ns.clone(), st);
        }
        let standing = standings.get(&ns).cloned().unwrap_or_default();
        if !wanted_standing.is_empty() && standing != wanted_standing {
            continue;
        }
        if rows.len() == PAGE {
            // One more matches: the page is full and another follows.
            more = rows.last().map(|(c, _): &(Cursor, Row)| c.clone());
            break;
        }
        rows.push((
            listing::cursor_of(m, sort),
            Row {
                id: m.repo.repo_id.to_string(),
                tier: m.repo.tier.as_str(),
                tier_name: m.repo.tier.name(),
                license: m.licenses().join(", "),
                library: m.library_name().unwrap_or("").to_string(),
                tags: m.tags.iter().take(8).cloned().collect(),
                downloads: m.downloads,
                likes: m.likes,
                updated: super::day(m.last_modified),
                standing,
            },
        ));
    }
    if let Some(c) = more {
        next = Some(c.encode());
    }
    let rows: Vec<Row> = rows.into_iter().map(|(_, r)| r).collect();
    let body = Page {
        chrome: &viewer.chrome,
        p: &p,
        next: next.map(|n| link(&p, Some(&n))),
        first: p.after.is_empty(),
        first_link: link(&p, None),
        rows,
        sorts: SORTS,
        tiers: TIERS,
    };
    super::render(&body, Some(&viewer.headers))
}
