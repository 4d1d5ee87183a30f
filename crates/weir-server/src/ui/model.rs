//! The model page at `/{ns}/{name}` (the URL the Hub client prints): the rendered card, the tier
//! and the rule that set it, the access panel (what this viewer needs and the way forward, the
//! request form with the repo's required fields), files with sizes and scan results, branches and
//! tags, commits, releases with the commands that verify them, downloads and the snippets.
//!
//! A repo the viewer may not see answers exactly like a missing one; a reserved first segment
//! (`/api/…`, `/log/…`) answers the API's JSON 404, as before the UI existed.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use weir_authz::Action;
use weir_core::{RepoPath, Tier};
use weir_registry::access::{Filed, Filing};
use weir_store::{AccessRequest, Repo};

use super::Chrome;
use super::markdown;
use super::session::{SessionForm, Viewer};
use crate::extract::{Path, RequestMeta};
use crate::lookup::{resolve_revision, visible_or_moved};
use crate::{ApiError, AppState, now};

/// Commits listed on the page (the rest through the API and `hf` CLI).
pub const COMMITS_SHOWN: usize = 20;
/// Files listed on the page.
pub const FILES_SHOWN: usize = 500;
/// Evaluation results listed on the page: signed ones first, then the newest.
pub const EVALS_SHOWN: i64 = 100;

pub(super) struct FileRow {
    path: String,
    size: String,
    lfs: bool,
    scan: String,
    scan_class: &'static str,
}

pub(super) struct CommitRow {
    id: String,
    short: String,
    summary: String,
    author: String,
    date: String,
}

pub(super) struct RuleRow {
    rule: String,
    fired: bool,
    tier: String,
    detail: String,
}

/// One evaluation result of the repo, whichever revision it is about, and whether it counts.
pub(super) struct EvalRow {
    id: String,
    suite: String,
    domain: &'static str,
    score: String,
    revision: String,
    revision_short: String,
    signed: String,
    /// Empty when it counts; else why not.
    why_not: &'static str,
}

pub(super) struct DomainRow {
    domain: &'static str,
    outcome: &'static str,
    evidence: Vec<String>,
}

pub(super) struct Panel {
    allow: bool,
    reason: String,
    message: String,
    next: Option<String>,
    /// The form to show: `terms`, `request`, `sign_in` or nothing.
    form: &'static str,
    terms: String,
    required_fields: Vec<String>,
    request: Option<RequestView>,
}

pub(super) struct RequestView {
    state: String,
    requested: String,
    due: String,
    overdue: bool,
    reason: Option<String>,
    expires: Option<String>,
}

#[derive(Template)]
#[template(path = "model.html")]
struct Page<'a> {
    chrome: &'a Chrome,
    id: String,
    tier: &'static str,
    tier_name: &'static str,
    tier_why: String,
    private: bool,
    card: String,
    card_cut: bool,
    card_withheld: Option<&'static str>,
    head: Option<String>,
    files: Vec<FileRow>,
    files_more: usize,
    branches: Vec<String>,
    tags: Vec<String>,
    commits: Vec<CommitRow>,
    rules: Vec<RuleRow>,
    counted_results: usize,
    evaluations: Vec<EvalRow>,
    evaluations_more: i64,
    domains: Vec<DomainRow>,
    releases: Vec<(String, String)>,
    incidents: Vec<weir_wire::incidents::Incident>,
    downloads: i64,
    panel: Panel,
    public_url: &'a str,
    name: String,
    namespace: String,
    sign_in_next: String,
}

/// The first path segment of the UI's own pages and the API: never a model page.
fn reserved(ns: &str) -> bool {
    weir_core::Name::parse(ns).is_ok_and(|n| n.is_reserved_namespace())
}

pub(super) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    uri: axum::http::Uri,
    Path((ns, name)): Path<(String, String)>,
) -> Response {
    if reserved(&ns) {
        return crate::not_found(uri).await.into_response();
    }
    match build(&state, &viewer, &uri, &ns, &name).await {
        Ok(page) => super::render(&page, Some(&viewer.headers)),
        Err(e) if e.status == StatusCode::TEMPORARY_REDIRECT => e.into_response(),
        Err(e) => viewer.error(e),
    }
}

fn request_view(r: &AccessRequest, at: i64) -> RequestView {
    RequestView {
        state: r.state.as_str().to_string(),
        requested: super::day(r.requested_at),
        due: super::day(r.due_at),
        overdue: r.state == weir_core::RequestState::Pending && r.due_at < at,
        reason: r.reason.clone(),
        expires: r.expires_at.map(super::day),
    }
}

async fn build<'a>(
    state: &'a AppState,
    viewer: &'a Viewer,
    uri: &axum::http::Uri,
    ns: &str,
    name: &str,
) -> Result<Page<'a>, ApiError> {
    let caller = &viewer.caller;
    let (repo, _) = visible_or_moved(state, caller, uri, ns, name).await?;
    let id = repo.repo_id.to_string();
    let at = now();
    let head = resolve_revision(state, &repo, "main").await.ok();
    let mut files = vec![];
    let mut files_more = 0;
    let mut card = String::new();
    let mut card_cut = false;
    let mut card_withheld: Option<&'static str> = None;
    let mut commits = vec![];
    let mut rules = vec![];
    let mut counted_results = 0;
    let mut ignored: std::collections::HashMap<String, &'static str> = Default::default();
    let mut domains = vec![];
    let mut tier_why = String::new();
    if let Some(head) = &head {
        let all = state.store.db.files(&repo, head).await?;
        let facts = state.store.db.facts_at(&repo, head).await?;
        files_more = all.len().saturating_sub(FILES_SHOWN);
        for f in all.iter().take(FILES_SHOWN) {
            let p = f.path.to_string();
            let (scan, scan_class) = scan_of(&p, facts.get(&p));
            files.push(FileRow {
                size: super::size(f.size),
                lfs: f.lfs,
                scan,
                scan_class,
                path: p,
            });
        }
        // The card's text is public up to T2 (as on the Hub); a restricted or sealed model's,
        // or a held revision's, stays behind its tier (weir_authz's ReadCard).
        let mut f = crate::gate::facts(&repo);
        f.held = state
            .store
            .db
            .is_held_here_or_at_source(repo.id, head.as_str())
            .await?;
        let card_decision = caller.authorize(&Action::ReadCard(&f));
        if card_decision.allow {
            (card, card_cut) = read_card(state, &repo, head).await?;
        } else {
            card_withheld = Some(card_decision.reason.code());
        }
        let (page, _) = weir_registry::history::commits(&state.store, &repo, head, 0).await?;
        commits = page
            .iter()
            .take(COMMITS_SHOWN)
            .map(|c| CommitRow {
                id: c.id.to_string(),
                short: c.id.as_str().chars().take(8).collect(),
                summary: c.summary.clone(),
                author: c.author.clone(),
                date: super::day(c.created_at),
            })
            .collect();
        let (c, _, _) =
            weir_registry::classification::classify_at(&state.store, &repo, head).await?;
        tier_why = c.explain();
        counted_results = c.counted_results;
        rules = c
            .rules
            .iter()
            .map(|r| RuleRow {
                rule: r.rule.to_string(),
                fired: r.fired,
                tier: r.tier.map(|t| t.as_str().to_string()).unwrap_or_default(),
                detail: r.detail.clone(),
            })
            .collect();
        ignored = c
            .ignored_results
            .iter()
            .map(|i| (i.id.clone(), i.why))
            .collect();
        domains = c
            .domains
            .iter()
            .map(|d| DomainRow {
                domain: d.domain.as_str(),
                outcome: d.outcome.as_str(),
                evidence: d.evidence.clone(),
            })
            .collect();
    }
    if repo.chosen_tier == repo.tier && repo.tier > Tier::T0 {
        tier_why = if tier_why.is_empty() {
            "chosen by the publisher".into()
        } else {
            format!("chosen by the publisher; the policy's minimum: {tier_why}")
        };
    }
    // Every result of the repo (visible with the repo, as in the API), each with why it counts
    // or not; results the classification did not weigh (no revision yet) say so.
    let mut evaluations = vec![];
    let (results, evaluations_total) = state
        .store
        .db
        .eval_results_shown(&repo, EVALS_SHOWN)
        .await?;
    for r in &results {
        let Ok(record) = serde_json::from_str::<weir_core::eval::ResultRecord>(&r.payload) else {
            continue;
        };
        let score = match record.stderr {
            Some(e) => format!(
                "{} {:.3} ± {:.3} on {}",
                record.metric, record.value, e, record.n
            ),
            None => format!("{} {:.3} on {}", record.metric, record.value, record.n),
        };
        evaluations.push(EvalRow {
            why_not: match ignored.get(&r.id) {
                Some(why) => why,
                None if head.is_none() => "no revision to classify",
                None => "",
            },
            signed: match (&r.evaluator, r.signed_at) {
                (Some(e), Some(at)) => format!("{e}, {}", super::day(at)),
                _ => String::new(),
            },
            domain: record.domain.as_str(),
            revision_short: r.commit.chars().take(8).collect(),
            revision: r.commit.clone(),
            suite: r.suite.clone(),
            id: r.id.clone(),
            score,
        });
    }
    let mut branches = vec![];
    let mut tags = vec![];
    for r in state.store.db.refs(&repo).await? {
        match r.kind {
            weir_store::RefKind::Branch => branches.push(r.name.to_string()),
            weir_store::RefKind::Tag => tags.push(r.name.to_string()),
        }
    }
    let releases = state
        .store
        .db
        .releases_of(&repo)
        .await?
        .iter()
        .map(|r| (r.commit.to_string(), super::day(r.created_at)))
        .collect();
    let downloads = state
        .store
        .db
        .recent_recipients_of(&repo, at - weir_registry::listing::DOWNLOAD_WINDOW_SECS)
        .await?;
    let panel = panel(state, viewer, &repo, head.as_ref(), at).await?;
    let incidents = super::incidents::listed(state, viewer, Some(id.clone()), None).await?;
    Ok(Page {
        chrome: &viewer.chrome,
        tier: repo.tier.as_str(),
        tier_name: repo.tier.name(),
        tier_why,
        private: repo.private,
        card,
        card_cut,
        card_withheld,
        head: head.map(|h| h.to_string()),
        files,
        files_more,
        branches,
        tags,
        commits,
        rules,
        counted_results,
        evaluations_more: evaluations_total - evaluations.len() as i64,
        evaluations,
        domains,
        releases,
        incidents,
        downloads,
        panel,
        public_url: &state.config.public_url,
        name: repo.repo_id.name.to_string(),
        namespace: repo.repo_id.namespace.to_string(),
        sign_in_next: format!("/login?next=/{id}"),
        id,
    })
}

fn scan_of(path: &str, facts: Option<&weir_store::facts::BlobFacts>) -> (String, &'static str) {
    match facts.and_then(|f| f.pickle.as_ref()) {
        Some(r) => {
            let s = r.safety().as_str();
            let class = if s == "innocuous" { "ok" } else { "error" };
            let imports: Vec<String> = r
                .imports
                .iter()
                .take(5)
                .map(|i| format!("{}.{}", i.module, i.name))
                .collect();
            if imports.is_empty() {
                (format!("pickle scan: {s}"), class)
            } else {
                (format!("pickle scan: {s} ({})", imports.join(", ")), class)
            }
        }
        None if facts.is_none() && weir_core::pickle::wants_scan(path, b"") => {
            ("not scanned".into(), "warn")
        }
        None => (String::new(), ""),
    }
}

/// The card's text at `head`, bounded, once `Action::ReadCard` allowed it. No other file's content
/// is shown.
async fn read_card(
    state: &AppState,
    repo: &Repo,
    head: &weir_core::CommitId,
) -> Result<(String, bool), ApiError> {
    let Ok(path) = RepoPath::parse("README.md") else {
        return Ok((String::new(), false));
    };
    let Some(f) = state.store.db.file(repo, head, &path).await? else {
        return Ok((String::new(), false));
    };
    let cap = markdown::MAX_RENDERED as u64;
    let bytes = state
        .store
        .blobs
        .read_prefix(&f.sha256, cap)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "README.md unreadable");
            ApiError::internal()
        })?;
    let cut = f.size > cap;
    let text = String::from_utf8_lossy(&bytes);
    Ok((markdown::card_html(&text, &repo.repo_id.to_string()), cut))
}

async fn panel(
    state: &AppState,
    viewer: &Viewer,
    repo: &Repo,
    head: Option<&weir_core::CommitId>,
    at: i64,
) -> Result<Panel, ApiError> {
    let caller = &viewer.caller;
    let request = match caller.name() {
        Some(n) => state.store.db.access_request(repo, n.as_str()).await?,
        None => None,
    };
    let (allow, reason, message, next) = match head {
        Some(h) => {
            let g = crate::gate::check_at(state, caller, repo, h).await?;
            let (m, n) = match &g.error {
                Some(e) => (e.message.clone(), e.next.clone()),
                None => ("You can download this model.".to_string(), None),
            };
            (g.decision.allow, g.decision.reason.code().to_string(), m, n)
        }
        None => (
            false,
            "empty".into(),
            "This repo has no files yet.".into(),
            None,
        ),
    };
    let f = weir_registry::access::facts(repo);
    let may_request = caller.authorize(&Action::RequestAccess(&f)).allow;
    let form = if allow || head.is_none() {
        ""
    } else if caller.anonymous() && matches!(repo.tier, Tier::T1 | Tier::T2) {
        "sign_in"
    } else if repo.tier == Tier::T1 && may_request {
        "terms"
    } else if repo.tier == Tier::T2
        && may_request
        && viewer.session.is_some()
        && !matches!(
            request.as_ref().map(|r| r.state),
            Some(weir_core::RequestState::Pending) | Some(weir_core::RequestState::Approved)
        )
    {
        "request"
    } else {
        ""
    };
    Ok(Panel {
        allow,
        reason,
        message,
        next,
        form,
        terms: if repo.gating.terms.is_empty() {
            format!(
                "By downloading {} you agree to its licence and acceptable-use terms as stated in its model card, and that your downloads are recorded.",
                repo.repo_id
            )
        } else {
            repo.gating.terms.clone()
        },
        required_fields: repo.gating.required_fields.clone(),
        request: request.as_ref().map(|r| request_view(r, at)),
    })
}

/// `POST /{ns}/{name}/access`: the access panel's form (terms accepted, or a request filed with
/// its purpose and the repo's required fields), through the same service as the API.
pub(super) async fn request_access(
    State(state): State<AppState>,
    uri: axum::http::Uri,
    Path((ns, name)): Path<(String, String)>,
    SessionForm { viewer, form, .. }: SessionForm<Vec<(String, String)>>,
) -> Response {
    if reserved(&ns) {
        return crate::not_found(uri).await.into_response();
    }
    let caller = &viewer.caller;
    let repo = match visible_or_moved(&state, caller, &uri, &ns, &name).await {
        Ok((repo, _)) => repo,
        Err(e) => return viewer.error(e),
    };
    let value = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let fields = form
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("field_").map(|k| (k.to_string(), v.clone())))
        .filter(|(_, v)| !v.trim().is_empty())
        .collect();
    let meta = RequestMeta::of(&viewer.headers);
    if repo.tier == Tier::T1 {
        // T1: accepting the terms is the request.
        return match weir_registry::access::accept_terms(
            &state.store,
            &repo,
            &caller.subject,
            &meta.context(caller),
            now(),
        )
        .await
        {
            Ok(()) => super::see_other(&format!("/{}#access", repo.repo_id)),
            Err(e) => viewer.error(e),
        };
    }
    let filed = weir_registry::access::request(
        &state.store,
        &repo,
        &caller.subject,
        Filing {
            purpose: value("purpose"),
            fields,
        },
        &meta.context(caller),
        now(),
    )
    .await;
    match filed {
        Ok(Filed::TermsAccepted { .. }) | Ok(Filed::Request(_)) => {
            super::see_other(&format!("/{}#access", repo.repo_id))
        }
        Err(e) => viewer.error(e),
    }
}
