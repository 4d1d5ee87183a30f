//! Incident reporting, coordinated disclosure and their consequences (DESIGN.md §5,
//! governance-anchors §1.7, §4): reports from anyone (anonymous reporters get a follow-up
//! token, stored hashed), the lifecycle with who/when/why on every transition, regulatory and
//! disclosure clocks, delivery holds, re-classification, notifications to every account that
//! received an affected revision (in-app and a signed webhook), attachments kept as blobs and
//! only ever served as downloads.
//!
//! Every transition is a transparency-log event with summary-level public details; embargoed
//! details stay in the database until disclosure. Roles come from `weir_authz`
//! (`HandleIncident`); what each role may do comes from `weir_core::incident::transition`.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use weir_authz::Action;
use weir_core::eval::Domain;
use weir_core::incident::{self, Class, Kind, Role, Severity, State as IState};
use weir_core::{RepoId, Tier};
use weir_store::Repo;
use weir_store::blobs::Expect;
use weir_store::incidents::{Attachment, Incident, LogLine};
use weir_wire::ErrorCode;
use weir_wire::incidents as wire;

use crate::auth::Caller;
use crate::extract::RequestMeta;
use crate::extract::{Json as JsonBody, Path, Query};
use crate::lookup::{resolve_revision, visible_repo};
use crate::{ApiError, AppState, gate, iso8601, now};
use weir_registry::incident_rows::times;

/// The Code of Practice report fields (draft 3 Measure II.12.2) accepted in `details`.
pub const DETAIL_FIELDS: &[&str] = &[
    "start_date",
    "end_date",
    "harm",
    "affected_group",
    "chain_of_events",
    "model_version",
    "evidence",
    "response",
    "recommendations",
    "root_cause",
    "near_misses",
    "description",
];
const MAX_SUMMARY: usize = 300;
const MAX_FIELD: usize = 64 * 1024;
const MAX_REASON: usize = 4096;
use crate::limits::{MAX_ANON_ATTACHMENT, MAX_ATTACHMENT, MAX_ATTACHMENTS, MAX_REPORT_ATTACHMENTS};
/// A report's JSON body (its fields are bounded one by one below this).
pub const MAX_REPORT_BODY: usize = 1 << 20;
/// AVID/AIID/CVE aliases of one report.
pub const MAX_ALIASES: usize = 16;
const MAX_REVISIONS: usize = 100;
const FOLLOWUP_HEADER: &str = "x-weir-followup";

pub fn routes() -> crate::routes::Routes {
    crate::routes::Routes::new()
        .add(
            "/api/v1/incidents",
            &["GET", "POST"],
            // Anyone may report: the body is bounded well below the general JSON limit.
            get(list).post(axum::handler::Handler::layer(
                report,
                axum::extract::DefaultBodyLimit::max(MAX_REPORT_BODY),
            )),
        )
        .add("/api/v1/incidents/{id}", &["GET"], get(show))
        .add(
            "/api/v1/incidents/{id}/transition",
            &["POST"],
            post(transition),
        )
        .add(
            "/api/v1/incidents/{id}/updates",
            &["POST"],
            post(add_update),
        )
        .add(
            "/api/v1/incidents/{id}/attachments",
            &["POST"],
            post(attach),
        )
        .add(
            "/api/v1/incidents/{id}/attachments/{sha}",
            &["GET"],
            get(attachment),
        )
        .add("/api/v1/models/{ns}/{name}/holds", &["GET"], get(holds))
        .add("/osv/all.json", &["GET"], get(osv_all))
        .add("/osv/{file}", &["GET"], get(osv_one))
        .add("/api/v1/notifications", &["GET"], get(notifications))
        .add(
            "/api/v1/notifications/{id}/read",
            &["POST"],
            post(mark_read),
        )
        .add(
            "/api/v1/notifications/webhook",
            &["GET", "PUT", "DELETE"],
            get(get_webhook).put(put_webhook).delete(delete_webhook),
        )
}

fn bad(code: ErrorCode, msg: impl Into<String>) -> ApiError {
    ApiError::bad_request(code, msg)
}

fn check_text(field: &str, s: &str, max: usize) -> Result<(), ApiError> {
    if s.len() > max {
        return Err(bad(
            ErrorCode::FieldTooLong,
            format!("{field} is {} bytes; at most {max}", s.len()),
        )
        .next("shorten it, and attach long material as a file"));
    }
    if s.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(bad(
            ErrorCode::InvalidText,
            format!("{field} contains control characters"),
        ));
    }
    Ok(())
}

/// `YYYY-MM-DD` or RFC 3339.
fn check_date(field: &str, s: &str) -> Result<(), ApiError> {
    let ok = time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .is_ok()
        || time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok();
    if ok {
        Ok(())
    } else {
        Err(bad(
            ErrorCode::InvalidDate,
            format!("{field} {s:?} is not a date (YYYY-MM-DD or RFC 3339)"),
        ))
    }
}

fn parse_time(field: &str, s: &str) -> Result<i64, ApiError> {
    if let Ok(t) = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Ok(t.unix_timestamp());
    }
    time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .map(|d| d.midnight().assume_utc().unix_timestamp())
        .map_err(|_| {
            bad(
                ErrorCode::InvalidDate,
                format!("{field} {s:?} is not a date (YYYY-MM-DD or RFC 3339)"),
            )
        })
}

/// Whether the record is public: disclosed (and so past its embargo).
pub fn is_public(i: &Incident) -> bool {
    i.disclosed_at.is_some()
}

pub fn clocks_json(i: &Incident, at: i64) -> Value {
    let c = incident::clocks(i.class, i.state, &times(i), at);
    json!({
        "clocks": c.iter().map(|c| json!({"name": c.name, "due": iso8601(c.due), "met_at": c.met_at.map(iso8601), "overdue": c.overdue})).collect::<Vec<_>>(),
        "overdue": c.iter().any(|c| c.overdue),
        "disclosure_due": iso8601(incident::disclosure_due(&times(i))),
    })
}

fn followup_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

/// The caller's role on an incident, if any: reviewer (operator), publisher (namespace owner),
/// or reporter (the account that reported it, or the holder of its follow-up token).
fn role(caller: &Caller, headers: &HeaderMap, repo: &Repo, i: &Incident) -> Option<Role> {
    let f = gate::facts(repo);
    let d = caller.authorize(&Action::HandleIncident(&f));
    if d.allow {
        return Some(if d.reason == weir_authz::Reason::AdminToken {
            Role::Reviewer
        } else {
            Role::Publisher
        });
    }
    if let (Some(me), Some(r)) = (caller.name(), i.reporter.as_deref())
        && me.as_str() == r
    {
        return Some(Role::Reporter);
    }
    let presented = headers
        .get(FOLLOWUP_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(followup_hash);
    match (presented, i.followup_hash.as_deref()) {
        (Some(p), Some(h)) if constant_eq(p.as_bytes(), h.as_bytes()) => Some(Role::Reporter),
        _ => None,
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Loads an incident the caller may see (its role, or public), answering 404 otherwise.
async fn load(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    id: &str,
) -> Result<(Incident, Repo, Option<Role>), ApiError> {
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::IncidentNotFound,
            format!("no incident {id} that you can see"),
        )
        .next("anonymous reporters pass their follow-up token in the X-Weir-Followup header")
    };
    if id.len() > 64 {
        return Err(not_found());
    }
    let i = state
        .store
        .db
        .incident_by_osv(id)
        .await?
        .ok_or_else(not_found)?;
    let repo = state
        .store
        .db
        .repo_by_id(i.repo_id)
        .await?
        .ok_or_else(not_found)?;
    if !caller
        .authorize(&Action::ReadMetadata(&gate::facts(&repo)))
        .allow
    {
        return Err(not_found());
    }
    let r = role(caller, headers, &repo, &i);
    if r.is_none() && !is_public(&i) {
        return Err(not_found());
    }
    Ok((i, repo, r))
}

/// Whether `role` may learn who reported `i`: operators and the reporter always, the publisher
/// only if the reporter agreed.
fn sees_reporter(i: &Incident, role: Option<Role>) -> bool {
    match role {
        Some(Role::Reviewer | Role::Reporter) => true,
        Some(Role::Publisher) => i.reporter_shared,
        None => false,
    }
}

/// The reporter's name replaced by `reporter` where `role` may not learn it (history lines,
/// attachments).
fn actor_for(i: &Incident, role: Option<Role>, actor: &str) -> String {
    match i.reporter.as_deref() {
        Some(r) if r == actor && !sees_reporter(i, role) => "reporter".into(),
        _ => actor.to_string(),
    }
}

fn incident_json(i: &Incident, repo: &Repo, role: Option<Role>, at: i64) -> wire::Incident {
    let full = role.is_some();
    let c = incident::clocks(i.class, i.state, &times(i), at);
    wire::Incident {
        id: i.osv_id.clone(),
        repo: repo.repo_id.to_string(),
        kind: i.kind.as_str().to_string(),
        class: i.class.as_str().to_string(),
        state: i.state.as_str().to_string(),
        severity: i.severity.map(|s| s.as_str().to_string()),
        domain: i.domain.clone(),
        summary: i.summary.clone(),
        revisions: i.revisions.clone(),
        fixed_revision: i.fixed_revision.clone(),
        aliases: i.aliases.clone(),
        in_the_wild: i.in_the_wild,
        hold: i.hold,
        reported_at: iso8601(i.aware_at),
        triaged_at: i.triaged_at.map(iso8601),
        confirmed_at: i.confirmed_at.map(iso8601),
        resolved_at: i.resolved_at.map(iso8601),
        disclosed_at: i.disclosed_at.map(iso8601),
        withdrawn_at: i.withdrawn_at.map(iso8601),
        embargo_until: i.embargo_until.map(iso8601),
        updated_at: iso8601(i.updated_at),
        details: (full || is_public(i))
            .then(|| serde_json::from_str(&i.details).unwrap_or(Value::Null)),
        // Who reported stays with the people handling it, also after disclosure.
        reporter: full.then(|| {
            if sees_reporter(i, role) {
                i.reporter.clone().unwrap_or_else(|| "anonymous".into())
            } else {
                "withheld".into()
            }
        }),
        reporter_shared: full.then_some(i.reporter_shared),
        clocks: c
            .iter()
            .map(|c| wire::Clock {
                name: c.name.to_string(),
                due: iso8601(c.due),
                met_at: c.met_at.map(iso8601),
                overdue: c.overdue,
            })
            .collect(),
        overdue: c.iter().any(|c| c.overdue),
        disclosure_due: iso8601(incident::disclosure_due(&times(i))),
        followup: None,
        followup_token: None,
        notified: None,
        history: None,
        attachments: None,
        your_role: None,
    }
}

/// `GET /api/v1/models/{ns}/{name}/holds`: the public notice of a repo's delivery holds, for
/// anyone who can see the repo (what a denied download points at): the held revisions, since
/// when, the fixing revision once there is one, and the incident id once it is disclosed.
async fn holds(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (repo, _) = visible_repo(&state, &caller, &ns, &name).await?;
    let mut out = Vec::new();
    for i in state.store.db.incidents(Some(repo.id)).await? {
        let active = i.hold && matches!(i.state.as_str(), "confirmed" | "mitigated" | "disclosed");
        if !active {
            continue;
        }
        out.push(json!({
            "revisions": i.revisions,
            "since": i.confirmed_at.map(iso8601),
            "fixed_revision": i.fixed_revision,
            "incident": is_public(&i).then_some(&i.osv_id),
        }));
    }
    Ok(Json(
        json!({"repo": repo.repo_id.to_string(), "holds": out}),
    ))
}

// ---- reporting -------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportBody {
    repo: String,
    #[serde(default)]
    revisions: Vec<String>,
    kind: String,
    class: String,
    summary: String,
    #[serde(default)]
    details: Map<String, Value>,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
    /// The reporter says it is exploited in the wild: recorded with the report; an operator
    /// decides (it shortens disclosure).
    #[serde(default)]
    in_the_wild: bool,
    /// The reporter agrees to show their identity to the publisher (operators always see it).
    #[serde(default)]
    share_identity: bool,
}

/// `POST /api/v1/incidents`: anyone, signed in or not. Anonymous reporters get a follow-up
/// token (shown once, stored hashed) to read their report, attach files and withdraw it.
/// The client address a request came from (absent when the router is driven without a
/// connection, as in tests that call it directly: counted as one address).
fn client_key(addr: Option<&axum::Extension<crate::conn::ClientAddr>>) -> String {
    // IPv6 by its /64: one host rotating through its own range is one address.
    addr.map(|a| crate::conn::address_key(a.0.0.ip()).to_string())
        .unwrap_or_else(|| "local".into())
}

fn rate_limited(what: &str, retry_after: i64) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::RateLimited,
        format!(
            "too many {what}; try again in {} minutes",
            ((retry_after + 59) / 60).max(1)
        ),
    )
    .with("retry_after_secs", json!(retry_after))
    .next("sign in with an account for higher limits, or wait")
}

async fn report(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    addr: Option<axum::Extension<crate::conn::ClientAddr>>,
    JsonBody(body): JsonBody<ReportBody>,
) -> Result<(StatusCode, Json<wire::Incident>), ApiError> {
    let id = RepoId::parse(&body.repo).map_err(|e| bad(ErrorCode::InvalidRepoId, e.to_string()))?;
    let (repo, f) = visible_repo(&state, &caller, id.namespace.as_str(), id.name.as_str()).await?;
    caller.require(&Action::ReportIncident(&f), &repo.repo_id.to_string())?;
    let kind = Kind::parse(&body.kind).ok_or_else(|| {
        bad(
            ErrorCode::InvalidKind,
            format!("unknown kind {:?}", body.kind),
        )
        .next("use incident, hazard or vulnerability")
    })?;
    let class = Class::parse(&body.class).ok_or_else(|| {
        bad(
            ErrorCode::InvalidClass,
            format!("unknown class {:?}", body.class),
        )
        .next(format!("use one of: {}", Class::names()))
    })?;
    let summary = body.summary.trim();
    if summary.is_empty() {
        return Err(bad(
            ErrorCode::MissingSummary,
            "a report needs a one-line summary",
        ));
    }
    check_text("summary", summary, MAX_SUMMARY)?;
    if summary.contains('\n') {
        return Err(bad(ErrorCode::InvalidText, "the summary is one line"));
    }
    for (k, v) in &body.details {
        if !DETAIL_FIELDS.contains(&k.as_str()) {
            return Err(bad(
                ErrorCode::UnknownField,
                format!("unknown details field {k:?}"),
            )
            .next(format!("use: {}", DETAIL_FIELDS.join(", "))));
        }
        let s = v.as_str().ok_or_else(|| {
            bad(
                ErrorCode::InvalidField,
                format!("details.{k} must be a string"),
            )
        })?;
        check_text(&format!("details.{k}"), s, MAX_FIELD)?;
        if k.ends_with("_date") {
            check_date(&format!("details.{k}"), s)?;
        }
    }
    let domain = match body.domain.as_deref() {
        None | Some("") => None,
        Some(d) => Some(
            Domain::parse(d)
                .ok_or_else(|| {
                    bad(
                        ErrorCode::InvalidDomain,
                        format!("unknown hazard domain {d:?}"),
                    )
                    .next("use bio, chem, cyber, autonomy or manipulation")
                })?
                .as_str()
                .to_string(),
        ),
    };
    if body.aliases.len() > MAX_ALIASES {
        return Err(bad(
            ErrorCode::TooManyAliases,
            format!("at most {MAX_ALIASES} aliases"),
        ));
    }
    for a in &body.aliases {
        if !incident::valid_alias(a) {
            return Err(bad(
                ErrorCode::InvalidAlias,
                format!("{a:?} is not an AVID, AIID or CVE id"),
            )
            .next("use AVID-YYYY-RNNNN, AIID-N or CVE-YYYY-NNNN"));
        }
    }
    if body.revisions.len() > MAX_REVISIONS {
        return Err(bad(
            ErrorCode::TooManyRevisions,
            format!("at most {MAX_REVISIONS} revisions"),
        ));
    }
    let mut revisions = Vec::new();
    let asked = if body.revisions.is_empty() {
        vec!["main".to_string()]
    } else {
        body.revisions.clone()
    };
    for r in &asked {
        let c = resolve_revision(&state, &repo, r).await?;
        if !revisions.contains(&c.to_string()) {
            revisions.push(c.to_string());
        }
    }
    let reporter = caller.name().map(|n| n.to_string());
    // Counted only once the report is valid: per account, or per address for anonymous ones.
    let (key, limit) = match &reporter {
        Some(r) => (
            format!("report:account:{r}"),
            crate::limits::ACCOUNT_REPORTS,
        ),
        None => (
            format!("report:addr:{}", client_key(addr.as_ref())),
            crate::limits::ANON_REPORTS,
        ),
    };
    state
        .limiter
        .take(&key, 1, limit, now())
        .map_err(|retry| rate_limited("incident reports", retry))?;
    let token = reporter.is_none().then(|| {
        let mut b = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
        format!("weirf_{}", hex::encode(b))
    });
    let at = now();
    let mut details = body.details;
    if body.in_the_wild && caller.scope() != Some(weir_core::Scope::Admin) {
        details.insert("reported_in_the_wild".into(), Value::Bool(true));
    }
    let mut new = Incident::received(
        repo.id,
        kind,
        class,
        summary,
        Value::Object(details).to_string(),
        revisions,
        reporter.clone(),
        at,
    );
    new.domain = domain;
    new.aliases = body.aliases;
    // Only an operator's own report sets it at once; anyone else's claim waits for an operator.
    new.in_the_wild = body.in_the_wild && caller.scope() == Some(weir_core::Scope::Admin);
    new.reporter_shared = body.share_identity && reporter.is_some();
    new.followup_hash = token.as_deref().map(followup_hash);
    let i = weir_registry::incident::report(
        &state.store,
        &repo,
        &new,
        &RequestMeta::of(&headers).context(&caller),
        &state.config.osv_prefix,
        at,
    )
    .await?;
    let mut v = incident_json(&i, &repo, Some(Role::Reporter), at);
    if let Some(t) = token {
        v.followup_token = Some(t);
        v.followup = Some(
            "keep this token: it is shown once; send it as X-Weir-Followup to read, attach to or withdraw this report".into(),
        );
    }
    Ok((StatusCode::CREATED, Json(v)))
}

#[derive(Deserialize)]
pub struct ListQuery {
    repo: Option<String>,
    overdue: Option<bool>,
    state: Option<String>,
}

/// Incidents the caller may see: all for operators, their namespaces' for publishers, their own
/// reports, and every disclosed record.
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Json<wire::Incidents>, ApiError> {
    let at = now();
    let filter_repo = match q.repo.as_deref() {
        Some(r) => {
            let id = RepoId::parse(r).map_err(|e| bad(ErrorCode::InvalidRepoId, e.to_string()))?;
            let (repo, _) =
                visible_repo(&state, &caller, id.namespace.as_str(), id.name.as_str()).await?;
            Some(repo.id)
        }
        None => None,
    };
    if let Some(s) = q.state.as_deref()
        && IState::parse(s).is_none()
    {
        return Err(bad(ErrorCode::InvalidState, format!("unknown state {s:?}")));
    }
    let repos = state.store.db.list_repos().await?;
    let mut out = Vec::new();
    for i in state.store.db.incidents(filter_repo).await? {
        let Some(repo) = repos.iter().find(|r| r.id == i.repo_id) else {
            continue;
        };
        if !caller
            .authorize(&Action::ReadMetadata(&gate::facts(repo)))
            .allow
        {
            continue;
        }
        let r = role(&caller, &headers, repo, &i);
        if r.is_none() && !is_public(&i) {
            continue;
        }
        if q.state.as_deref().is_some_and(|s| s != i.state.as_str()) {
            continue;
        }
        if q.overdue == Some(true) && !incident::overdue(i.class, i.state, &times(&i), at) {
            continue;
        }
        out.push(incident_json(&i, repo, r, at));
    }
    Ok(Json(wire::Incidents { incidents: out }))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<wire::Incident>, ApiError> {
    let (i, repo, r) = load(&state, &caller, &headers, &id).await?;
    let mut v = incident_json(&i, &repo, r, now());
    if r.is_some() {
        v.history = Some(
            state
                .store
                .db
                .incident_log(i.id)
                .await?
                .iter()
                .map(|l| wire::HistoryLine {
                    kind: l.kind.clone(),
                    from: l.from_state.clone(),
                    to: l.to_state.clone(),
                    by: actor_for(&i, r, &l.actor),
                    note: l.note.clone(),
                    at: iso8601(l.at),
                })
                .collect(),
        );
        v.attachments = Some(
            state
                .store
                .db
                .attachments(i.id)
                .await?
                .iter()
                .map(|a| wire::AttachmentEntry {
                    name: a.name.clone(),
                    sha256: a.sha256.clone(),
                    size: a.size,
                    added_by: actor_for(&i, r, &a.added_by),
                    at: iso8601(a.at),
                })
                .collect(),
        );
        v.your_role = Some(
            match r {
                Some(Role::Reviewer) => "reviewer",
                Some(Role::Publisher) => "publisher",
                Some(Role::Reporter) => "reporter",
                None => "public",
            }
            .to_string(),
        );
    }
    Ok(Json(v))
}

// ---- transitions -----------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionBody {
    to: String,
    reason: String,
    #[serde(default)]
    severity: Option<String>,
    /// On confirm: hold new deliveries of the affected revisions.
    #[serde(default)]
    hold: bool,
    /// On confirm: raise this hazard domain to `ambiguous` (re-classifies through the policy).
    #[serde(default)]
    raise_domain: Option<String>,
    /// On mitigate: the revision that fixes it.
    #[serde(default)]
    fixed_revision: Option<String>,
    /// Any time before disclosure (reviewers): a per-record embargo date.
    #[serde(default)]
    embargo_until: Option<String>,
    #[serde(default)]
    in_the_wild: Option<bool>,
}

async fn transition(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    meta: RequestMeta,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<TransitionBody>,
) -> Result<Json<wire::Incident>, ApiError> {
    let (i, repo, role) = load(&state, &caller, &headers, &id).await?;
    let role = role.ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::NotReviewer,
            "Only operators, the publisher and the reporter act on an incident.",
        )
    })?;
    let to = IState::parse(&body.to).ok_or_else(|| {
        bad(
            ErrorCode::InvalidState,
            format!("unknown state {:?}", body.to),
        )
        .next("use triaged, confirmed, rejected, mitigated, disclosed or withdrawn")
    })?;
    let reason = body.reason.trim();
    if reason.is_empty() {
        return Err(bad(
            ErrorCode::MissingReason,
            "every transition needs a reason",
        ));
    }
    check_text("reason", reason, MAX_REASON)?;
    let severity = body
        .severity
        .as_deref()
        .map(|s| {
            Severity::parse(s).ok_or_else(|| {
                bad(
                    ErrorCode::InvalidSeverity,
                    format!("unknown severity {s:?}"),
                )
                .next("use low, medium, high or critical")
            })
        })
        .transpose()?;
    let raise_domain = body
        .raise_domain
        .as_deref()
        .map(|d| {
            Domain::parse(d).ok_or_else(|| {
                bad(
                    ErrorCode::InvalidDomain,
                    format!("unknown hazard domain {d:?}"),
                )
            })
        })
        .transpose()?;
    let fixed_revision = match body.fixed_revision.as_deref() {
        Some(f) if to == IState::Mitigated => Some(resolve_revision(&state, &repo, f).await?),
        _ => None,
    };
    let embargo_until = body
        .embargo_until
        .as_deref()
        .map(|e| parse_time("embargo_until", e))
        .transpose()?;
    let actor = match role {
        Role::Reporter if caller.anonymous() => "reporter (follow-up token)".to_string(),
        _ => caller
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|| "anonymous".into()),
    };
    let at = now();
    let done = weir_registry::incident::transition(
        &state.store,
        &repo,
        &i,
        role,
        &actor,
        &meta.context(&caller),
        weir_registry::incident::Transition {
            to,
            reason: reason.to_string(),
            severity,
            hold: body.hold,
            raise_domain,
            fixed_revision,
            embargo_until,
            in_the_wild: body.in_the_wild,
        },
        at,
    )
    .await?;
    let next = &done.incident;
    if !done.notified.is_empty() {
        let accounts = done.notified.clone();
        crate::webhook::spawn_webhooks(
            &state,
            accounts,
            json!({
                "type": "incident.confirmed",
                "incident": i.osv_id,
                "repo": repo.repo_id.to_string(),
                "revisions": i.revisions,
                "hold": next.hold,
                "summary": i.summary,
                "at": iso8601(at),
                "url": format!("{}/api/v1/incidents/{}", state.config.public_url, i.osv_id),
            }),
        );
    }
    let mut v = incident_json(next, &repo, Some(role), now());
    v.notified = Some(done.notified.len());
    Ok(Json(v))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    note: String,
    #[serde(default)]
    r#final: bool,
}

/// An intermediate report (every 4 weeks until resolved) or, with `final`, the final report
/// (within 60 days of resolution).
async fn add_update(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateBody>,
) -> Result<Json<wire::Incident>, ApiError> {
    let (i, repo, role) = load(&state, &caller, &headers, &id).await?;
    // The reporter may add notes (kept in the history; they are not regulatory reports and move
    // no clock); operators and the publisher file the reports.
    let reporter_note = match role {
        Some(Role::Reviewer | Role::Publisher) => false,
        Some(Role::Reporter) if !body.r#final => true,
        _ => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::NotReviewer,
                "Only operators and the publisher file incident reports; the reporter may add notes.",
            ));
        }
    };
    let note = body.note.trim();
    if note.is_empty() {
        return Err(bad(ErrorCode::MissingNote, "an update needs its text"));
    }
    check_text("note", note, MAX_FIELD)?;
    let at = now();
    let mut next = i.clone();
    if reporter_note {
        // no clock moves
    } else if body.r#final {
        if i.resolved_at.is_none() {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::NotResolved,
                "the final report follows the resolution (mitigated)",
            ));
        }
        next.final_report_at = Some(at);
    } else {
        next.last_update_at = Some(at);
    }
    next.updated_at = at;
    let kind = if reporter_note {
        "reporter_note"
    } else if body.r#final {
        "final_report"
    } else {
        "update"
    };
    let mut e = gate::event(
        &caller,
        &headers,
        &format!("incident.{kind}"),
        Some(&repo),
        "change",
        kind,
        json!({"public": {"id": i.osv_id, "repo": repo.repo_id.to_string(), "report": kind}, "note": note}),
    );
    e.subject = Some(i.osv_id.clone());
    let actor = match (role, caller.name()) {
        (_, Some(n)) => n.to_string(),
        (Some(Role::Reporter), None) => "reporter (follow-up token)".to_string(),
        _ => String::new(),
    };
    state
        .store
        .db
        .update_incident_logged(
            &next,
            i.state,
            &LogLine {
                kind: kind.into(),
                from_state: None,
                to_state: None,
                actor: actor.clone(),
                note: note.into(),
                at,
            },
            &[e],
            &[],
        )
        .await?;
    weir_registry::standing::update_standing(
        &state.store,
        repo.repo_id.namespace.as_str(),
        Some(&actor),
        crate::now(),
    )
    .await?;
    let i = state
        .store
        .db
        .incident_by_osv(&id)
        .await?
        .ok_or_else(ApiError::internal)?;
    Ok(Json(incident_json(&i, &repo, role, at)))
}

// ---- attachments -----------------------------------------------------------------------------

#[derive(Deserialize)]
pub struct AttachQuery {
    name: String,
}

async fn attach(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    addr: Option<axum::Extension<crate::conn::ClientAddr>>,
    Path(id): Path<String>,
    Query(q): Query<AttachQuery>,
    body: Body,
) -> Result<(StatusCode, Json<wire::Attachment>), ApiError> {
    let (i, repo, role) = load(&state, &caller, &headers, &id).await?;
    if role.is_none() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::NotAllowed,
            "Only the reporter, the publisher and operators attach files.",
        ));
    }
    let name: String = q.name.trim().to_string();
    if name.is_empty() || name.len() > 200 || name.contains(['/', '\\']) {
        return Err(bad(
            ErrorCode::InvalidName,
            "an attachment name is 1–200 characters without slashes",
        ));
    }
    check_text("name", &name, 200)?;
    // Bounded per report (count and total) and per attachment; anonymous reporters also per
    // address per day. The cap of the stream is what is left of all three.
    let existing = state.store.db.attachments(i.id).await?;
    if existing.len() >= MAX_ATTACHMENTS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooManyAttachments,
            format!("a report has at most {MAX_ATTACHMENTS} attachments"),
        )
        .next("bundle the files into one archive"));
    }
    let used: u64 = existing.iter().map(|a| a.size.max(0) as u64).sum();
    let left = MAX_REPORT_ATTACHMENTS.saturating_sub(used);
    let per_file = if caller.anonymous() {
        MAX_ANON_ATTACHMENT
    } else {
        MAX_ATTACHMENT
    };
    let mut cap = per_file.min(left);
    let addr_key = caller
        .anonymous()
        .then(|| format!("attach:addr:{}", client_key(addr.as_ref())));
    if let Some(k) = &addr_key {
        // Reserve the whole cap for the address, give back what was not used.
        let l = crate::limits::ANON_ATTACHMENT_BYTES;
        let mut reserved = cap;
        while reserved > 0 && state.limiter.take(k, reserved, l, now()).is_err() {
            reserved /= 2;
        }
        if reserved == 0 {
            return Err(rate_limited(
                "attachment bytes from this address today",
                l.window_secs,
            ));
        }
        cap = reserved;
    }
    if cap == 0 {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
            format!(
                "the report's attachments already total {used} bytes; at most {MAX_REPORT_ATTACHMENTS}"
            ),
        ));
    }
    let ingested = state
        .store
        .ingest(
            body.into_data_stream(),
            Expect {
                max_size: Some(cap),
                ..Expect::default()
            },
        )
        .await;
    if let Some(k) = &addr_key {
        let kept = ingested.as_ref().map(|(_, n)| *n).unwrap_or(0);
        state.limiter.give_back(k, cap - kept.min(cap));
    }
    let (sha, size) = ingested?;
    let added_by = caller
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|| "reporter (follow-up token)".into());
    let a = Attachment {
        name,
        sha256: sha.to_string(),
        size: size as i64,
        added_by,
        at: now(),
    };
    let mut e = gate::event(
        &caller,
        &headers,
        "incident.attachment",
        Some(&repo),
        "change",
        "attached",
        json!({"public": {"id": i.osv_id}, "sha256": a.sha256, "name": a.name}),
    );
    e.subject = Some(i.osv_id.clone());
    state
        .store
        .db
        .add_attachment_logged(
            i.id,
            &a,
            &e,
            MAX_ATTACHMENTS as i64,
            MAX_REPORT_ATTACHMENTS as i64,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(wire::Attachment {
            name: a.name,
            sha256: a.sha256,
            size: a.size,
        }),
    ))
}

/// Attachments are only ever downloaded: `application/octet-stream`, `attachment`, `nosniff`,
/// and a sandboxing CSP, so a browser never renders or runs them.
async fn attachment(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((id, sha)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (i, _, role) = load(&state, &caller, &headers, &id).await?;
    if role.is_none() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::NotAllowed,
            "Attachments are for the reporter, the publisher and operators.",
        ));
    }
    let a = state
        .store
        .db
        .attachments(i.id)
        .await?
        .into_iter()
        .find(|a| a.sha256 == sha)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                "no such attachment",
            )
        })?;
    let sha = weir_core::Sha256Hex::parse(&a.sha256).map_err(|_| ApiError::internal())?;
    let file = tokio::fs::File::open(state.store.blobs.path_of(&sha))
        .await
        .map_err(|_| ApiError::internal())?;
    let mut r = Body::from_stream(tokio_util::io::ReaderStream::new(file)).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"attachment.bin\""),
    );
    h.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    Ok(r)
}

// ---- OSV -------------------------------------------------------------------------------------

/// An OSV 1.7 record for a disclosed incident (governance-anchors §4.4, §4.6).
pub fn osv_record(i: &Incident, repo: &Repo, public_url: &str, tier: Tier, at: i64) -> Value {
    let repo_url = format!("{public_url}/{}", repo.repo_id);
    let purl = |rev: &str| {
        format!(
            "pkg:huggingface/{}/{}@{rev}?repository_url={}",
            repo.repo_id.namespace,
            repo.repo_id.name,
            percent_encoding::utf8_percent_encode(public_url, percent_encoding::NON_ALPHANUMERIC)
        )
    };
    let mut events =
        vec![json!({"introduced": i.revisions.first().cloned().unwrap_or_else(|| "0".into())})];
    if let Some(f) = &i.fixed_revision {
        events.push(json!({"fixed": f}));
    }
    let details: Map<String, Value> = serde_json::from_str(&i.details).unwrap_or_default();
    let mut text = String::new();
    for k in DETAIL_FIELDS {
        if let Some(v) = details.get(*k).and_then(Value::as_str) {
            // OSV `details` is CommonMark: reporters' text must not become live HTML there.
            let inert = v
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            text.push_str(&format!("**{}**: {}\n\n", k.replace('_', " "), inert));
        }
    }
    let clocks = clocks_json(i, at);
    let mut record = json!({
        "schema_version": "1.7.5",
        "id": i.osv_id,
        "modified": iso8601(i.updated_at),
        "published": iso8601(i.disclosed_at.unwrap_or(i.updated_at)),
        "aliases": i.aliases,
        "summary": i.summary,
        "details": text.trim_end(),
        "affected": [{
            "ranges": [{"type": "GIT", "repo": repo_url, "events": events}],
            "versions": i.revisions,
            "database_specific": {
                "purl": purl(i.revisions.first().map(String::as_str).unwrap_or("")),
                "purls": i.revisions.iter().map(|r| purl(r)).collect::<Vec<_>>(),
            },
        }],
        "references": [
            {"type": "REPORT", "url": format!("{public_url}/api/v1/incidents/{}", i.osv_id)},
            {"type": "PACKAGE", "url": repo_url},
        ],
        "database_specific": {
            "kind": i.kind,
            "class": i.class,
            "severity": i.severity,
            "hazard_domain": i.domain,
            "state": i.state,
            "tier": tier.as_str(),
            "in_the_wild": i.in_the_wild,
            "delivery_hold": i.hold,
            "reported_at": iso8601(i.aware_at),
            "clocks": clocks["clocks"],
            "disclosure": {
                "policy": if i.in_the_wild { "7 days (exploited in the wild)" } else { "90 days, or 30 after a fix" },
                "due": clocks["disclosure_due"],
                "embargo_until": i.embargo_until.map(iso8601),
            },
        },
    });
    if let Some(w) = i.withdrawn_at {
        record["withdrawn"] = json!(iso8601(w));
    }
    record
}

async fn public_records(state: &AppState) -> Result<Vec<(Incident, Value)>, ApiError> {
    let at = now();
    let repos = state.store.db.list_repos().await?;
    let mut out = Vec::new();
    for i in state.store.db.incidents(None).await? {
        if !is_public(&i) {
            continue;
        }
        let Some(repo) = repos.iter().find(|r| r.id == i.repo_id) else {
            continue;
        };
        // Private repos never appear in the public feed.
        if repo.private {
            continue;
        }
        let v = osv_record(&i, repo, &state.config.public_url, repo.tier, at);
        out.push((i, v));
    }
    Ok(out)
}

/// `GET /osv/all.json`: every disclosed record (a JSON array of OSV records).
async fn osv_all(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let v: Vec<Value> = public_records(&state)
        .await?
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    Ok(Json(Value::Array(v)))
}

async fn osv_one(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = file.strip_suffix(".json").unwrap_or(&file);
    public_records(&state)
        .await?
        .into_iter()
        .find(|(i, _)| i.osv_id == id)
        .map(|(_, v)| Json(v))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                format!("no disclosed record {id}"),
            )
            .next("only disclosed records are public; see /osv/all.json")
        })
}

// ---- notifications and webhooks ------------------------------------------------------------

async fn notifications(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<wire::Notifications>, ApiError> {
    let me = caller.require_user()?.to_string();
    let list: Vec<_> = state
        .store
        .db
        .notifications(&me)
        .await?
        .iter()
        .map(|n| wire::Notification {
            id: n.id,
            kind: n.kind.clone(),
            message: n.message.clone(),
            created_at: iso8601(n.created_at),
            read: n.read_at.is_some(),
        })
        .collect();
    Ok(Json(wire::Notifications {
        notifications: list,
    }))
}

async fn mark_read(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<wire::MarkedRead>, ApiError> {
    let me = caller.require_user()?.to_string();
    let changed = state.store.db.mark_read(&me, id).await?;
    Ok(Json(wire::MarkedRead {
        id,
        read: true,
        changed,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookBody {
    url: String,
}

/// Registers the caller's webhook; the HMAC secret is shown once. Deliveries carry
/// `X-Weir-Signature-256: sha256=HEX` = HMAC-SHA256(secret, body).
async fn put_webhook(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<WebhookBody>,
) -> Result<Json<wire::WebhookCreated>, ApiError> {
    let me = caller.require_user()?.to_string();
    let url = body.url.trim();
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 2000
        && reqwest::Url::parse(url).is_ok();
    if !ok {
        return Err(bad(
            ErrorCode::InvalidUrl,
            format!("{url:?} is not an http(s) URL"),
        ));
    }
    if !state.config.allow_private_webhooks {
        crate::webhook::check_public_target(url).await.map_err(|why| {
            bad(ErrorCode::WebhookPrivateAddress, format!("{url}: {why}"))
                .next("use a publicly reachable URL (the operator may allow private ones with --allow-private-webhooks)")
        })?;
    }
    let mut b = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
    let secret = hex::encode(b);
    state.store.db.set_webhook(&me, url, &secret).await?;
    Ok(Json(wire::WebhookCreated {
        url: url.to_string(),
        secret,
        signature: "X-Weir-Signature-256: sha256=HMAC-SHA256(secret, body) in hex; the secret is shown once".into(),
    }))
}

async fn get_webhook(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let me = caller.require_user()?.to_string();
    Ok(Json(match state.store.db.webhook(&me).await? {
        Some(w) => {
            json!({"url": w.url, "created_at": iso8601(w.created_at), "last_status": w.last_status})
        }
        None => Value::Null,
    }))
}

async fn delete_webhook(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    let me = caller.require_user()?.to_string();
    state.store.db.delete_webhook(&me).await?;
    Ok(StatusCode::NO_CONTENT)
}
