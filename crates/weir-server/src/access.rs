//! Access to gated repos over `/api/v1/` (terms, requests, reviews, checks, tiers, gating,
//! identity attestations) and the Hub's owner endpoints (`user-access-request/*`).
//! Every decision goes through `weir_authz::authorize`; every state change is an event.

use std::collections::BTreeMap;
use weir_wire::ErrorCode;
use weir_wire::access as wire;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post, put};
use serde::Deserialize;
use serde_json::{Value, json};
use weir_authz::Action;
use weir_core::access::{
    REVIEW_WORKING_DAYS, ReviewAction, TransitionError, add_working_days, can_request, review,
};
use weir_core::{GrantState, IdentityLevel, RepoId, RequestState, Tier};
use weir_store::{AccessRequest, AttestationRecord, Repo};

use crate::auth::Caller;
use crate::extract::{Json as JsonBody, Path, Query};
use crate::gate::{self, facts};
use crate::lookup::{resolve_revision, visible_repo};
use crate::{ApiError, AppState, iso8601, now};

pub fn routes() -> crate::routes::Routes {
    crate::routes::Routes::new()
        .add("/api/v1/access/check", &["GET"], get(check))
        .add("/api/v1/access/requests", &["GET"], get(my_requests))
        .add(
            "/api/v1/repos/{ns}/{name}/access/terms",
            &["GET", "POST"],
            get(terms).post(accept_terms),
        )
        .add(
            "/api/v1/repos/{ns}/{name}/access/requests",
            &["GET", "POST"],
            get(list_requests).post(request_access),
        )
        .add(
            "/api/v1/repos/{ns}/{name}/access/requests/{user}",
            &["POST"],
            post(review_request),
        )
        .add("/api/v1/repos/{ns}/{name}/tier", &["PUT"], put(set_tier))
        .add(
            "/api/v1/repos/{ns}/{name}/gating",
            &["PUT"],
            put(set_gating),
        )
        .add("/api/v1/identity", &["GET"], get(my_identity))
        .add(
            "/api/v1/identity/attestations",
            &["POST"],
            post(submit_attestation).layer(axum::extract::DefaultBodyLimit::max(64 * 1024)),
        )
        .add(
            "/api/models/{ns}/{name}/user-access-request/handle",
            &["POST"],
            post(hf_handle),
        )
        .add(
            "/api/models/{ns}/{name}/user-access-request/grant",
            &["POST"],
            post(hf_grant),
        )
        .add(
            "/api/models/{ns}/{name}/user-access-request/{status}",
            &["GET"],
            get(hf_list),
        )
}

#[derive(Deserialize)]
pub struct CheckQuery {
    repo: String,
    revision: Option<String>,
}

/// `GET /api/v1/access/check?repo=&revision=`: allow or deny, with the reason and the next step,
/// before any download.
async fn check(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<CheckQuery>,
) -> Result<Json<wire::AccessCheck>, ApiError> {
    let id = RepoId::parse(&q.repo)
        .map_err(|e| ApiError::bad_request(ErrorCode::InvalidRepoId, e.to_string()))?;
    let (repo, _) = visible_repo(&state, &caller, id.namespace.as_str(), id.name.as_str()).await?;
    let rev = q.revision.unwrap_or_else(|| "main".into());
    let commit = resolve_revision(&state, &repo, &rev).await?;
    let at = now();
    let g = gate::check_at(&state, &caller, &repo, &commit).await?;
    let request = match caller.name() {
        Some(n) => state.store.db.access_request(&repo, n.as_str()).await?,
        None => None,
    };
    let (message, next) = match &g.error {
        Some(e) => (e.message.clone(), e.next.clone()),
        None => ("download allowed".to_string(), None),
    };
    Ok(Json(wire::AccessCheck {
        repo: repo.repo_id.to_string(),
        revision: rev,
        commit: commit.to_string(),
        allow: g.decision.allow,
        reason: g.decision.reason.code().to_string(),
        message,
        next,
        tier: repo.tier.as_str().to_string(),
        tier_name: repo.tier.name().to_string(),
        your_level: caller.level().as_str().to_string(),
        required_level: (repo.tier == Tier::T2).then(|| repo.gating.min_level.as_str().to_string()),
        request: request.map(|r| gate::request_json(&repo.repo_id.to_string(), &r, at)),
    }))
}

async fn terms(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Json<wire::Terms>, ApiError> {
    let (repo, _) = visible_repo(&state, &caller, &ns, &name).await?;
    let accepted = match caller.name() {
        Some(n) => state.store.db.terms_accepted(&repo, n.as_str()).await?,
        None => false,
    };
    Ok(Json(wire::Terms {
        repo: repo.repo_id.to_string(),
        tier: repo.tier.as_str().to_string(),
        terms: terms_text(&repo),
        accepted,
        required_fields: repo.gating.required_fields.clone(),
    }))
}

fn terms_text(repo: &Repo) -> String {
    if repo.gating.terms.is_empty() {
        format!(
            "By downloading {} you agree to its licence and acceptable-use terms as stated in its model card, and that your downloads are recorded.",
            repo.repo_id
        )
    } else {
        repo.gating.terms.clone()
    }
}

fn require(caller: &Caller, action: &Action<'_>, repo: &Repo) -> Result<(), ApiError> {
    caller.require(action, &repo.repo_id.to_string())
}

async fn accept_terms(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Json<wire::TermsAccepted>, ApiError> {
    let (repo, f) = visible_repo(&state, &caller, &ns, &name).await?;
    require(&caller, &Action::RequestAccess(&f), &repo)?;
    let user = caller.require_user()?.to_string();
    accept(&state, &caller, &headers, &repo, &user).await?;
    Ok(Json(wire::TermsAccepted {
        repo: repo.repo_id.to_string(),
        accepted: true,
        tier: repo.tier.as_str().to_string(),
    }))
}

/// Records a terms acceptance and its event.
async fn accept(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    repo: &Repo,
    user: &str,
) -> Result<(), ApiError> {
    let e = gate::event(
        caller,
        headers,
        "access.terms",
        Some(repo),
        "change",
        "terms_accepted",
        json!({}),
    );
    state.store.db.accept_terms_logged(repo, user, &e).await?;
    Ok(())
}

/// Fields of an access request (a repo's `required_fields`): how many, how long.
pub const MAX_REQUEST_FIELDS: usize = 32;
pub const MAX_FIELD_NAME: usize = 64;
pub const MAX_FIELD_VALUE: usize = 4096;
/// A repo's own terms of use.
pub const MAX_TERMS: usize = 64 * 1024;
/// The longest grant a review may give.
pub const MAX_EXPIRES_DAYS: u32 = 5 * 366;

#[derive(Deserialize)]
pub struct RequestBody {
    purpose: String,
    #[serde(default)]
    fields: BTreeMap<String, String>,
}

async fn request_access(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<RequestBody>,
) -> Result<(StatusCode, Json<wire::RequestAnswer>), ApiError> {
    let (repo, f) = visible_repo(&state, &caller, &ns, &name).await?;
    require(&caller, &Action::RequestAccess(&f), &repo)?;
    let user = caller.require_user()?.to_string();
    let id = repo.repo_id.to_string();
    let purpose = body.purpose.trim();
    if purpose.is_empty() || purpose.len() > 4000 {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidPurpose,
            "state the purpose of your access in 1 to 4000 characters",
        )
        .next(format!(
            "weir access request {id} --purpose \"what you will do with the weights\""
        )));
    }
    // Bounded: only the fields the repo asks for, each short.
    if body.fields.len() > MAX_REQUEST_FIELDS {
        return Err(ApiError::bad_request(
            ErrorCode::TooManyFields,
            format!("at most {MAX_REQUEST_FIELDS} fields"),
        ));
    }
    for (k, v) in &body.fields {
        if k.len() > MAX_FIELD_NAME || v.len() > MAX_FIELD_VALUE {
            return Err(ApiError::bad_request(
                ErrorCode::FieldTooLong,
                format!(
                    "field names are at most {MAX_FIELD_NAME} bytes and values {MAX_FIELD_VALUE}"
                ),
            ));
        }
        if !repo.gating.required_fields.contains(k) {
            return Err(ApiError::bad_request(
                ErrorCode::UnknownField,
                format!("{id} does not ask for the field {k:?}"),
            )
            .next(format!(
                "send only the fields it asks for: {}",
                repo.gating.required_fields.join(", ")
            )));
        }
    }
    for field in &repo.gating.required_fields {
        if body.fields.get(field).is_none_or(|v| v.trim().is_empty()) {
            return Err(ApiError::bad_request(
                ErrorCode::MissingField,
                format!("{id} requires the field {field:?}"),
            )
            .next(format!("add --field {field}=VALUE")));
        }
    }
    let at = now();
    if repo.tier == Tier::T1 {
        // T1 is automatic: accepting the terms is the request.
        accept(&state, &caller, &headers, &repo, &user).await?;
        return Ok((
            StatusCode::OK,
            Json(wire::RequestAnswer::Terms(wire::TermsApproval {
                repo: id,
                user,
                state: "approved".into(),
                terms_accepted: true,
            })),
        ));
    }
    let existing = state.store.db.access_request(&repo, &user).await?;
    can_request(
        existing.as_ref().map(|r| r.state),
        existing.as_ref().and_then(|r| r.expires_at),
        existing.as_ref().and_then(|r| r.decided_at),
        at,
    )
    .map_err(|e| transition_error(e, &id))?;
    let auto = repo
        .gating
        .auto_approve_level
        .is_some_and(|l| caller.level() >= l)
        && !caller
            .country()
            .is_some_and(|c| repo.gating.blocked_countries.iter().any(|b| b == c));
    let req = AccessRequest {
        account: user.clone(),
        state: if auto {
            RequestState::Approved
        } else {
            RequestState::Pending
        },
        purpose: purpose.to_string(),
        fields: body.fields,
        requested_at: at,
        due_at: add_working_days(at, REVIEW_WORKING_DAYS),
        decided_by: auto.then(|| "auto".to_string()),
        decided_at: auto.then_some(at),
        reason: auto.then(|| "automatic approval rule".to_string()),
        expires_at: None,
    };
    let mut e = gate::event(
        &caller,
        &headers,
        "access.request",
        Some(&repo),
        "change",
        req.state.as_str(),
        json!({"auto": auto}),
    );
    e.subject = Some(user);
    state
        .store
        .db
        .put_access_request_logged(&repo, &req, &e)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(wire::RequestAnswer::Request(gate::request_json(
            &id, &req, at,
        ))),
    ))
}

fn transition_error(e: TransitionError, repo: &str) -> ApiError {
    match e {
        TransitionError::CoolDown { until } => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::CoolDown,
            format!("Your last request for {repo} was rejected."),
        )
        .next(format!("you may request again from {}", iso8601(until))),
        TransitionError::AlreadyPending => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::AlreadyPending,
            e.to_string(),
        )
        .next(format!("check with: weir access status {repo}")),
        TransitionError::AlreadyApproved => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::AlreadyApproved,
            e.to_string(),
        ),
        TransitionError::Invalid { .. } => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::InvalidTransition,
            e.to_string(),
        ),
    }
}

async fn my_requests(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Json<wire::AccessRequests>, ApiError> {
    let user = caller.require_user()?.to_string();
    let at = now();
    let filter = q.get("repo");
    let rows = state.store.db.requests_of_user(&user).await?;
    let requests = rows
        .iter()
        .filter(|(id, _)| filter.is_none_or(|f| *f == id.to_string()))
        .map(|(id, r)| gate::request_json(&id.to_string(), r, at))
        .collect();
    Ok(Json(wire::AccessRequests {
        repo: None,
        requests,
        user: Some(user),
    }))
}

async fn list_requests(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name)): Path<(String, String)>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Json<wire::AccessRequests>, ApiError> {
    let (repo, f) = visible_repo(&state, &caller, &ns, &name).await?;
    require(&caller, &Action::Review(&f), &repo)?;
    let filter = match q.get("state").map(String::as_str) {
        None | Some("") | Some("all") => None,
        Some(s) => Some(RequestState::parse(s).ok_or_else(|| {
            ApiError::bad_request(ErrorCode::InvalidState, format!("unknown state {s:?}"))
                .next("use pending, approved, rejected, revoked or reset")
        })?),
    };
    let at = now();
    let id = repo.repo_id.to_string();
    let rows = state.store.db.requests_for_repo(&repo, filter).await?;
    let requests = rows
        .iter()
        .map(|r| gate::request_json(&id, r, at))
        .collect();
    Ok(Json(wire::AccessRequests {
        repo: Some(id),
        requests,
        user: None,
    }))
}

#[derive(Deserialize)]
pub struct ReviewBody {
    action: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    expires_days: Option<u32>,
}

/// A reviewer's decision as received.
struct ReviewInput {
    action: ReviewAction,
    reason: Option<String>,
    expires_days: Option<u32>,
}

/// Applies a reviewer's decision. Shared by the native endpoint and the Hub's owner endpoints.
async fn apply_review(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    repo: &Repo,
    user: &str,
    input: ReviewInput,
) -> Result<wire::AccessRequest, ApiError> {
    let ReviewInput {
        action,
        reason,
        expires_days,
    } = input;
    let f = facts(repo);
    require(caller, &Action::Review(&f), repo)?;
    let id = repo.repo_id.to_string();
    if expires_days.is_some_and(|d| d > MAX_EXPIRES_DAYS) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidExpiry,
            format!("expires_days is at most {MAX_EXPIRES_DAYS} (five years)"),
        ));
    }
    let reason = reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if matches!(
        action,
        ReviewAction::Reject | ReviewAction::Revoke | ReviewAction::Reset
    ) && reason.is_none()
    {
        return Err(ApiError::bad_request(
            ErrorCode::ReasonRequired,
            "rejecting, revoking or resetting access needs a reason the user will see",
        )
        .next("pass --reason TEXT"));
    }
    if state.store.db.account(user).await?.is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::UserNotFound,
            format!("no user {user}"),
        ));
    }
    let at = now();
    let existing = state.store.db.access_request(repo, user).await?;
    let next_state =
        review(existing.as_ref().map(|r| r.state), action).map_err(|e| transition_error(e, &id))?;
    let mut req = existing.unwrap_or_else(|| AccessRequest {
        account: user.to_string(),
        state: RequestState::Pending,
        purpose: "granted by a reviewer".into(),
        fields: BTreeMap::new(),
        requested_at: at,
        due_at: add_working_days(at, REVIEW_WORKING_DAYS),
        decided_by: None,
        decided_at: None,
        reason: None,
        expires_at: None,
    });
    req.state = next_state;
    req.decided_by = caller.name().map(|n| n.to_string());
    req.decided_at = Some(at);
    req.reason = reason.clone();
    req.expires_at = match action {
        ReviewAction::Approve => expires_days.map(|d| at + i64::from(d) * 86_400),
        _ => req.expires_at,
    };
    let mut e = gate::event(
        caller,
        headers,
        "access.review",
        Some(repo),
        "change",
        next_state.as_str(),
        json!({"reason": reason, "expires_at": req.expires_at}),
    );
    e.subject = Some(user.to_string());
    state
        .store
        .db
        .put_access_request_logged(repo, &req, &e)
        .await?;
    Ok(gate::request_json(&id, &req, at))
}

fn review_action(s: &str) -> Result<ReviewAction, ApiError> {
    match s {
        "approve" | "accepted" | "accept" | "grant" => Ok(ReviewAction::Approve),
        "reject" | "rejected" => Ok(ReviewAction::Reject),
        "revoke" | "revoked" => Ok(ReviewAction::Revoke),
        "reset" | "pending" => Ok(ReviewAction::Reset),
        other => Err(ApiError::bad_request(
            ErrorCode::InvalidAction,
            format!("unknown review action {other:?}"),
        )
        .next("use approve, reject, revoke or reset")),
    }
}

async fn review_request(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((ns, name, user)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<ReviewBody>,
) -> Result<Json<wire::AccessRequest>, ApiError> {
    let (repo, _) = visible_repo(&state, &caller, &ns, &name).await?;
    let action = review_action(&body.action)?;
    Ok(Json(
        apply_review(
            &state,
            &caller,
            &headers,
            &repo,
            &user,
            ReviewInput {
                action,
                reason: body.reason,
                expires_days: body.expires_days,
            },
        )
        .await?,
    ))
}

#[derive(Deserialize)]
pub struct TierBody {
    tier: String,
    #[serde(default)]
    reason: Option<String>,
}

async fn set_tier(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<TierBody>,
) -> Result<Json<wire::TierChange>, ApiError> {
    let (repo, f) = visible_repo(&state, &caller, &ns, &name).await?;
    let to = Tier::parse(&body.tier).ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::InvalidTier,
            format!("unknown tier {:?}", body.tier),
        )
        .next("use T0, T1, T2, T3 or T4")
    })?;
    let reason = body
        .reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    let d = caller.authorize(&Action::SetTier {
        repo: &f,
        to,
        has_reason: reason.is_some(),
    });
    if !d.allow {
        let id = repo.repo_id.to_string();
        return Err(match d.reason {
            weir_authz::Reason::TierLowering => ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::TierLowering,
                format!(
                    "Lowering {id} from {} to {} needs an operator and a recorded reason.",
                    repo.tier.as_str(),
                    to.as_str()
                ),
            )
            .next(
                "an operator runs: weir tier set NS/NAME TIER --reason TEXT (with an admin token)",
            ),
            r => ApiError::denied(r, &id, caller.anonymous()),
        });
    }
    // An operator lowering with a reason corrects the record: the minimum counts what the card
    // declares now (a misdeclared compute, a base model named by mistake), and the card's
    // earlier declarations are forgotten once the tier is set.
    let correction = to < repo.tier && caller.authorize(&Action::Administer).allow;
    // The policy's minimum for the repo's main revision: no tier below it, whoever asks.
    if let Some(head) = state
        .store
        .db
        .resolve(
            &repo,
            &weir_core::Revision::parse("main").map_err(|_| ApiError::internal())?,
        )
        .await?
    {
        let c = if correction {
            weir_registry::classification::minimum_for_current_card(&state.store, &repo, &head)
                .await?
        } else {
            weir_registry::classification::minimum_for(&state.store, &repo, &head).await?
        };
        if to < c.minimum_tier {
            let mut at = repo.clone();
            at.tier = to;
            return Err(weir_registry::classification::below_minimum(&at, &head, "set", &c).into());
        }
    }
    let e = gate::event(
        &caller,
        &headers,
        "tier.set",
        Some(&repo),
        "change",
        to.as_str(),
        json!({"from": repo.tier.as_str(), "to": to.as_str(), "reason": reason, "declarations_reset": correction}),
    );
    state.store.db.set_tier_logged(&repo, to, &e).await?;
    if correction {
        state.store.db.reset_declarations(&repo).await?;
    }
    Ok(Json(wire::TierChange {
        repo: repo.repo_id.to_string(),
        tier: to.as_str().to_string(),
        previous: repo.tier.as_str().to_string(),
    }))
}

#[derive(Deserialize)]
pub struct GatingBody {
    min_level: Option<String>,
    auto_approve_level: Option<String>,
    blocked_countries: Option<Vec<String>>,
    required_fields: Option<Vec<String>>,
    terms: Option<String>,
}

fn parse_level(s: &str) -> Result<IdentityLevel, ApiError> {
    IdentityLevel::parse(s).ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::InvalidLevel,
            format!("unknown identity level {s:?}"),
        )
        .next("use anonymous, account, affiliated, identified or accredited")
    })
}

async fn set_gating(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<GatingBody>,
) -> Result<Json<wire::Gating>, ApiError> {
    let (repo, f) = visible_repo(&state, &caller, &ns, &name).await?;
    require(&caller, &Action::Review(&f), &repo)?;
    let mut g = repo.gating.clone();
    if let Some(l) = body.min_level.as_deref() {
        g.min_level = parse_level(l)?;
    }
    if let Some(l) = body.auto_approve_level.as_deref() {
        g.auto_approve_level = if l.is_empty() || l == "none" {
            None
        } else {
            Some(parse_level(l)?)
        };
    }
    if let Some(c) = &body.blocked_countries
        && c.len() > 300
    {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidCountry,
            "at most 300 blocked countries",
        ));
    }
    if let Some(c) = body.blocked_countries {
        g.blocked_countries = c
            .iter()
            .map(|c| {
                weir_core::identity::parse_country(c).ok_or_else(|| {
                    ApiError::bad_request(
                        ErrorCode::InvalidCountry,
                        format!("{c:?} is not an ISO 3166-1 alpha-2 code"),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
    }
    if let Some(fields) = body.required_fields {
        if fields.len() > MAX_REQUEST_FIELDS
            || fields
                .iter()
                .any(|f| f.len() > MAX_FIELD_NAME || f.chars().any(char::is_control))
        {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidRequiredFields,
                format!(
                    "at most {MAX_REQUEST_FIELDS} required fields, each at most {MAX_FIELD_NAME} bytes without control characters"
                ),
            ));
        }
        g.required_fields = fields
            .into_iter()
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .collect();
        g.required_fields.dedup();
    }
    if let Some(t) = body.terms {
        if t.len() > MAX_TERMS {
            return Err(ApiError::bad_request(
                ErrorCode::TermsTooLong,
                format!("the terms are {} bytes; at most {MAX_TERMS}", t.len()),
            )
            .next("link to the full licence from the model card"));
        }
        g.terms = t;
    }
    let e = gate::event(
        &caller,
        &headers,
        "gating.set",
        Some(&repo),
        "change",
        "updated",
        json!({"min_level": g.min_level.as_str()}),
    );
    state.store.db.set_gating_logged(&repo, &g, &e).await?;
    Ok(Json(wire::Gating {
        repo: Some(repo.repo_id.to_string()),
        min_level: Some(g.min_level.as_str().to_string()),
        auto_approve_level: g.auto_approve_level.map(|l| l.as_str().to_string()),
        blocked_countries: Some(g.blocked_countries.clone()),
        required_fields: Some(g.required_fields.clone()),
        terms: Some(g.terms.clone()),
    }))
}

async fn my_identity(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<wire::Identity>, ApiError> {
    let user = caller.require_user()?.to_string();
    let id = state.store.db.identity(&user, now()).await?;
    Ok(Json(wire::Identity {
        user,
        level: id.level.as_str().to_string(),
        country: id.country,
        source: id.source.to_string(),
        expires_at: id.expires_at.map(iso8601),
    }))
}

/// `POST /api/v1/identity/attestations`: a verifier's signed attestation, checked against the
/// verifier's registered key. Anyone may submit one (usually the user it is about).
async fn submit_attestation(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(a): JsonBody<weir_signing::SignedAttestation>,
) -> Result<(StatusCode, Json<wire::AttestationAccepted>), ApiError> {
    let bad = |code: ErrorCode, msg: String| ApiError::bad_request(code, msg);
    let claims =
        weir_signing::claims(&a).map_err(|e| bad(ErrorCode::InvalidAttestation, e.to_string()))?;
    let key = state.store.db.verifier_key(&claims.verifier).await?.ok_or_else(|| {
        ApiError::new(StatusCode::FORBIDDEN, ErrorCode::UnknownVerifier, format!("{} is not a registered, active verifier", claims.verifier))
            .next("ask the operator to register the verifier: weir admin verifier add NAME --key FILE")
    })?;
    let claims = weir_signing::verify(&a, &key).map_err(|e| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::BadSignature,
            e.to_string(),
        )
    })?;
    let at = now();
    if claims.expires_at <= at {
        return Err(bad(
            ErrorCode::AttestationExpired,
            format!("this attestation expired at {}", iso8601(claims.expires_at)),
        ));
    }
    if claims.level <= IdentityLevel::Account {
        return Err(bad(
            ErrorCode::InvalidAttestation,
            "an attestation must state affiliated, identified or accredited".into(),
        ));
    }
    let subject = weir_core::Name::parse(&claims.subject)
        .map_err(|e| bad(ErrorCode::InvalidAttestation, e.to_string()))?;
    if state.store.db.account(subject.as_str()).await?.is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::UserNotFound,
            format!("no user {subject}"),
        ));
    }
    let country = match claims.country.as_deref() {
        Some(c) => Some(weir_core::identity::parse_country(c).ok_or_else(|| {
            bad(
                ErrorCode::InvalidCountry,
                format!("{c:?} is not an ISO alpha-2 code"),
            )
        })?),
        None => None,
    };
    let id = weir_signing::id(&a);
    // The log keeps the digest and the level, never personal data.
    let mut e = gate::event(
        &caller,
        &headers,
        "identity.attest",
        None,
        "change",
        claims.level.as_str(),
        json!({"attestation": id, "verifier": claims.verifier}),
    );
    e.subject = Some(subject.to_string());
    let record = AttestationRecord {
        id: id.clone(),
        subject: subject.clone(),
        verifier: claims.verifier.clone(),
        level: claims.level,
        country,
        issued_at: claims.issued_at,
        expires_at: claims.expires_at,
    };
    state
        .store
        .db
        .record_attestation_logged(&record, &e)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(wire::AttestationAccepted {
            id,
            subject: subject.to_string(),
            level: claims.level.as_str().to_string(),
            expires_at: iso8601(claims.expires_at),
        }),
    ))
}

// --- the Hub's owner endpoints (huggingface_hub's list_*_access_requests, accept/reject/cancel, grant_access)

async fn hf_list(
    State(state): State<AppState>,
    caller: Caller,
    Path((ns, name, status)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (repo, f) = visible_repo(&state, &caller, &ns, &name).await?;
    require(&caller, &Action::Review(&f), &repo)?;
    let at = now();
    let want = match status.as_str() {
        "pending" => GrantState::Pending,
        "accepted" => GrantState::Approved,
        "rejected" => GrantState::Rejected,
        other => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidStatus,
                format!("unknown status {other:?}"),
            )
            .next("use pending, accepted or rejected"));
        }
    };
    let mut out = Vec::new();
    for r in state.store.db.requests_for_repo(&repo, None).await? {
        if GrantState::of(Some(r.state), r.expires_at, at) != want {
            continue;
        }
        let account = state.store.db.account(&r.account).await?;
        out.push(json!({
            "user": {"user": r.account, "fullname": account.as_ref().and_then(|a| a.fullname.clone()).unwrap_or_else(|| r.account.clone()),
                     "email": account.and_then(|a| a.email), "type": "user"},
            "requestId": r.account,
            "status": status,
            "timestamp": iso8601(r.requested_at),
            "fields": r.fields,
        }));
    }
    Ok(Json(Value::Array(out)))
}

#[derive(Deserialize)]
pub struct HfHandle {
    user: Option<String>,
    #[serde(rename = "requestId")]
    request_id: Option<String>,
    status: String,
    #[serde(rename = "rejectionReason")]
    rejection_reason: Option<String>,
}

async fn hf_handle(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<HfHandle>,
) -> Result<Json<wire::AccessRequest>, ApiError> {
    let (repo, _) = visible_repo(&state, &caller, &ns, &name).await?;
    let user = body
        .user
        .or(body.request_id)
        .ok_or_else(|| ApiError::bad_request(ErrorCode::MissingField, "pass 'user'"))?;
    let action = review_action(&body.status)?;
    let reason = body.rejection_reason.or_else(|| match action {
        ReviewAction::Approve => None,
        _ => Some(format!("set to {} by the publisher", body.status)),
    });
    Ok(Json(
        apply_review(
            &state,
            &caller,
            &headers,
            &repo,
            &user,
            ReviewInput {
                action,
                reason,
                expires_days: None,
            },
        )
        .await?,
    ))
}

#[derive(Deserialize)]
pub struct HfGrant {
    user: String,
}

async fn hf_grant(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<HfGrant>,
) -> Result<Json<wire::AccessRequest>, ApiError> {
    let (repo, _) = visible_repo(&state, &caller, &ns, &name).await?;
    Ok(Json(
        apply_review(
            &state,
            &caller,
            &headers,
            &repo,
            &body.user,
            ReviewInput {
                action: ReviewAction::Approve,
                reason: None,
                expires_days: None,
            },
        )
        .await?,
    ))
}
