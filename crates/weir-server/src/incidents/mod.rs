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

mod attachments;
mod holds;
pub(crate) mod list;
mod notifications;
mod osv;
pub(crate) mod report;
pub(crate) mod show;
pub(crate) mod transition;
pub(crate) mod updates;

use crate::auth::Caller;
use crate::extract::RequestMeta;
use crate::{ApiError, AppState, gate, iso8601};
use attachments::{attach, attachment};
use axum::http::StatusCode;
use axum::routing::{get, post};
use holds::holds;
use list::list;
use notifications::{delete_webhook, get_webhook, mark_read, notifications, put_webhook};
use osv::{osv_all, osv_one};
use report::{client_key, rate_limited, report};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use show::show;
use transition::transition;
use updates::add_update;
use weir_authz::Action;
use weir_core::incident::{self, Role};
use weir_registry::incident_rows::times;
use weir_store::Repo;
use weir_store::incidents::Incident;
use weir_wire::ErrorCode;
use weir_wire::incidents as wire;

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

/// A report's JSON body (its fields are bounded one by one below this).
pub const MAX_REPORT_BODY: usize = 1 << 20;

/// AVID/AIID/CVE aliases of one report.
pub const MAX_ALIASES: usize = 16;

const MAX_REVISIONS: usize = 100;

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
/// or reporter (the account that reported it, or the holder of its follow-up token). Whoever
/// reported it is its reporter, even an operator or its publisher: another operator triages it.
fn role(caller: &Caller, meta: &RequestMeta, repo: &Repo, i: &Incident) -> Option<Role> {
    let f = gate::facts(repo);
    // An operator or publisher who reported it themselves falls through to the reporter's role.
    let d = caller.authorize(&Action::HandleIncident {
        repo: &f,
        reporter: i.reporter.as_deref(),
    });
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
    let presented = meta.followup.as_deref().map(followup_hash);
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
    meta: &RequestMeta,
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
    let r = role(caller, meta, &repo, &i);
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
