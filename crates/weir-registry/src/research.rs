//! Research projects (issue 13, point 1): an application names a purpose, a team, the models
//! and revisions the project may use with an access level each, an optional public stand-in and
//! the compute it asks for; an operator who is not on the team approves (with an expiry and a
//! quota), rejects or later revokes it, with a reason. Every step asks `weir_authz` and commits
//! with its events: the project's own (public facts: its name and state) and one per model it
//! names (about that repo, so a private model's entry is sealed like every other event about
//! it).

use serde_json::json;
use weir_authz::{Action, Reason, Subject};
use weir_core::research::{AccessLevel, ProjectState};
use weir_core::{Name, RepoId, Tier};
use weir_store::research::{NewProject, Project, ProjectDecision};
use weir_store::{AccountKind, Store, StoreError};
use weir_wire::ErrorCode;

use crate::access::{facts, signed_in};
use crate::{Context, Kind, ServiceError};

/// The longest stated purpose, in bytes.
pub const MAX_PURPOSE: usize = 4000;
/// The longest decision reason, in bytes.
pub const MAX_REASON: usize = 2000;
/// At most this many accounts on a team.
pub const MAX_MEMBERS: usize = 50;
/// At most this many model revisions in one project.
pub const MAX_MODELS: usize = 20;
/// The compute a project gets when neither the application nor the operator says (10 CPU-hours).
pub const DEFAULT_QUOTA_CPU_SECONDS: i64 = 10 * 3600;
/// The most compute one project may hold (10,000 CPU-hours).
pub const MAX_QUOTA_CPU_SECONDS: i64 = 10_000 * 3600;
/// How long an approval lasts when the operator does not say.
pub const DEFAULT_EXPIRY_DAYS: i64 = 365;
/// The longest approval.
pub const MAX_EXPIRY_DAYS: i64 = 3 * 365;

fn refused(kind: Kind, code: ErrorCode, message: impl Into<String>) -> ServiceError {
    ServiceError::refused(kind, code, message)
}

/// The same answer for a project that does not exist and one whose details the caller may not
/// see where that is asked (there is no private project, but a typo deserves a clear answer).
fn not_found(name: &str) -> ServiceError {
    refused(
        Kind::NotFound,
        ErrorCode::ProjectNotFound,
        format!("no research project {name}"),
    )
    .next("list projects with 'weir project list'")
}

/// A model the caller may not see answers exactly as a missing one.
fn missing_repo(repo: &str, subject: &Subject) -> ServiceError {
    ServiceError::Denied {
        reason: Reason::NotVisible,
        repo: repo.to_string(),
        anonymous: subject.name().is_none(),
    }
}

/// A denial about a project, worded for projects.
pub fn project_denied(reason: Reason, project: &str) -> ServiceError {
    let (kind, code, message, next) = match reason {
        Reason::NotSignedIn => (
            Kind::Unauthenticated,
            ErrorCode::NotSignedIn,
            "This action needs a signed-in account.".to_string(),
            "pass a token (WEIR_TOKEN, --token or 'weir login')",
        ),
        Reason::TokenScope => (
            Kind::Forbidden,
            ErrorCode::TokenScope,
            "Your token's scope does not allow this action.".to_string(),
            "use a token with write scope",
        ),
        Reason::NotMember => (
            Kind::Forbidden,
            ErrorCode::NotMember,
            format!("You are not on the team of {project}, or not a member of its namespace."),
            "ask the project's applicant to include you, or apply under your own namespace",
        ),
        Reason::NotOperator => (
            Kind::Forbidden,
            ErrorCode::NotOperator,
            "Only operators (with an admin token) decide research projects.".to_string(),
            "ask an operator of the registry",
        ),
        Reason::OwnRequest => (
            Kind::Forbidden,
            ErrorCode::OwnRequest,
            format!(
                "You applied for or are on the team of {project}: another operator decides it."
            ),
            "ask an operator who is not on the team",
        ),
        Reason::TierCapsLevel => (
            Kind::Forbidden,
            ErrorCode::TierCapsLevel,
            "A sealed (T4) model allows black-box access (AL1) only.".to_string(),
            "ask for AL1 on sealed models",
        ),
        other => (
            Kind::Forbidden,
            ErrorCode::parse(other.code()).unwrap_or(ErrorCode::NotAllowed),
            format!("Denied on {project}: {}.", other.code()),
            "see 'weir project show' for the project's state",
        ),
    };
    refused(kind, code, message).next(next)
}

fn require_project(
    subject: &Subject,
    action: &Action<'_>,
    project: &str,
) -> Result<(), ServiceError> {
    let d = weir_authz::authorize(subject, action);
    if d.allow {
        Ok(())
    } else {
        Err(project_denied(d.reason, project))
    }
}

/// A model an application asks for.
#[derive(Debug, Clone)]
pub struct ModelAsk {
    /// `NS/NAME`.
    pub repo: String,
    /// A branch, tag or commit; resolved to a commit when the application is filed.
    pub revision: String,
    /// `AL1`, `AL2` or `AL3`.
    pub level: String,
}

/// An application for a research project.
#[derive(Debug, Clone)]
pub struct Application {
    /// `NS/NAME`: the namespace is the applicant's own or an org they belong to.
    pub project: String,
    pub purpose: String,
    /// The team besides the applicant, who is always on it.
    pub members: Vec<String>,
    pub models: Vec<ModelAsk>,
    /// A public, open (T0) repo of the same architecture to develop against.
    pub standin: Option<String>,
    pub quota_cpu_seconds: Option<i64>,
}

fn parse_project_name(s: &str) -> Result<(Name, Name), ServiceError> {
    let id = RepoId::parse(s).map_err(|e| {
        refused(
            Kind::Invalid,
            ErrorCode::InvalidName,
            format!("{s:?} is not a project name: {e}"),
        )
        .next("name it NAMESPACE/NAME, e.g. safetylab/bio-uplift-study")
    })?;
    Ok((id.namespace, id.name))
}

fn check_quota(q: i64) -> Result<i64, ServiceError> {
    if !(1..=MAX_QUOTA_CPU_SECONDS).contains(&q) {
        return Err(refused(
            Kind::Invalid,
            ErrorCode::InvalidQuota,
            format!("a project's quota is 1 to {MAX_QUOTA_CPU_SECONDS} CPU-seconds, not {q}"),
        ));
    }
    Ok(q)
}

/// Files an application. The applicant must be a member of the project's namespace (with a
/// write token), see every model named, and ask no more than each model's tier allows.
pub async fn apply(
    store: &Store,
    subject: &Subject,
    app: &Application,
    ctx: &Context,
    now: i64,
) -> Result<Project, ServiceError> {
    let me = signed_in(subject)?.clone();
    let (ns, name) = parse_project_name(&app.project)?;
    let full = format!("{ns}/{name}");
    require_project(subject, &Action::ApplyProject { namespace: &ns }, &full)?;
    let purpose = app.purpose.trim();
    if purpose.is_empty() || purpose.len() > MAX_PURPOSE {
        return Err(refused(
            Kind::Invalid,
            ErrorCode::InvalidPurpose,
            format!("state the project's purpose in 1 to {MAX_PURPOSE} bytes"),
        ));
    }
    let mut members = vec![me.to_string()];
    for m in &app.members {
        let n = Name::parse(m.trim()).map_err(|e| {
            refused(
                Kind::Invalid,
                ErrorCode::InvalidName,
                format!("member {m:?}: {e}"),
            )
        })?;
        if !members.contains(&n.to_string()) {
            members.push(n.to_string());
        }
    }
    if members.len() > MAX_MEMBERS {
        return Err(refused(
            Kind::Invalid,
            ErrorCode::TooManyMembers,
            format!("a team has at most {MAX_MEMBERS} accounts"),
        ));
    }
    for m in &members {
        match store.db.account(m).await? {
            Some(a) if a.kind == AccountKind::User => {}
            Some(_) => {
                return Err(refused(
                    Kind::Invalid,
                    ErrorCode::InvalidName,
                    format!("{m} is an organization; a team is made of people's accounts"),
                ));
            }
            None => {
                return Err(refused(
                    Kind::NotFound,
                    ErrorCode::UserNotFound,
                    format!("no account {m}"),
                ));
            }
        }
    }
    if app.models.is_empty() || app.models.len() > MAX_MODELS {
        return Err(refused(
            Kind::Invalid,
            ErrorCode::TooManyModels,
            format!("name 1 to {MAX_MODELS} models"),
        )
        .next("--model NS/NAME[@REV]:AL1"));
    }
    let mut models = Vec::new();
    let mut events_models = Vec::new();
    for ask in &app.models {
        let id = RepoId::parse(&ask.repo).map_err(|e| {
            refused(
                Kind::Invalid,
                ErrorCode::InvalidRepoId,
                format!("{:?}: {e}", ask.repo),
            )
        })?;
        let level = AccessLevel::parse(&ask.level).ok_or_else(|| {
            refused(
                Kind::Invalid,
                ErrorCode::InvalidLevel,
                format!("unknown access level {:?}", ask.level),
            )
            .next("use AL1 (black-box), AL2 (grey-box) or AL3 (white-box)")
        })?;
        let Some(repo) = store.db.repo(&id).await? else {
            return Err(missing_repo(&ask.repo, subject));
        };
        crate::access::require(
            subject,
            &Action::UseModelInProject {
                repo: &facts(&repo),
                level,
            },
            &repo,
        )?;
        let commit = crate::exports::resolve(store, &repo, &ask.revision).await?;
        if models
            .iter()
            .any(|(r, c, _): &(i64, weir_core::CommitId, AccessLevel)| {
                *r == repo.id && *c == commit
            })
        {
            continue;
        }
        models.push((repo.id, commit.clone(), level));
        events_models.push((repo, commit, level));
    }
    let standin = match app
        .standin
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(s) => {
            let id = RepoId::parse(s).map_err(|e| {
                refused(
                    Kind::Invalid,
                    ErrorCode::InvalidRepoId,
                    format!("{s:?}: {e}"),
                )
            })?;
            let Some(repo) = store.db.repo(&id).await? else {
                return Err(missing_repo(s, subject));
            };
            crate::access::require(subject, &Action::ReadMetadata(&facts(&repo)), &repo)?;
            if repo.private || repo.tier != Tier::T0 {
                return Err(refused(
                    Kind::Invalid,
                    ErrorCode::InvalidStandin,
                    format!(
                        "the stand-in {s} must be public and open (T0) so that everyone can develop against it"
                    ),
                ));
            }
            Some(repo)
        }
    };
    let quota = check_quota(app.quota_cpu_seconds.unwrap_or(DEFAULT_QUOTA_CPU_SECONDS))?;
    let new = NewProject {
        namespace: ns.as_str(),
        name: name.as_str(),
        purpose,
        applied_by: me.as_str(),
        members: &members,
        models: &models,
        standin_repo_id: standin.as_ref().map(|r| r.id),
        quota_cpu_seconds: quota,
        at: now,
    };
    let created = store
        .db
        .create_project_logged(&new, |id| {
            let mut evs = vec![ctx.event(
                now,
                "project.apply",
                None,
                ProjectState::Applied.as_str(),
                json!({
                    "project": id,
                    "members": members.len(),
                    "public": {"project": full, "state": "applied", "quota_cpu_seconds": quota},
                }),
            )];
            for (repo, commit, level) in &events_models {
                evs.push(ctx.event(
                    now,
                    "project.model",
                    Some(repo),
                    level.as_str(),
                    json!({
                        "project": id,
                        "public": {
                            "project": full,
                            "repo": repo.repo_id.to_string(),
                            "revision": commit.as_str(),
                            "level": level.as_str(),
                        },
                    }),
                ));
            }
            evs
        })
        .await
        .map_err(|e| match e {
            StoreError::Exists(_) => refused(
                Kind::Conflict,
                ErrorCode::AlreadyExists,
                format!("a project named {full} already exists"),
            )
            .next("pick another name"),
            other => other.into(),
        })?;
    Ok(created)
}

/// A project by name; anyone may read its public facts.
pub async fn find(store: &Store, project: &str) -> Result<Project, ServiceError> {
    let (ns, name) = parse_project_name(project).map_err(|_| not_found(project))?;
    store
        .db
        .project(ns.as_str(), name.as_str())
        .await?
        .ok_or_else(|| not_found(project))
}

/// Whether `subject` may see the team, the jobs and the outputs of `p`.
pub fn sees_details(subject: &Subject, p: &Project) -> bool {
    let member = subject.name().is_some_and(|n| p.is_member(n.as_str()));
    weir_authz::authorize(subject, &Action::ReadProject { member }).allow
}

/// `p` as `subject` may see it: the team only to its members and operators, and only the
/// models (and stand-in) the subject may see.
pub async fn redact(
    store: &Store,
    subject: &Subject,
    mut p: Project,
) -> Result<Project, ServiceError> {
    if !sees_details(subject, &p) {
        p.members.clear();
    }
    let mut kept = Vec::with_capacity(p.models.len());
    for m in p.models {
        if let Some(repo) = store.db.repo(&m.repo).await?
            && weir_authz::authorize(subject, &Action::ReadMetadata(&facts(&repo))).allow
        {
            kept.push(m);
        }
    }
    p.models = kept;
    Ok(p)
}

/// An operator's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approve,
    Reject,
    Revoke,
}

impl Verdict {
    pub fn parse(s: &str) -> Option<Verdict> {
        match s {
            "approve" => Some(Verdict::Approve),
            "reject" => Some(Verdict::Reject),
            "revoke" => Some(Verdict::Revoke),
            _ => None,
        }
    }

    fn state(self) -> ProjectState {
        match self {
            Verdict::Approve => ProjectState::Approved,
            Verdict::Reject => ProjectState::Rejected,
            Verdict::Revoke => ProjectState::Revoked,
        }
    }
}

/// What an operator decides, and on what terms.
#[derive(Debug, Clone)]
pub struct Review {
    pub verdict: Verdict,
    pub reason: String,
    /// Approval only: how long it lasts (default a year).
    pub expires_days: Option<i64>,
    /// Approval only: the compute quota (default what was asked).
    pub quota_cpu_seconds: Option<i64>,
}

/// Approves, rejects or revokes `project`: an operator not on the team, with a reason.
pub async fn decide(
    store: &Store,
    subject: &Subject,
    project: &str,
    review: &Review,
    ctx: &Context,
    now: i64,
) -> Result<Project, ServiceError> {
    let p = find(store, project).await?;
    let full = p.full_name();
    let applicant = Name::parse(&p.applied_by)
        .map_err(|_| ServiceError::from(StoreError::Corrupt("project applicant".into())))?;
    let member = subject.name().is_some_and(|n| p.is_member(n.as_str()));
    require_project(
        subject,
        &Action::DecideProject {
            applicant: &applicant,
            member,
        },
        &full,
    )?;
    let me = signed_in(subject)?.to_string();
    let reason = review.reason.trim();
    if reason.is_empty() || reason.len() > MAX_REASON {
        return Err(refused(
            Kind::Invalid,
            ErrorCode::MissingReason,
            format!("give the decision's reason in 1 to {MAX_REASON} bytes"),
        )
        .next("--reason TEXT"));
    }
    let to = review.verdict.state();
    if !p.state.may_become(to) {
        return Err(refused(
            Kind::Conflict,
            ErrorCode::InvalidTransition,
            format!(
                "{full} is {}; it cannot become {}",
                p.state.as_str(),
                to.as_str()
            ),
        )
        .next("an application is approved or rejected; an approved project is revoked"));
    }
    let (expires_at, quota) = if review.verdict == Verdict::Approve {
        let days = review.expires_days.unwrap_or(DEFAULT_EXPIRY_DAYS);
        if !(1..=MAX_EXPIRY_DAYS).contains(&days) {
            return Err(refused(
                Kind::Invalid,
                ErrorCode::InvalidExpiry,
                format!("an approval lasts 1 to {MAX_EXPIRY_DAYS} days, not {days}"),
            ));
        }
        let quota = check_quota(review.quota_cpu_seconds.unwrap_or(p.quota_cpu_seconds))?;
        (Some(now + days * 86_400), Some(quota))
    } else {
        (None, None)
    };
    let ev = ctx.event(
        now,
        "project.decide",
        None,
        to.as_str(),
        json!({
            "project": p.id,
            "reason": reason,
            "public": {
                "project": full,
                "state": to.as_str(),
                "expires_at": expires_at.or(p.expires_at),
                "quota_cpu_seconds": quota.unwrap_or(p.quota_cpu_seconds),
            },
        }),
    );
    let d = ProjectDecision {
        from: p.state,
        to,
        by: &me,
        reason,
        at: now,
        expires_at,
        quota_cpu_seconds: quota,
    };
    store
        .db
        .decide_project_logged(p.id, &d, &ev)
        .await
        .map_err(|e| match e {
            StoreError::StateChanged { .. } => refused(
                Kind::Conflict,
                ErrorCode::StateChanged,
                format!("{full} changed meanwhile; read it again"),
            ),
            other => other.into(),
        })
}

/// Projects, newest first, as `subject` may see them: `mine` keeps those the subject is on.
pub async fn list(
    store: &Store,
    subject: &Subject,
    state: Option<&str>,
    mine: bool,
    limit: i64,
) -> Result<Vec<Project>, ServiceError> {
    let state = match state {
        None | Some("") => None,
        Some(s) => Some(ProjectState::parse(s).ok_or_else(|| {
            refused(
                Kind::Invalid,
                ErrorCode::InvalidState,
                format!("unknown project state {s:?}"),
            )
            .next("use applied, approved, rejected or revoked")
        })?),
    };
    let me = subject.name().map(|n| n.to_string());
    let limit = limit.clamp(1, 500);
    // One's own projects are read as such (not picked out of the newest of everyone's).
    let found = match (mine, me.as_deref()) {
        (true, Some(n)) => store
            .db
            .projects_of_member(n, limit)
            .await?
            .into_iter()
            .filter(|p| state.is_none_or(|s| p.state == s))
            .collect(),
        (true, None) => vec![],
        (false, _) => store.db.list_projects(state, limit).await?,
    };
    let mut out = Vec::new();
    for p in found {
        out.push(redact(store, subject, p).await?);
    }
    Ok(out)
}
