//! Access to gated repos as the registry changes it: accepting terms (T1), filing an access
//! request (T2), a reviewer's decision, a repo's tier and its gating settings. Each service asks
//! `weir_authz` itself with the subject's facts of this moment (a handler's earlier check does
//! not stand in for it) and commits the change with its event in one transaction.

use std::collections::BTreeMap;

use serde_json::json;
use weir_authz::{Action, RepoFacts, Subject};
use weir_core::access::{
    REVIEW_WORKING_DAYS, ReviewAction, TransitionError, add_working_days, can_request,
};
use weir_core::{IdentityLevel, Name, RequestState, Tier};
use weir_store::{AccessRequest, Gating, Repo, Store};
use weir_wire::ErrorCode;

use crate::{Context, Kind, ServiceError};

/// Fields of an access request (a repo's `required_fields`): how many, how long.
pub const MAX_REQUEST_FIELDS: usize = 32;
pub const MAX_FIELD_NAME: usize = 64;
pub const MAX_FIELD_VALUE: usize = 4096;
/// The longest stated purpose.
pub const MAX_PURPOSE: usize = 4000;
/// The longest grant a review may give.
pub const MAX_EXPIRES_DAYS: u32 = 5 * 366;
/// A repo's own terms of use.
pub const MAX_TERMS: usize = 64 * 1024;
/// Blocked countries per repo.
pub const MAX_BLOCKED_COUNTRIES: usize = 300;

/// The facts `weir_authz` needs about a repo (no hold: the byte routes add the revision's).
pub fn facts(repo: &Repo) -> RepoFacts {
    RepoFacts {
        namespace: repo.repo_id.namespace.clone(),
        private: repo.private,
        tier: repo.tier,
        min_level: repo.gating.min_level,
        blocked_countries: repo.gating.blocked_countries.clone(),
        held: false,
    }
}

/// Asks `weir_authz`; a denial becomes [`ServiceError::Denied`] about `repo`.
pub fn require(subject: &Subject, action: &Action<'_>, repo: &Repo) -> Result<(), ServiceError> {
    let d = weir_authz::authorize(subject, action);
    if d.allow {
        Ok(())
    } else {
        Err(ServiceError::denied(d.reason, repo, subject))
    }
}

/// The subject's account name, or a refusal saying to sign in.
pub fn signed_in(subject: &Subject) -> Result<&Name, ServiceError> {
    subject.name().ok_or_else(|| {
        ServiceError::refused(
            Kind::Unauthenticated,
            ErrorCode::NotSignedIn,
            "This action needs a signed-in account.",
        )
        .next("pass a token (WEIR_TOKEN, --token or 'weir login')")
    })
}

fn invalid(code: ErrorCode, message: impl Into<String>) -> ServiceError {
    ServiceError::refused(Kind::Invalid, code, message)
}

/// A request state machine refusal, with what to do next.
pub fn transition_refusal(e: TransitionError, repo: &str) -> ServiceError {
    let conflict = |code, message: String| ServiceError::refused(Kind::Conflict, code, message);
    match e {
        TransitionError::CoolDown { until } => conflict(
            ErrorCode::CoolDown,
            format!("Your last request for {repo} was rejected."),
        )
        .next(format!(
            "you may request again from {}",
            crate::clock::iso8601(until)
        )),
        TransitionError::AlreadyPending => conflict(ErrorCode::AlreadyPending, e.to_string())
            .next(format!("check with: weir access status {repo}")),
        TransitionError::AlreadyApproved => conflict(ErrorCode::AlreadyApproved, e.to_string()),
        TransitionError::Invalid { .. } => conflict(ErrorCode::InvalidTransition, e.to_string()),
    }
}

/// Whether `subject`, as they are now, could download `repo` if their request were approved
/// (asked of `weir_authz` with an approved grant): `Err` names what stands in the way.
pub fn servable(repo: &Repo, subject: &Subject) -> Result<(), weir_authz::Reason> {
    let standing = weir_authz::AccessStanding {
        terms_accepted: true,
        grant: weir_core::GrantState::Approved,
    };
    let d = weir_authz::authorize(subject, &Action::Download(&facts(repo), standing));
    if d.allow { Ok(()) } else { Err(d.reason) }
}

/// A requester as a reviewer sees them now: level, country, and whether an approval would let
/// them download.
pub async fn requester(
    store: &Store,
    repo: &Repo,
    account: &str,
    now: i64,
) -> Result<weir_wire::access::Requester, ServiceError> {
    let name = Name::parse(account)
        .map_err(|e| weir_store::StoreError::Corrupt(format!("request by {account:?}: {e}")))?;
    let (subject, _) = subject_of(store, &name, weir_core::Scope::Read, now).await?;
    let blocked = servable(repo, &subject).err();
    Ok(weir_wire::access::Requester {
        level: subject.level().as_str().to_string(),
        country: subject.country().map(str::to_string),
        servable: blocked.is_none(),
        blocked_by: blocked.map(|r| r.code().to_string()),
    })
}

/// What a user files to ask for access.
#[derive(Debug, Clone, Default)]
pub struct Filing {
    pub purpose: String,
    pub fields: BTreeMap<String, String>,
}

/// What filing did: on T1 accepting the terms is the access; on T2 a request (perhaps
/// approved at once by the repo's automatic rule).
#[derive(Debug, Clone)]
pub enum Filed {
    TermsAccepted { user: String },
    Request(AccessRequest),
}

fn check_filing(repo: &Repo, filing: &Filing) -> Result<(), ServiceError> {
    let id = repo.repo_id.to_string();
    let purpose = filing.purpose.trim();
    if purpose.is_empty() || purpose.len() > MAX_PURPOSE {
        return Err(invalid(
            ErrorCode::InvalidPurpose,
            format!("state the purpose of your access in 1 to {MAX_PURPOSE} characters"),
        )
        .next(format!(
            "weir access request {id} --purpose \"what you will do with the weights\""
        )));
    }
    // Bounded: only the fields the repo asks for, each short.
    if filing.fields.len() > MAX_REQUEST_FIELDS {
        return Err(invalid(
            ErrorCode::TooManyFields,
            format!("at most {MAX_REQUEST_FIELDS} fields"),
        ));
    }
    for (k, v) in &filing.fields {
        if k.len() > MAX_FIELD_NAME || v.len() > MAX_FIELD_VALUE {
            return Err(invalid(
                ErrorCode::FieldTooLong,
                format!(
                    "field names are at most {MAX_FIELD_NAME} bytes and values {MAX_FIELD_VALUE}"
                ),
            ));
        }
        if !repo.gating.required_fields.contains(k) {
            return Err(invalid(
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
        if filing.fields.get(field).is_none_or(|v| v.trim().is_empty()) {
            return Err(invalid(
                ErrorCode::MissingField,
                format!("{id} requires the field {field:?}"),
            )
            .next(format!("add --field {field}=VALUE")));
        }
    }
    Ok(())
}

/// Files `subject`'s request for access to `repo` (which the caller has already found visible).
pub async fn request(
    store: &Store,
    repo: &Repo,
    subject: &Subject,
    filing: Filing,
    ctx: &Context,
    now: i64,
) -> Result<Filed, ServiceError> {
    require(subject, &Action::RequestAccess(&facts(repo)), repo)?;
    let user = signed_in(subject)?.to_string();
    check_filing(repo, &filing)?;
    // A request that could never be served (a level too low, a blocked country) is refused at
    // filing, with the way forward, rather than left for a reviewer to approve in vain.
    if repo.tier == Tier::T2 {
        let id = repo.repo_id.to_string();
        match servable(repo, subject) {
            Err(weir_authz::Reason::IdentityLevel) => {
                return Err(ServiceError::refused(
                    Kind::Forbidden,
                    ErrorCode::IdentityLevel,
                    format!(
                        "{id} is served to identity level '{}' and above; yours is '{}', so an approved request could not be served",
                        repo.gating.min_level.as_str(),
                        subject.level().as_str()
                    ),
                )
                .next("obtain an attestation from an accredited verifier and submit it (weir identity submit FILE), then request"));
            }
            Err(weir_authz::Reason::Region) => {
                return Err(ServiceError::refused(
                    Kind::Forbidden,
                    ErrorCode::Region,
                    format!("{id} is not available in your region, so an approved request could not be served"),
                )
                .next("contact the publisher if you believe this is wrong"));
            }
            _ => {}
        }
    }
    if repo.tier == Tier::T1 {
        accept_terms_as(store, repo, &user, ctx, now).await?;
        return Ok(Filed::TermsAccepted { user });
    }
    let existing = store.db.access_request(repo, &user).await?;
    can_request(
        existing.as_ref().map(|r| r.state),
        existing.as_ref().and_then(|r| r.expires_at),
        existing.as_ref().and_then(|r| r.decided_at),
        now,
    )
    .map_err(|e| transition_refusal(e, &repo.repo_id.to_string()))?;
    let auto = repo
        .gating
        .auto_approve_level
        .is_some_and(|l| subject.level() >= l)
        && !subject
            .country()
            .is_some_and(|c| repo.gating.blocked_countries.iter().any(|b| b == c));
    let req = AccessRequest {
        account: user.clone(),
        state: if auto {
            RequestState::Approved
        } else {
            RequestState::Pending
        },
        purpose: filing.purpose.trim().to_string(),
        fields: filing.fields,
        requested_at: now,
        due_at: add_working_days(now, REVIEW_WORKING_DAYS),
        decided_by: auto.then(|| "auto".to_string()),
        decided_at: auto.then_some(now),
        reason: auto.then(|| "automatic approval rule".to_string()),
        expires_at: None,
    };
    let mut e = ctx.event(
        now,
        "access.request",
        Some(repo),
        req.state.as_str(),
        json!({"auto": auto}),
    );
    e.subject = Some(user);
    store.db.put_access_request_logged(repo, &req, &e).await?;
    if auto {
        crate::mail::request_decided(store, repo, &req, now).await;
    } else {
        crate::mail::request_filed(store, repo, &req, now).await;
    }
    Ok(Filed::Request(req))
}

/// Records `subject`'s acceptance of `repo`'s terms.
pub async fn accept_terms(
    store: &Store,
    repo: &Repo,
    subject: &Subject,
    ctx: &Context,
    now: i64,
) -> Result<(), ServiceError> {
    require(subject, &Action::RequestAccess(&facts(repo)), repo)?;
    let user = signed_in(subject)?.to_string();
    accept_terms_as(store, repo, &user, ctx, now).await
}

async fn accept_terms_as(
    store: &Store,
    repo: &Repo,
    user: &str,
    ctx: &Context,
    now: i64,
) -> Result<(), ServiceError> {
    let e = ctx.event(now, "access.terms", Some(repo), "terms_accepted", json!({}));
    store.db.accept_terms_logged(repo, user, &e).await?;
    Ok(())
}

/// A reviewer's decision on one user's access.
#[derive(Debug, Clone)]
pub struct Decision {
    pub action: ReviewAction,
    pub reason: Option<String>,
    pub expires_days: Option<u32>,
}

/// Applies a reviewer's decision on `user`'s access to `repo` (the native route and the Hub's
/// owner endpoints both come here).
pub async fn review(
    store: &Store,
    repo: &Repo,
    reviewer: &Subject,
    user: &str,
    decision: Decision,
    ctx: &Context,
    now: i64,
) -> Result<AccessRequest, ServiceError> {
    let Decision {
        action,
        reason,
        expires_days,
    } = decision;
    require(reviewer, &Action::Review(&facts(repo)), repo)?;
    let id = repo.repo_id.to_string();
    if expires_days.is_some_and(|d| d > MAX_EXPIRES_DAYS) {
        return Err(invalid(
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
        return Err(invalid(
            ErrorCode::ReasonRequired,
            "rejecting, revoking or resetting access needs a reason the user will see",
        )
        .next("pass --reason TEXT"));
    }
    if store.db.account(user).await?.is_none() {
        return Err(ServiceError::refused(
            Kind::NotFound,
            ErrorCode::UserNotFound,
            format!("no user {user}"),
        ));
    }
    let existing = store.db.access_request(repo, user).await?;
    let next_state = weir_core::access::review(existing.as_ref().map(|r| r.state), action)
        .map_err(|e| transition_refusal(e, &id))?;
    let mut req = existing.unwrap_or_else(|| AccessRequest {
        account: user.to_string(),
        state: RequestState::Pending,
        purpose: "granted by a reviewer".into(),
        fields: BTreeMap::new(),
        requested_at: now,
        due_at: add_working_days(now, REVIEW_WORKING_DAYS),
        decided_by: None,
        decided_at: None,
        reason: None,
        expires_at: None,
    });
    req.state = next_state;
    req.decided_by = reviewer.name().map(|n| n.to_string());
    req.decided_at = Some(now);
    req.reason = reason.clone();
    match action {
        ReviewAction::Approve => req.expires_at = expires_days.map(|d| now + i64::from(d) * 86_400),
        // Back in the pending list: a reviewer's decision is due again.
        ReviewAction::Return => {
            req.due_at = add_working_days(now, REVIEW_WORKING_DAYS);
            req.expires_at = None;
        }
        _ => {}
    }
    let mut e = ctx.event(
        now,
        "access.review",
        Some(repo),
        next_state.as_str(),
        json!({"reason": reason, "expires_at": req.expires_at}),
    );
    e.subject = Some(user.to_string());
    store.db.put_access_request_logged(repo, &req, &e).await?;
    crate::mail::request_decided(store, repo, &req, now).await;
    Ok(req)
}

/// Sets `repo`'s tier: never below the policy's minimum for its main revision, whoever asks;
/// lowering needs an operator and a reason. An operator lowering with a reason corrects the
/// record: the minimum counts what the card declares now, and the card's earlier declarations
/// are forgotten with the change (one transaction). Returns the previous tier.
/// Where a board governs the registry, lowering a tier below the publisher's choice is the
/// board's decision (`weir board propose tier-lower`), refused here as `board_required`.
pub async fn set_tier(
    store: &Store,
    repo: &Repo,
    subject: &Subject,
    to: Tier,
    reason: Option<String>,
    ctx: &Context,
    now: i64,
) -> Result<Tier, ServiceError> {
    if to < repo.tier && crate::board::governed(store).await? {
        return Err(crate::board::board_required("lowering a tier"));
    }
    set_tier_decided(store, repo, subject, to, reason, ctx, now).await
}

/// [`set_tier`] once the board has decided (or where no board governs).
pub async fn set_tier_decided(
    store: &Store,
    repo: &Repo,
    subject: &Subject,
    to: Tier,
    reason: Option<String>,
    ctx: &Context,
    now: i64,
) -> Result<Tier, ServiceError> {
    let reason = reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    let f = facts(repo);
    let d = weir_authz::authorize(
        subject,
        &Action::SetTier {
            repo: &f,
            to,
            has_reason: reason.is_some(),
        },
    );
    if !d.allow {
        return Err(match d.reason {
            weir_authz::Reason::TierLowering => ServiceError::refused(
                Kind::Forbidden,
                ErrorCode::TierLowering,
                format!(
                    "Lowering {} from {} to {} needs an operator and a recorded reason.",
                    repo.repo_id,
                    repo.tier.as_str(),
                    to.as_str()
                ),
            )
            .next(
                "an operator runs: weir tier set NS/NAME TIER --reason TEXT (with an admin token)",
            ),
            r => ServiceError::denied(r, repo, subject),
        });
    }
    let correction = to < repo.tier && weir_authz::authorize(subject, &Action::Administer).allow;
    let main = weir_core::Revision::parse("main")
        .map_err(|e| weir_store::StoreError::Corrupt(e.to_string()))?;
    if let Some(head) = store.db.resolve(repo, &main).await? {
        let c = if correction {
            crate::classification::minimum_for_current_card(store, repo, &head).await?
        } else {
            crate::classification::minimum_for(store, repo, &head).await?
        };
        if to < c.minimum_tier {
            let mut at = repo.clone();
            at.tier = to;
            return Err(crate::classification::below_minimum(&at, &head, "set", &c));
        }
    }
    let e = ctx.event(
        now,
        "tier.set",
        Some(repo),
        to.as_str(),
        json!({"from": repo.tier.as_str(), "to": to.as_str(), "reason": reason, "declarations_reset": correction}),
    );
    store.db.set_tier_logged(repo, to, correction, &e).await?;
    // Derivatives (declared on their cards, or copies) inherit a raise.
    if to > repo.tier {
        for d in store.db.derivatives_of_any_name(&repo.repo_id).await? {
            crate::classification::reclassify(
                store,
                &d,
                ctx.actor.as_deref(),
                crate::classification::Lowering::Never,
                now,
            )
            .await?;
        }
    }
    Ok(repo.tier)
}

/// Makes `repo` private or public (its namespace's owners and operators). Entries already on
/// the transparency log stay as they were written: a repo made public keeps its sealed entries
/// sealed, and one made private seals only what comes after.
pub async fn set_visibility(
    store: &Store,
    repo: &Repo,
    subject: &Subject,
    private: bool,
    ctx: &Context,
    now: i64,
) -> Result<(), ServiceError> {
    require(subject, &Action::Review(&facts(repo)), repo)?;
    if repo.private == private {
        return Ok(());
    }
    let visibility = if private { "private" } else { "public" };
    let e = ctx.event(
        now,
        "repo.visibility",
        Some(repo),
        visibility,
        json!({"private": private}),
    );
    store.db.set_private_logged(repo, private, &e).await?;
    Ok(())
}

/// A change to a repo's gating settings: each `Some` replaces that setting.
#[derive(Debug, Clone, Default)]
pub struct GatingChange {
    pub min_level: Option<String>,
    /// `""` or `"none"` turns automatic approval off.
    pub auto_approve_level: Option<String>,
    pub blocked_countries: Option<Vec<String>>,
    pub required_fields: Option<Vec<String>>,
    pub terms: Option<String>,
    /// The identity level research-project members need (at least `identified`).
    pub research_level: Option<String>,
}

pub fn parse_level(s: &str) -> Result<IdentityLevel, ServiceError> {
    IdentityLevel::parse(s).ok_or_else(|| {
        invalid(
            ErrorCode::InvalidLevel,
            format!("unknown identity level {s:?}"),
        )
        .next("use anonymous, account, affiliated, identified or accredited")
    })
}

/// Changes `repo`'s gating settings (its reviewers and operators). Returns the settings now.
pub async fn set_gating(
    store: &Store,
    repo: &Repo,
    subject: &Subject,
    change: GatingChange,
    ctx: &Context,
    now: i64,
) -> Result<Gating, ServiceError> {
    require(subject, &Action::Review(&facts(repo)), repo)?;
    let mut g = repo.gating.clone();
    if let Some(l) = change.min_level.as_deref() {
        g.min_level = parse_level(l)?;
    }
    if let Some(l) = change.auto_approve_level.as_deref() {
        g.auto_approve_level = if l.is_empty() || l == "none" {
            None
        } else {
            Some(parse_level(l)?)
        };
    }
    if let Some(c) = change.blocked_countries {
        if c.len() > MAX_BLOCKED_COUNTRIES {
            return Err(invalid(
                ErrorCode::InvalidCountry,
                format!("at most {MAX_BLOCKED_COUNTRIES} blocked countries"),
            ));
        }
        g.blocked_countries = c
            .iter()
            .map(|c| {
                weir_core::identity::parse_country(c).ok_or_else(|| {
                    invalid(
                        ErrorCode::InvalidCountry,
                        format!("{c:?} is not an ISO 3166-1 alpha-2 code"),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
    }
    if let Some(fields) = change.required_fields {
        if fields.len() > MAX_REQUEST_FIELDS
            || fields
                .iter()
                .any(|f| f.len() > MAX_FIELD_NAME || f.chars().any(char::is_control))
        {
            return Err(invalid(
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
    if let Some(t) = change.terms {
        if t.len() > MAX_TERMS {
            return Err(invalid(
                ErrorCode::TermsTooLong,
                format!("the terms are {} bytes; at most {MAX_TERMS}", t.len()),
            )
            .next("link to the full licence from the model card"));
        }
        g.terms = t;
    }
    if let Some(l) = change.research_level.as_deref() {
        let l = parse_level(l)?;
        if l < IdentityLevel::Identified {
            return Err(invalid(
                ErrorCode::InvalidLevel,
                format!(
                    "research-project members must be at least identified, not {}",
                    l.as_str()
                ),
            )
            .next("use identified or accredited"));
        }
        g.research_level = l;
    }
    let e = ctx.event(
        now,
        "gating.set",
        Some(repo),
        "updated",
        json!({"min_level": g.min_level.as_str(), "research_level": g.research_level.as_str()}),
    );
    store.db.set_gating_logged(repo, &g, &e).await?;
    Ok(g)
}

/// The authorization facts of an account as they are now: its orgs and roles, its effective
/// identity level and country (expired or revoked attestations already discounted). Used for
/// the caller of a request, and for the other party of a multi-step flow (the requester of an
/// export) when a later step re-asks `weir_authz` with the facts of that moment.
pub async fn subject_of(
    store: &Store,
    account: &Name,
    scope: weir_core::Scope,
    now: i64,
) -> Result<(Subject, Vec<(Name, String)>), weir_store::StoreError> {
    let orgs = store.db.orgs_of(account.as_str()).await?;
    let identity = store.db.identity(account.as_str(), now).await?;
    let subject = Subject::User(weir_authz::UserFacts {
        name: account.clone(),
        orgs: orgs.iter().map(|(o, _)| o.clone()).collect(),
        owner_of: orgs
            .iter()
            .filter(|(_, r)| r == "owner")
            .map(|(o, _)| o.clone())
            .collect(),
        scope,
        level: identity.level,
        country: identity.country,
    });
    Ok((subject, orgs))
}
