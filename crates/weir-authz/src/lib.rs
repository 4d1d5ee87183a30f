//! The one authorization decision. Every handler that touches a repo, its bytes, an access
//! request, a tier or an operator task asks [`authorize`]; nothing else decides access.
//!
//! Invariants: deny by default (an action is allowed only by an explicit rule below), every
//! decision carries a machine-readable [`Reason`], and the function is pure: the caller gathers
//! the facts (who, which repo, which grant, which time-derived states) and this module decides.
//!
//! Why hand-written rather than Cedar: the rules are a dozen lines of ordered checks over typed
//! facts; the whole input space (identity level × tier × action × grant state × membership ×
//! scope) is small enough to enumerate, and `tests/matrix.rs` does, snapshotting every cell.
//! A Cedar policy set would need the same facts, a schema and an entity store for the same
//! answers, and a second language to review.

use serde::Serialize;
use weir_core::grants::Budget;
use weir_core::research::{AccessLevel, JobKind, LevelRefusal, ProjectStanding};
use weir_core::{GrantState, IdentityLevel, Name, Scope, Tier};

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Anonymous,
    User(UserFacts),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFacts {
    pub name: Name,
    /// Orgs the user belongs to, and those among them where the user is an owner.
    pub orgs: Vec<Name>,
    pub owner_of: Vec<Name>,
    pub scope: Scope,
    /// The effective identity level now (expired or revoked attestations already discounted).
    pub level: IdentityLevel,
    /// Country from the user's attestation, if any.
    pub country: Option<String>,
}

impl Subject {
    fn user(&self) -> Option<&UserFacts> {
        match self {
            Subject::Anonymous => None,
            Subject::User(u) => Some(u),
        }
    }

    fn is_member_of(&self, ns: &Name) -> bool {
        self.user()
            .is_some_and(|u| &u.name == ns || u.orgs.contains(ns))
    }

    fn is_owner_of(&self, ns: &Name) -> bool {
        self.user()
            .is_some_and(|u| &u.name == ns || u.owner_of.contains(ns))
    }

    fn scope(&self) -> Option<Scope> {
        self.user().map(|u| u.scope)
    }

    fn operator(&self) -> bool {
        self.scope() == Some(Scope::Admin)
    }

    /// The account's name; `None` for an anonymous caller.
    pub fn name(&self) -> Option<&Name> {
        self.user().map(|u| &u.name)
    }

    /// The country of the user's attestation, if any.
    pub fn country(&self) -> Option<&str> {
        self.user().and_then(|u| u.country.as_deref())
    }

    pub fn level(&self) -> IdentityLevel {
        self.user()
            .map(|u| u.level)
            .unwrap_or(IdentityLevel::Anonymous)
    }
}

/// The facts about a repo that decisions depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoFacts {
    pub namespace: Name,
    pub private: bool,
    pub tier: Tier,
    /// Minimum identity level for T2 downloads (default `identified`).
    pub min_level: IdentityLevel,
    /// Countries (ISO alpha-2) whose users may not download (HTTP 451).
    pub blocked_countries: Vec<String>,
    /// The revision asked for is under an incident delivery hold.
    pub held: bool,
}

/// The caller's standing on one gated repo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessStanding {
    pub terms_accepted: bool,
    pub grant: GrantState,
}

impl AccessStanding {
    pub const NONE: AccessStanding = AccessStanding {
        terms_accepted: false,
        grant: GrantState::None,
    };
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action<'a> {
    /// Model info, tree, refs, card: readable by anyone who can see the repo, as on the Hub.
    ReadMetadata(&'a RepoFacts),
    /// The model card's text rendered on the model page: as on the Hub, public wherever the repo
    /// is and its tier is at most T2; never for a restricted or sealed model, or a revision
    /// under an incident hold (their cards are content, and stay behind their tier).
    ReadCard(&'a RepoFacts),
    /// File bytes (`/resolve`, native pull).
    Download(&'a RepoFacts, AccessStanding),
    /// Commits, uploads, branches and tags.
    Write(&'a RepoFacts),
    /// Create a repo under a namespace.
    CreateRepo { namespace: &'a Name },
    /// Ask for access to a gated repo (T1 terms, T2 request).
    RequestAccess(&'a RepoFacts),
    /// Decide access requests and see who asked: the namespace's owners and operators.
    Review(&'a RepoFacts),
    /// Change a repo's tier. Raising is the owner's right; lowering needs an operator and a reason.
    SetTier {
        repo: &'a RepoFacts,
        to: Tier,
        has_reason: bool,
    },
    /// Ask for a custodial copy of T3 weights for an accredited organization.
    RequestExport(&'a RepoFacts),
    /// Approve a custodial export: operators only, never the requester, never twice.
    ApproveExport {
        repo: &'a RepoFacts,
        requester: &'a Name,
        already_approved: bool,
    },
    /// Receive the custodial copy of an approved export (issue the link, download it), asked
    /// with the facts of that moment: the requester's current level and org membership, the
    /// repo's current tier and holds. T4 never leaves.
    ReceiveExport { repo: &'a RepoFacts, org: &'a Name },
    /// Contribute to a model's assessment: import an evaluation log, file evidence that a hazard
    /// domain cannot be ruled out. Anyone signed in who can see the repo; what it changes is
    /// only ever stricter (ambiguity escalates) or inert until signed.
    Contribute(&'a RepoFacts),
    /// Confirm or dismiss hazard evidence: operators only, never on evidence they filed
    /// themselves. The publisher (the namespace's owners) does not judge evidence about its own
    /// model.
    ReviewEvidence {
        repo: &'a RepoFacts,
        filed_by: &'a str,
    },
    /// Report an incident about a repo: anyone who can see it, signed in or not.
    ReportIncident(&'a RepoFacts),
    /// Handle incidents about a repo (triage, confirm, reject, mitigate, disclose, updates):
    /// operators, and the owners of the publishing namespace; never an operator who reported it
    /// (they act on it as its reporter), since confirming it can pay them a bounty.
    HandleIncident {
        repo: &'a RepoFacts,
        reporter: Option<&'a str>,
    },
    /// Sign off a release of a publisher on probation: operators only.
    SignOffRelease(&'a RepoFacts),
    /// Record that a regulatory notification about a repo was made (the compute presumption's
    /// notice): the namespace's owners and operators.
    RecordNotification(&'a RepoFacts),
    /// Apply for a research project under a namespace: a member of it, with a write token.
    ApplyProject { namespace: &'a Name },
    /// Name a model in a project application at an access level: the applicant sees the
    /// model, and its tier allows the level (T4: black-box only).
    UseModelInProject {
        repo: &'a RepoFacts,
        level: AccessLevel,
    },
    /// Approve, reject or revoke a research project: operators only, never on an application
    /// they made or a project they are on.
    DecideProject { applicant: &'a Name, member: bool },
    /// See a project's team, jobs and outputs: its members and operators.
    ReadProject { member: bool },
    /// Run a job on a model under a project, asked when the job is submitted and again when it
    /// starts, with the facts of that moment.
    RunJob(&'a JobFacts<'a>),
    /// Check a job's held outputs (see them and vote on them): operators, and designated
    /// output checkers (`checker`: the account's designation stands now) with a write token;
    /// never the job's author or anyone on its project's team.
    ReviewOutputs {
        author: &'a Name,
        member: bool,
        checker: bool,
    },
    /// Apply for a compute grant for a research project: a member of its team, write token.
    ApplyGrant { member: bool },
    /// See a grant application (its plan, its reviews) and its award's usage: the project's
    /// team and operators.
    ReadGrant { member: bool },
    /// Review a grant application (or decide an award's progress report, or revoke it):
    /// operators, never on their own application or their own project's, never after
    /// declaring a conflict.
    ReviewGrant {
        applicant: &'a Name,
        member: bool,
        conflict: bool,
    },
    /// Submit an award's progress report: the project's team, write token.
    ReportProgress { member: bool },
    /// Award compute without a reviewer: only on a route reviewed automatically, to an
    /// applicant whose identity level now meets the call's.
    AwardAutomatically {
        automatic_route: bool,
        required: IdentityLevel,
    },
    /// Pledge to a funding pool: any account, write token.
    Pledge,
    /// Decide a bounty payout (pay, reject, reverse): operators, never its beneficiary.
    DecidePayout { beneficiary: bool },
    /// See a member's ledger statement with parties named: the member and operators.
    ReadStatement { own: bool },
    /// Propose a board decision: board members (write token) and operators.
    ProposeChange { board_member: bool },
    /// Sign a board proposal: board members only, write token (the signature itself is
    /// checked against the member's registered key).
    SignProposal { board_member: bool },
    /// Operator tasks.
    Administer,
}

/// What a job's authorization depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFacts<'a> {
    pub repo: &'a RepoFacts,
    /// The project's standing now (an approved project past its expiry is expired).
    pub project: ProjectStanding,
    /// The caller is on the project's team.
    pub member: bool,
    /// The identity level the repo asks of research-project members.
    pub required_level: IdentityLevel,
    /// The level the project holds on this model and revision, if the project names it.
    pub granted: Option<AccessLevel>,
    pub kind: JobKind,
    /// What the project's compute budget (its award, or its own quota) allows now.
    pub budget: weir_core::grants::Budget,
}

/// Why a decision came out as it did: snake_case codes, the same in the API, CLI and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    // allows
    OpenTier,
    PublicRepo,
    Member,
    Owner,
    AdminToken,
    TermsAccepted,
    Granted,
    Accredited,
    /// A designated output checker.
    OutputChecker,
    // denials
    NotVisible,
    NotSignedIn,
    TermsNotAccepted,
    IdentityLevel,
    NotRequested,
    Pending,
    Rejected,
    Expired,
    Revoked,
    TokenScope,
    TierNoEgress,
    Region,
    NotMember,
    NotReviewer,
    /// An operator-only action (dual-control approval, evidence review, release sign-off).
    NotOperator,
    TierLowering,
    NotGated,
    NotExportable,
    OwnRequest,
    AlreadyApproved,
    SignedIn,
    OwnEvidence,
    IncidentHold,
    /// The project does not name this model at this revision.
    NotInProject,
    /// The project is not approved (yet), or no longer active.
    ProjectNotActive,
    /// The model's tier caps the access level below what is asked (T4: black-box only).
    TierCapsLevel,
    /// The job kind needs a higher access level than the project holds on the model.
    KindNeedsLevel,
    /// Nothing is left of the project's released compute (its award's, or its quota).
    QuotaExhausted,
    /// The project's award starts later.
    AwardNotStarted,
    /// The project's award has ended.
    AwardExpired,
    /// The project's award was revoked.
    AwardRevoked,
    /// The reviewer declared a conflict of interest on this application.
    Conflict,
}

impl Reason {
    pub fn code(self) -> &'static str {
        match self {
            Reason::OpenTier => "open_tier",
            Reason::PublicRepo => "public_repo",
            Reason::Member => "member",
            Reason::Owner => "owner",
            Reason::AdminToken => "admin_token",
            Reason::TermsAccepted => "terms_accepted",
            Reason::Granted => "granted",
            Reason::Accredited => "accredited",
            Reason::OutputChecker => "output_checker",
            Reason::NotVisible => "not_visible",
            Reason::NotSignedIn => "not_signed_in",
            Reason::TermsNotAccepted => "terms_not_accepted",
            Reason::IdentityLevel => "identity_level",
            Reason::NotRequested => "not_requested",
            Reason::Pending => "pending",
            Reason::Rejected => "rejected",
            Reason::Expired => "expired",
            Reason::Revoked => "revoked",
            Reason::TokenScope => "token_scope",
            Reason::TierNoEgress => "tier_no_egress",
            Reason::Region => "region",
            Reason::NotMember => "not_member",
            Reason::NotReviewer => "not_reviewer",
            Reason::NotOperator => "not_operator",
            Reason::TierLowering => "tier_lowering",
            Reason::NotGated => "not_gated",
            Reason::NotExportable => "not_exportable",
            Reason::OwnRequest => "own_request",
            Reason::AlreadyApproved => "already_approved",
            Reason::SignedIn => "signed_in",
            Reason::OwnEvidence => "own_evidence",
            Reason::IncidentHold => "incident_hold",
            Reason::NotInProject => "not_in_project",
            Reason::ProjectNotActive => "project_not_active",
            Reason::TierCapsLevel => "tier_caps_level",
            Reason::KindNeedsLevel => "kind_needs_level",
            Reason::QuotaExhausted => "quota_exhausted",
            Reason::AwardNotStarted => "award_not_started",
            Reason::AwardExpired => "award_expired",
            Reason::AwardRevoked => "award_revoked",
            Reason::Conflict => "conflict_declared",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allow: bool,
    pub reason: Reason,
}

impl Decision {
    pub fn allow(reason: Reason) -> Decision {
        Decision {
            allow: true,
            reason,
        }
    }
    pub fn deny(reason: Reason) -> Decision {
        Decision {
            allow: false,
            reason,
        }
    }
}

fn visible(subject: &Subject, repo: &RepoFacts) -> Option<Reason> {
    if subject.operator() {
        Some(Reason::AdminToken)
    } else if subject.is_member_of(&repo.namespace) {
        Some(Reason::Member)
    } else if !repo.private {
        Some(Reason::PublicRepo)
    } else {
        None
    }
}

/// Scope and membership for changes to a repo or its namespace.
fn write_rule(subject: &Subject, namespace: &Name) -> Decision {
    match subject.scope() {
        None => Decision::deny(Reason::NotSignedIn),
        Some(Scope::Admin) => Decision::allow(Reason::AdminToken),
        Some(s) if !s.allows(Scope::Write) => Decision::deny(Reason::TokenScope),
        Some(_) if subject.is_member_of(namespace) => Decision::allow(Reason::Member),
        Some(_) => Decision::deny(Reason::NotMember),
    }
}

/// Operators, and owners of the repo's namespace holding a write token: who reviews access
/// requests, handles incidents and records regulatory notifications.
fn owners_or_operators(subject: &Subject, repo: &RepoFacts) -> Decision {
    match subject.scope() {
        None => Decision::deny(Reason::NotSignedIn),
        Some(Scope::Admin) => Decision::allow(Reason::AdminToken),
        Some(s) if !s.allows(Scope::Write) => Decision::deny(Reason::TokenScope),
        Some(_) if subject.is_owner_of(&repo.namespace) => Decision::allow(Reason::Owner),
        Some(_) => Decision::deny(Reason::NotReviewer),
    }
}

fn download(subject: &Subject, repo: &RepoFacts, standing: AccessStanding) -> Decision {
    // A confirmed incident holds new deliveries of the affected revisions, for everyone.
    if repo.held {
        return Decision::deny(Reason::IncidentHold);
    }
    // Restricted and sealed weights leave through the secure environment or dual-control export
    // only, for everyone: publishers hold their own copy.
    if repo.tier >= Tier::T3 {
        return Decision::deny(Reason::TierNoEgress);
    }
    if repo.tier == Tier::T0 {
        return Decision::allow(Reason::OpenTier);
    }
    let Some(user) = subject.user() else {
        return Decision::deny(Reason::NotSignedIn);
    };
    if subject.operator() {
        return Decision::allow(Reason::AdminToken);
    }
    if subject.is_member_of(&repo.namespace) {
        return Decision::allow(Reason::Member);
    }
    // A region-blocked repo denies users whose country is unknown too: no attested country is
    // no evidence of being outside the blocked regions.
    if region_blocked(user, repo) {
        return Decision::deny(Reason::Region);
    }
    if repo.tier == Tier::T1 {
        if user.level < IdentityLevel::Account {
            return Decision::deny(Reason::IdentityLevel);
        }
        return if standing.terms_accepted {
            Decision::allow(Reason::TermsAccepted)
        } else {
            Decision::deny(Reason::TermsNotAccepted)
        };
    }
    // T2: the level first (a lapsed attestation stops an approved grant at once), then the grant.
    if user.level < repo.min_level {
        return Decision::deny(Reason::IdentityLevel);
    }
    match standing.grant {
        GrantState::Approved => Decision::allow(Reason::Granted),
        GrantState::None => Decision::deny(Reason::NotRequested),
        GrantState::Pending => Decision::deny(Reason::Pending),
        GrantState::Rejected => Decision::deny(Reason::Rejected),
        GrantState::Expired => Decision::deny(Reason::Expired),
        GrantState::Revoked => Decision::deny(Reason::Revoked),
    }
}

/// A blocked region denies users whose country is unknown too.
fn region_blocked(user: &UserFacts, repo: &RepoFacts) -> bool {
    !repo.blocked_countries.is_empty()
        && user
            .country
            .as_ref()
            .is_none_or(|c| repo.blocked_countries.contains(c))
}

fn run_job(subject: &Subject, job: &JobFacts<'_>) -> Decision {
    let Some(user) = subject.user() else {
        return Decision::deny(Reason::NotSignedIn);
    };
    if !user.scope.allows(Scope::Write) {
        return Decision::deny(Reason::TokenScope);
    }
    // Operators decide projects; they run jobs only as members of one.
    if !job.member {
        return Decision::deny(Reason::NotMember);
    }
    match job.project {
        ProjectStanding::Active => {}
        ProjectStanding::Expired => return Decision::deny(Reason::Expired),
        ProjectStanding::Revoked => return Decision::deny(Reason::Revoked),
        ProjectStanding::Rejected => return Decision::deny(Reason::Rejected),
        ProjectStanding::Applied => return Decision::deny(Reason::ProjectNotActive),
    }
    match job.budget {
        Budget::Available => {}
        Budget::Exhausted => return Decision::deny(Reason::QuotaExhausted),
        Budget::NotStarted => return Decision::deny(Reason::AwardNotStarted),
        Budget::Expired => return Decision::deny(Reason::AwardExpired),
        Budget::Revoked => return Decision::deny(Reason::AwardRevoked),
    }
    if job.repo.held {
        return Decision::deny(Reason::IncidentHold);
    }
    // A lapsed attestation stops the member's jobs at once, as it stops a T2 grant.
    if user.level < job.required_level {
        return Decision::deny(Reason::IdentityLevel);
    }
    if region_blocked(user, job.repo) {
        return Decision::deny(Reason::Region);
    }
    let Some(granted) = job.granted else {
        return Decision::deny(Reason::NotInProject);
    };
    match weir_core::research::level_allows(job.kind, job.repo.tier, granted) {
        Ok(()) => Decision::allow(Reason::Granted),
        Err(LevelRefusal::TierCapsLevel) => Decision::deny(Reason::TierCapsLevel),
        Err(LevelRefusal::KindNeedsLevel) => Decision::deny(Reason::KindNeedsLevel),
    }
}

/// The decision. Pure and total.
pub fn authorize(subject: &Subject, action: &Action<'_>) -> Decision {
    match action {
        Action::ReadMetadata(repo) => match visible(subject, repo) {
            Some(r) => Decision::allow(r),
            None => Decision::deny(Reason::NotVisible),
        },
        Action::ReadCard(repo) => match visible(subject, repo) {
            None => Decision::deny(Reason::NotVisible),
            Some(_) if repo.held => Decision::deny(Reason::IncidentHold),
            Some(_) if repo.tier >= Tier::T3 => Decision::deny(Reason::TierNoEgress),
            Some(r) => Decision::allow(r),
        },
        Action::Download(repo, standing) => {
            if visible(subject, repo).is_none() {
                return Decision::deny(Reason::NotVisible);
            }
            download(subject, repo, *standing)
        }
        Action::Write(repo) => {
            if visible(subject, repo).is_none() {
                return Decision::deny(Reason::NotVisible);
            }
            write_rule(subject, &repo.namespace)
        }
        Action::CreateRepo { namespace } => write_rule(subject, namespace),
        Action::RequestAccess(repo) => {
            if visible(subject, repo).is_none() {
                return Decision::deny(Reason::NotVisible);
            }
            match subject.user() {
                None => Decision::deny(Reason::NotSignedIn),
                Some(_) if matches!(repo.tier, Tier::T0) => Decision::deny(Reason::NotGated),
                Some(_) if repo.tier >= Tier::T3 => Decision::deny(Reason::TierNoEgress),
                Some(_) => Decision::allow(Reason::PublicRepo),
            }
        }
        Action::Review(repo) => {
            if visible(subject, repo).is_none() {
                return Decision::deny(Reason::NotVisible);
            }
            owners_or_operators(subject, repo)
        }
        Action::SetTier {
            repo,
            to,
            has_reason,
        } => {
            if visible(subject, repo).is_none() {
                return Decision::deny(Reason::NotVisible);
            }
            if *to < repo.tier {
                // Lowering: operators only, and only with a recorded reason.
                return match subject.scope() {
                    None => Decision::deny(Reason::NotSignedIn),
                    Some(Scope::Admin) if *has_reason => Decision::allow(Reason::AdminToken),
                    Some(_) => Decision::deny(Reason::TierLowering),
                };
            }
            let w = write_rule(subject, &repo.namespace);
            if w.allow && !subject.operator() && !subject.is_owner_of(&repo.namespace) {
                return Decision::deny(Reason::NotReviewer);
            }
            w
        }
        Action::RequestExport(repo) => {
            if visible(subject, repo).is_none() {
                return Decision::deny(Reason::NotVisible);
            }
            match subject.user() {
                None => Decision::deny(Reason::NotSignedIn),
                Some(_) if repo.tier != Tier::T3 => Decision::deny(Reason::NotExportable),
                Some(u) if u.level < IdentityLevel::Accredited => {
                    Decision::deny(Reason::IdentityLevel)
                }
                Some(u) if u.orgs.is_empty() => Decision::deny(Reason::NotMember),
                Some(_) => Decision::allow(Reason::Accredited),
            }
        }
        Action::ApproveExport {
            repo,
            requester,
            already_approved,
        } => {
            if visible(subject, repo).is_none() {
                return Decision::deny(Reason::NotVisible);
            }
            match subject.user() {
                None => Decision::deny(Reason::NotSignedIn),
                Some(u) if u.scope != Scope::Admin => Decision::deny(Reason::NotOperator),
                Some(u) if &u.name == *requester => Decision::deny(Reason::OwnRequest),
                Some(_) if *already_approved => Decision::deny(Reason::AlreadyApproved),
                Some(_) if repo.held => Decision::deny(Reason::IncidentHold),
                Some(_) if repo.tier != Tier::T3 => Decision::deny(Reason::NotExportable),
                Some(_) => Decision::allow(Reason::AdminToken),
            }
        }
        Action::ReceiveExport { repo, org } => {
            if visible(subject, repo).is_none() {
                return Decision::deny(Reason::NotVisible);
            }
            match subject.user() {
                None => Decision::deny(Reason::NotSignedIn),
                Some(_) if repo.held => Decision::deny(Reason::IncidentHold),
                Some(_) if repo.tier != Tier::T3 => Decision::deny(Reason::NotExportable),
                Some(u) if u.level < IdentityLevel::Accredited => {
                    Decision::deny(Reason::IdentityLevel)
                }
                Some(u) if !u.orgs.contains(org) => Decision::deny(Reason::NotMember),
                Some(u) if region_blocked(u, repo) => Decision::deny(Reason::Region),
                Some(_) => Decision::allow(Reason::Accredited),
            }
        }
        Action::Contribute(repo) => {
            if visible(subject, repo).is_none() {
                return Decision::deny(Reason::NotVisible);
            }
            match subject.user() {
                None => Decision::deny(Reason::NotSignedIn),
                Some(_) => Decision::allow(Reason::SignedIn),
            }
        }
        Action::ReviewEvidence { repo, filed_by } => {
            if visible(subject, repo).is_none() {
                return Decision::deny(Reason::NotVisible);
            }
            match subject.user() {
                None => Decision::deny(Reason::NotSignedIn),
                Some(u) if u.scope != Scope::Admin => Decision::deny(Reason::NotOperator),
                Some(u) if u.name.as_str() == *filed_by => Decision::deny(Reason::OwnEvidence),
                Some(_) => Decision::allow(Reason::AdminToken),
            }
        }
        Action::ReportIncident(repo) => match visible(subject, repo) {
            None => Decision::deny(Reason::NotVisible),
            Some(_) => Decision::allow(Reason::PublicRepo),
        },
        Action::HandleIncident { repo, reporter } => {
            if visible(subject, repo).is_none() {
                return Decision::deny(Reason::NotVisible);
            }
            match (subject.user(), reporter) {
                // An operator never decides their own report. The publisher reporting its own
                // model keeps the publisher's role (no bounty pays its own namespace).
                (Some(u), Some(r)) if u.scope == Scope::Admin && u.name.as_str() == *r => {
                    Decision::deny(Reason::OwnRequest)
                }
                _ => owners_or_operators(subject, repo),
            }
        }
        Action::RecordNotification(repo) => {
            if visible(subject, repo).is_none() {
                return Decision::deny(Reason::NotVisible);
            }
            owners_or_operators(subject, repo)
        }
        Action::SignOffRelease(repo) => {
            if visible(subject, repo).is_none() {
                return Decision::deny(Reason::NotVisible);
            }
            match subject.scope() {
                None => Decision::deny(Reason::NotSignedIn),
                Some(Scope::Admin) => Decision::allow(Reason::AdminToken),
                Some(_) => Decision::deny(Reason::NotOperator),
            }
        }
        Action::ApplyProject { namespace } => write_rule(subject, namespace),
        Action::UseModelInProject { repo, level } => {
            if visible(subject, repo).is_none() {
                return Decision::deny(Reason::NotVisible);
            }
            match subject.user() {
                None => Decision::deny(Reason::NotSignedIn),
                Some(_) if *level > AccessLevel::highest_for(repo.tier) => {
                    Decision::deny(Reason::TierCapsLevel)
                }
                Some(_) => Decision::allow(Reason::PublicRepo),
            }
        }
        Action::DecideProject { applicant, member } => match subject.user() {
            None => Decision::deny(Reason::NotSignedIn),
            Some(u) if u.scope != Scope::Admin => Decision::deny(Reason::NotOperator),
            Some(u) if &u.name == *applicant || *member => Decision::deny(Reason::OwnRequest),
            Some(_) => Decision::allow(Reason::AdminToken),
        },
        Action::ReadProject { member } => match subject.user() {
            None => Decision::deny(Reason::NotSignedIn),
            Some(u) if u.scope == Scope::Admin => Decision::allow(Reason::AdminToken),
            Some(_) if *member => Decision::allow(Reason::Member),
            Some(_) => Decision::deny(Reason::NotMember),
        },
        Action::ReviewOutputs {
            author,
            member,
            checker,
        } => match subject.user() {
            None => Decision::deny(Reason::NotSignedIn),
            Some(u) if &u.name == *author || *member => Decision::deny(Reason::OwnRequest),
            Some(u) if u.scope == Scope::Admin => Decision::allow(Reason::AdminToken),
            Some(u) if *checker && u.scope.allows(Scope::Write) => {
                Decision::allow(Reason::OutputChecker)
            }
            Some(_) if *checker => Decision::deny(Reason::TokenScope),
            Some(_) => Decision::deny(Reason::NotOperator),
        },
        Action::RunJob(job) => {
            if visible(subject, job.repo).is_none() {
                return Decision::deny(Reason::NotVisible);
            }
            run_job(subject, job)
        }
        Action::ApplyGrant { member } | Action::ReportProgress { member } => match subject.user() {
            None => Decision::deny(Reason::NotSignedIn),
            Some(u) if !u.scope.allows(Scope::Write) => Decision::deny(Reason::TokenScope),
            Some(_) if *member => Decision::allow(Reason::Member),
            Some(_) => Decision::deny(Reason::NotMember),
        },
        Action::AwardAutomatically {
            automatic_route,
            required,
        } => match subject.user() {
            None => Decision::deny(Reason::NotSignedIn),
            Some(_) if !*automatic_route => Decision::deny(Reason::NotReviewer),
            Some(u) if u.level < *required => Decision::deny(Reason::IdentityLevel),
            Some(_) => Decision::allow(Reason::Accredited),
        },
        Action::Pledge => match subject.user() {
            None => Decision::deny(Reason::NotSignedIn),
            Some(u) if !u.scope.allows(Scope::Write) => Decision::deny(Reason::TokenScope),
            Some(_) => Decision::allow(Reason::SignedIn),
        },
        Action::DecidePayout { beneficiary } => match subject.user() {
            None => Decision::deny(Reason::NotSignedIn),
            Some(u) if u.scope != Scope::Admin => Decision::deny(Reason::NotOperator),
            Some(_) if *beneficiary => Decision::deny(Reason::OwnRequest),
            Some(_) => Decision::allow(Reason::AdminToken),
        },
        Action::ReadStatement { own } => match subject.user() {
            None => Decision::deny(Reason::NotSignedIn),
            Some(u) if u.scope == Scope::Admin => Decision::allow(Reason::AdminToken),
            Some(_) if *own => Decision::allow(Reason::Owner),
            Some(_) => Decision::deny(Reason::NotMember),
        },
        Action::ProposeChange { board_member } => match subject.user() {
            None => Decision::deny(Reason::NotSignedIn),
            Some(u) if u.scope == Scope::Admin => Decision::allow(Reason::AdminToken),
            Some(u) if !u.scope.allows(Scope::Write) => Decision::deny(Reason::TokenScope),
            Some(_) if *board_member => Decision::allow(Reason::Member),
            Some(_) => Decision::deny(Reason::NotMember),
        },
        Action::SignProposal { board_member } => match subject.user() {
            None => Decision::deny(Reason::NotSignedIn),
            Some(u) if !u.scope.allows(Scope::Write) => Decision::deny(Reason::TokenScope),
            Some(_) if *board_member => Decision::allow(Reason::Member),
            Some(_) => Decision::deny(Reason::NotMember),
        },
        Action::ReadGrant { member } => match subject.user() {
            None => Decision::deny(Reason::NotSignedIn),
            Some(u) if u.scope == Scope::Admin => Decision::allow(Reason::AdminToken),
            Some(_) if *member => Decision::allow(Reason::Member),
            Some(_) => Decision::deny(Reason::NotMember),
        },
        Action::ReviewGrant {
            applicant,
            member,
            conflict,
        } => match subject.user() {
            None => Decision::deny(Reason::NotSignedIn),
            Some(u) if u.scope != Scope::Admin => Decision::deny(Reason::NotOperator),
            Some(u) if &u.name == *applicant || *member => Decision::deny(Reason::OwnRequest),
            Some(_) if *conflict => Decision::deny(Reason::Conflict),
            Some(_) => Decision::allow(Reason::AdminToken),
        },
        Action::Administer => match subject.scope() {
            None => Decision::deny(Reason::NotSignedIn),
            Some(Scope::Admin) => Decision::allow(Reason::AdminToken),
            Some(_) => Decision::deny(Reason::TokenScope),
        },
    }
}

#[cfg(test)]
mod tests;
