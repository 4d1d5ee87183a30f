//! Research-environment jobs (issue 13, points 2, 4, 5, 7): submitted by a project's member,
//! queued in the database, run by [`run_queue`] in the sandbox with the weights of the exact
//! revision the project names, metered and charged to the project, and their outputs (and logs)
//! held until they pass the automatic rules and, for T3/T4 models, two independent output
//! checkers. `weir_authz` decides at submission and again when the job starts, with the facts
//! of that moment (a revoked project, a lapsed attestation, a hold, an exhausted quota stop a
//! queued job).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;
use sha2::{Digest, Sha256};
use weir_authz::{Action, Decision, JobFacts, Reason, Subject};
use weir_core::outputs::{self, OutputRules};
use weir_core::research::JobKind;
use weir_core::{Name, RepoId, Scope, Tier};
use weir_enclave::{Limits, Sandbox, Spec};
use weir_store::jobs::{Finish, Job, JobState, NewJob, Output, QueueBounds, Vote};
use weir_store::research::Project;
use weir_store::{Repo, Store, StoreError};
use weir_wire::ErrorCode;

use crate::access::{facts, signed_in};
use crate::research::project_denied;
use crate::{Context, Kind, ServiceError};

/// At most this many input files (prompts, questions, the researcher's code) per job.
pub const MAX_INPUTS: usize = 100;
/// All of a job's inputs together, in bytes.
pub const MAX_INPUT_BYTES: usize = 10 << 20;
/// At most this many arguments, each at most [`MAX_ARG`] bytes.
pub const MAX_ARGS: usize = 64;
pub const MAX_ARG: usize = 4096;
/// The logs kept of a job (each of stdout and stderr), held with its outputs.
pub const MAX_LOG: u64 = 64 << 10;
/// A job starts only with at least this much of its project's quota left (CPU milliseconds):
/// its wall clock is then cut to what remains, so a project overspends by at most a tick.
pub const MIN_START_MS: i64 = 1000;
/// Where a job's logs appear among its outputs.
pub const LOG_DIR: &str = "_logs";

/// The research environment of a registry: the sandbox, the per-job limits and the queue's
/// bounds (the output rules are the policy's `[outputs]`, read when a job starts). A registry
/// without one refuses jobs (`research_unavailable`).
pub struct Enclave {
    pub sandbox: Sandbox,
    pub limits: Limits,
    pub bounds: QueueBounds,
    /// Wakes the queue runner when a job is queued.
    pub wake: tokio::sync::Notify,
    /// Whether the server starts [`run_queue`] itself (tests that must hold a job in the queue
    /// start it when they are ready).
    pub autostart: bool,
    /// The `weir-runner` binary of the built-in kinds (generate, mcq, logits), mounted read-only
    /// at [`RUNNER`] in their jobs; `None`: only command jobs run.
    pub runner: Option<std::path::PathBuf>,
}

/// Where the built-in kinds' runner is inside the sandbox.
pub const RUNNER: &str = "/runner/weir-runner";
/// The one input file of a built-in job (prompts or questions, JSON lines).
pub const BUILTIN_INPUT: &str = "input.jsonl";

/// `weir-runner` beside the running binary (or one directory up, as for test binaries in
/// `target/*/deps`).
pub fn default_runner() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    [dir.join("weir-runner"), dir.parent()?.join("weir-runner")]
        .into_iter()
        .find(|p| p.is_file())
}

impl Enclave {
    pub fn new(sandbox: Sandbox, limits: Limits) -> Enclave {
        Enclave {
            sandbox,
            limits,
            bounds: QueueBounds {
                per_project: 20,
                total: 1000,
            },
            wake: tokio::sync::Notify::new(),
            autostart: true,
            runner: default_runner(),
        }
    }
}

fn refused(kind: Kind, code: ErrorCode, message: impl Into<String>) -> ServiceError {
    ServiceError::refused(kind, code, message)
}

fn not_found(id: i64) -> ServiceError {
    refused(
        Kind::NotFound,
        ErrorCode::JobNotFound,
        format!("no job {id} that you can see"),
    )
    .next("list your project's jobs: weir job list --project NS/NAME")
}

fn corrupt(what: &str) -> ServiceError {
    StoreError::Corrupt(what.to_string()).into()
}

/// What a member submits.
#[derive(Debug, Clone)]
pub struct Submission {
    pub project: String,
    pub repo: String,
    pub revision: String,
    pub kind: String,
    /// The kind's parameters (`command`: `{"argv": ["/usr/bin/python3", "/job/main.py"]}`).
    pub params: serde_json::Value,
    /// Files placed under `/job` (read-only inside), by relative path.
    pub inputs: Vec<(String, Vec<u8>)>,
}

/// The facts a job decision needs about `subject` and `repo` now.
#[allow(clippy::too_many_arguments)]
fn job_facts_now<'a>(
    project: &Project,
    repo: &'a weir_authz::RepoFacts,
    repo_row: &Repo,
    commit: &weir_core::CommitId,
    member: bool,
    kind: JobKind,
    now: i64,
    budget: weir_core::grants::Budget,
) -> JobFacts<'a> {
    JobFacts {
        repo,
        project: project.state.at(now, project.expires_at),
        member,
        required_level: repo_row.gating.research_level,
        granted: project.granted(repo_row.id, commit),
        kind,
        budget,
    }
}

/// A denial of a job: a model the subject may not see answers like a missing repo.
fn job_denied(reason: Reason, repo: &Repo, subject: &Subject, project: &str) -> ServiceError {
    match reason {
        Reason::NotVisible => ServiceError::denied(reason, repo, subject),
        Reason::NotMember => refused(
            Kind::Forbidden,
            ErrorCode::NotMember,
            format!("You are not on the team of {project}."),
        )
        .next("ask the project's applicant to include you"),
        Reason::IdentityLevel => refused(
            Kind::Forbidden,
            ErrorCode::IdentityLevel,
            format!(
                "{} asks research-project members to be {}; your identity level is lower now.",
                repo.repo_id,
                repo.gating.research_level.as_str()
            ),
        )
        .next("obtain an attestation from an accredited verifier: weir identity submit FILE"),
        Reason::NotInProject => refused(
            Kind::Forbidden,
            ErrorCode::NotInProject,
            format!("{project} does not name this revision of {}.", repo.repo_id),
        )
        .next("use the revision the project names (weir project show)"),
        Reason::KindNeedsLevel => refused(
            Kind::Forbidden,
            ErrorCode::KindNeedsLevel,
            format!(
                "This job kind needs a higher access level than {project} holds on {}.",
                repo.repo_id
            ),
        )
        .next("AL1 runs generate and mcq, AL2 adds logits, AL3 runs your own command"),
        Reason::TierCapsLevel => refused(
            Kind::Forbidden,
            ErrorCode::TierCapsLevel,
            format!(
                "{} is sealed (T4): black-box jobs (generate, mcq) only.",
                repo.repo_id
            ),
        ),
        Reason::ProjectNotActive | Reason::Expired | Reason::Revoked | Reason::Rejected => refused(
            Kind::Forbidden,
            ErrorCode::ProjectNotActive,
            format!("{project} is not active ({}).", reason.code()),
        )
        .with("reason", json!(reason.code()))
        .next("see: weir project show"),
        Reason::IncidentHold => ServiceError::denied(reason, repo, subject),
        Reason::QuotaExhausted => quota_exhausted(project),
        Reason::AwardNotStarted | Reason::AwardExpired | Reason::AwardRevoked => {
            let code = match reason {
                Reason::AwardNotStarted => ErrorCode::AwardNotStarted,
                Reason::AwardExpired => ErrorCode::AwardExpired,
                _ => ErrorCode::AwardRevoked,
            };
            refused(
                Kind::Conflict,
                code,
                format!(
                    "{project}'s compute award is {}: no job starts on it",
                    reason.code().trim_start_matches("award_").replace('_', " ")
                ),
            )
            .next("see the award: weir grant show APPLICATION; apply to an open call: weir grant call list")
        }
        other => project_denied(other, project),
    }
}

fn check_inputs(inputs: &[(String, Vec<u8>)]) -> Result<(), ServiceError> {
    if inputs.len() > MAX_INPUTS {
        return Err(refused(
            Kind::Invalid,
            ErrorCode::TooLarge,
            format!("at most {MAX_INPUTS} input files"),
        ));
    }
    let total: usize = inputs.iter().map(|(_, b)| b.len()).sum();
    if total > MAX_INPUT_BYTES {
        return Err(refused(
            Kind::Invalid,
            ErrorCode::TooLarge,
            format!("the inputs are {total} bytes; at most {MAX_INPUT_BYTES}"),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (p, _) in inputs {
        if !seen.insert(p.as_str()) {
            return Err(refused(
                Kind::Invalid,
                ErrorCode::InvalidPath,
                format!("input path {p:?} given twice"),
            ));
        }
        if weir_core::RepoPath::parse(p).is_err() {
            return Err(refused(
                Kind::Invalid,
                ErrorCode::InvalidPath,
                format!("input path {p:?} is not a relative path inside the job"),
            ));
        }
    }
    Ok(())
}

/// The argv of a `command` job: 1 to 64 strings, the first an absolute path inside the sandbox.
fn command_argv(params: &serde_json::Value) -> Result<Vec<String>, ServiceError> {
    let bad = |m: String| {
        refused(Kind::Invalid, ErrorCode::InvalidParams, m)
            .next(r#"{"argv": ["/usr/bin/python3", "/job/main.py"]}"#)
    };
    let argv: Vec<String> = params
        .get("argv")
        .and_then(|a| a.as_array())
        .ok_or_else(|| bad("a command job needs params.argv, a list of strings".into()))?
        .iter()
        .map(|a| a.as_str().map(str::to_string))
        .collect::<Option<_>>()
        .ok_or_else(|| bad("params.argv must hold strings only".into()))?;
    if argv.is_empty() || argv.len() > MAX_ARGS {
        return Err(bad(format!("params.argv holds 1 to {MAX_ARGS} arguments")));
    }
    if argv.iter().any(|a| a.len() > MAX_ARG || a.contains('\0')) {
        return Err(bad(format!(
            "each argument is at most {MAX_ARG} bytes, without NUL"
        )));
    }
    if !argv[0].starts_with('/') {
        return Err(bad(format!(
            "params.argv[0] must be an absolute path inside the sandbox (e.g. /usr/bin/python3), not {:?}",
            argv[0]
        )));
    }
    Ok(argv)
}

/// Checks a built-in kind's parameters (the runner checks them again): `generate`
/// `{max_tokens 1..=1024, temperature 0..=10, seed}`, `mcq` `{task}`, `logits` `{top_k 1..=20}`.
fn builtin_params(kind: JobKind, params: &serde_json::Value) -> Result<(), ServiceError> {
    let bad = |m: String| refused(Kind::Invalid, ErrorCode::InvalidParams, m);
    let obj = match params {
        serde_json::Value::Null => return Ok(()),
        serde_json::Value::Object(o) => o,
        _ => return Err(bad("params is a JSON object".into())),
    };
    let allowed: &[&str] = match kind {
        JobKind::Generate => &["max_tokens", "temperature", "seed"],
        JobKind::Mcq => &["task"],
        JobKind::Logits => &["top_k"],
        JobKind::Command => &["argv"],
    };
    if let Some(k) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(bad(format!(
            "unknown parameter {k:?} for {}; known: {}",
            kind.as_str(),
            allowed.join(", ")
        )));
    }
    let int = |k: &str, lo: u64, hi: u64| -> Result<(), ServiceError> {
        match obj.get(k) {
            None => Ok(()),
            Some(v) if v.as_u64().is_some_and(|n| (lo..=hi).contains(&n)) => Ok(()),
            Some(_) => Err(bad(format!("{k} is an integer from {lo} to {hi}"))),
        }
    };
    int("max_tokens", 1, 1024)?;
    int("top_k", 1, 20)?;
    int("seed", 0, u64::MAX)?;
    if let Some(t) = obj.get("temperature")
        && !t.as_f64().is_some_and(|t| (0.0..=10.0).contains(&t))
    {
        return Err(bad("temperature is a number from 0 to 10".into()));
    }
    if let Some(t) = obj.get("task")
        && !t.as_str().is_some_and(|t| {
            !t.is_empty()
                && t.len() <= 64
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
    {
        return Err(bad("task is 1 to 64 letters, digits, '_' or '-'".into()));
    }
    Ok(())
}

/// CPU milliseconds the project may still spend.
fn quota_exhausted(project: &str) -> ServiceError {
    refused(
        Kind::Conflict,
        ErrorCode::QuotaExhausted,
        format!("{project} has used its compute: its award's released tranches, or its quota"),
    )
    .next("report progress for the second tranche (weir grant report AWARD), or apply to a call (weir grant call list)")
}

/// Queues a job. Asks `weir_authz` (`RunJob`) with the facts now; the runner asks again when
/// the job starts.
pub async fn submit(
    store: &Store,
    enclave: Option<&Enclave>,
    subject: &Subject,
    sub: &Submission,
    ctx: &Context,
    now: i64,
) -> Result<Job, ServiceError> {
    let me = signed_in(subject)?.to_string();
    let p = crate::research::find(store, &sub.project).await?;
    let full = p.full_name();
    let id = RepoId::parse(&sub.repo).map_err(|e| {
        refused(
            Kind::Invalid,
            ErrorCode::InvalidRepoId,
            format!("{:?}: {e}", sub.repo),
        )
    })?;
    let Some(repo) = store.db.repo(&id).await? else {
        return Err(ServiceError::Denied {
            reason: Reason::NotVisible,
            repo: sub.repo.clone(),
            anonymous: false,
        });
    };
    let kind = JobKind::parse(&sub.kind).ok_or_else(|| {
        refused(
            Kind::Invalid,
            ErrorCode::InvalidKind,
            format!("unknown job kind {:?}", sub.kind),
        )
        .next("use generate, mcq, logits or command")
    })?;
    let mut f = facts(&repo);
    crate::access::require(subject, &Action::ReadMetadata(&f), &repo)?;
    let commit = crate::exports::resolve(store, &repo, &sub.revision).await?;
    f.held = store
        .db
        .is_held_here_or_at_source(repo.id, commit.as_str())
        .await?;
    let member = p.is_member(&me);
    let (budget, _, _) = crate::grants::budget(store, &p, now, MIN_START_MS).await?;
    let jf = job_facts_now(&p, &f, &repo, &commit, member, kind, now, budget);
    let d = weir_authz::authorize(subject, &Action::RunJob(&jf));
    if !d.allow {
        return Err(job_denied(d.reason, &repo, subject, &full));
    }
    let Some(enclave) = enclave else {
        return Err(refused(
            Kind::Conflict,
            ErrorCode::ResearchUnavailable,
            "this registry runs no research environment",
        )
        .next("the operator enables it with [research] enabled = true (README: The secure research environment)"));
    };
    check_inputs(&sub.inputs)?;
    if kind == JobKind::Command {
        command_argv(&sub.params)?;
    } else {
        if enclave.runner.is_none() {
            return Err(refused(
                Kind::Conflict,
                ErrorCode::Unsupported,
                format!(
                    "{} jobs need weir-runner beside the weir binary; this registry runs command jobs only",
                    kind.as_str()
                ),
            ));
        }
        builtin_params(kind, &sub.params)?;
        if sub.inputs.len() != 1 || sub.inputs[0].0 != BUILTIN_INPUT {
            return Err(refused(
                Kind::Invalid,
                ErrorCode::InvalidParams,
                format!(
                    "a {} job takes one input, {BUILTIN_INPUT} (JSON lines: {})",
                    kind.as_str(),
                    if kind == JobKind::Mcq {
                        r#"{"question", "choices", "answer"}"#
                    } else {
                        r#"{"prompt"}"#
                    }
                ),
            ));
        }
    }
    let params = serde_json::to_string(&sub.params).map_err(|_| corrupt("job params"))?;
    let new = NewJob {
        project_id: p.id,
        repo_id: repo.id,
        commit: &commit,
        kind,
        params: &params,
        submitted_by: &me,
        at: now,
        inputs: &sub.inputs,
    };
    let job = store
        .db
        .submit_job_logged(&new, enclave.bounds, |id| {
            ctx.event(
                now,
                "job.submit",
                Some(&repo),
                "queued",
                json!({
                    "job": id,
                    "public": {
                        "project": full,
                        "job": id,
                        "repo": repo.repo_id.to_string(),
                        "revision": commit.as_str(),
                        "kind": kind.as_str(),
                    },
                }),
            )
        })
        .await
        .map_err(|e| match e {
            StoreError::LimitReached(m) => refused(Kind::RateLimited, ErrorCode::RateLimited, m),
            other => other.into(),
        })?;
    enclave.wake.notify_one();
    Ok(job)
}

/// Whether `subject` may check job `job`'s held outputs (see them, vote on them): operators
/// and designated output checkers, never its author or its team ([`Action::ReviewOutputs`]).
pub async fn checks(
    store: &Store,
    subject: &Subject,
    job: &Job,
    p: &Project,
) -> Result<Decision, ServiceError> {
    let author = Name::parse(&job.submitted_by).map_err(|_| corrupt("job author"))?;
    let member = subject.name().is_some_and(|n| p.is_member(n.as_str()));
    let checker = match subject.name() {
        Some(n) => store.db.is_output_checker(n.as_str()).await?,
        None => false,
    };
    Ok(weir_authz::authorize(
        subject,
        &Action::ReviewOutputs {
            author: &author,
            member,
            checker,
        },
    ))
}

/// Output states that went before the checkers: they see those jobs.
fn went_to_review(outputs_state: &str) -> bool {
    matches!(
        outputs_state,
        "awaiting_review" | "returned" | "rejected" | "released"
    )
}

/// What a caller may see of a job: everything for the project's team and operators; an output
/// checker sees the jobs whose outputs went to review.
pub async fn show(
    store: &Store,
    subject: &Subject,
    id: i64,
) -> Result<(Job, Project), ServiceError> {
    let job = store.db.job(id).await?.ok_or_else(|| not_found(id))?;
    let p = store
        .db
        .project_by_id(job.project_id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let sees = crate::research::sees_details(subject, &p)
        || (went_to_review(&job.outputs_state) && checks(store, subject, &job, &p).await?.allow);
    if !sees {
        return Err(not_found(id));
    }
    // A team member who cannot see the model (a private repo of another namespace) finds no job.
    let visible = match store.db.repo(&job.repo).await? {
        Some(r) => weir_authz::authorize(subject, &Action::ReadMetadata(&facts(&r))).allow,
        None => false,
    };
    if !visible {
        return Err(not_found(id));
    }
    Ok((job, p))
}

/// The jobs of a project (its team and operators), newest first.
pub async fn list(
    store: &Store,
    subject: &Subject,
    project: &str,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Job>, ServiceError> {
    let p = crate::research::find(store, project).await?;
    if !crate::research::sees_details(subject, &p) {
        return Err(project_denied(
            if subject.name().is_some() {
                Reason::NotMember
            } else {
                Reason::NotSignedIn
            },
            &p.full_name(),
        ));
    }
    let mut out = Vec::new();
    for j in store
        .db
        .list_jobs(Some(p.id), before, limit.clamp(1, 500))
        .await?
    {
        if let Some(r) = store.db.repo(&j.repo).await?
            && weir_authz::authorize(subject, &Action::ReadMetadata(&facts(&r))).allow
        {
            out.push(j);
        }
    }
    Ok(out)
}

/// The public job log: every job on a model the caller may see, newest first (no inputs, no
/// outputs, no people).
pub async fn public_log(
    store: &Store,
    subject: &Subject,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Job>, ServiceError> {
    let mut out = Vec::new();
    let mut cursor = before;
    let limit = limit.clamp(1, 500);
    // Read pages until `limit` visible jobs (or the end), so hidden models do not shorten pages.
    for _ in 0..20 {
        let page = store.db.list_jobs(None, cursor, limit).await?;
        let Some(last) = page.last() else { break };
        cursor = Some(last.id);
        for j in page {
            if let Some(repo) = store.db.repo(&j.repo).await?
                && weir_authz::authorize(subject, &Action::ReadMetadata(&facts(&repo))).allow
            {
                out.push(j);
                if out.len() as i64 >= limit {
                    return Ok(out);
                }
            }
        }
    }
    Ok(out)
}

/// Cancels a queued or running job: its team or an operator.
pub async fn cancel(
    store: &Store,
    subject: &Subject,
    id: i64,
    ctx: &Context,
    now: i64,
) -> Result<Job, ServiceError> {
    let (job, p) = show(store, subject, id).await?;
    if !crate::research::sees_details(subject, &p) {
        return Err(project_denied(Reason::NotMember, &p.full_name()));
    }
    if !matches!(subject, Subject::User(u) if u.scope.allows(Scope::Write)) {
        return Err(project_denied(Reason::TokenScope, &p.full_name()));
    }
    if job.state.finished() {
        return Err(refused(
            Kind::Conflict,
            ErrorCode::InvalidTransition,
            format!("job {id} is already {}", job.state.as_str()),
        ));
    }
    let repo = store.db.repo(&job.repo).await?;
    let ev = ctx.event(
        now,
        "job.cancel",
        repo.as_ref(),
        "cancelled",
        json!({"job": id, "public": {"project": p.full_name(), "job": id}}),
    );
    store
        .db
        .set_job_state_logged(
            id,
            &[JobState::Queued, JobState::Running],
            JobState::Cancelled,
            "cancelled",
            now,
            &ev,
        )
        .await
        .map_err(|e| match e {
            StoreError::StateChanged { .. } => refused(
                Kind::Conflict,
                ErrorCode::StateChanged,
                format!("job {id} changed meanwhile; read it again"),
            ),
            other => other.into(),
        })
}

/// Whether `subject` may read the bytes of job `id`'s held outputs now: the team once they are
/// released (and operators); the output checkers (operators and designated checkers) while
/// they are in review or after a decision to hold them; what the automatic rules blocked,
/// operators only.
pub async fn output_access(
    store: &Store,
    subject: &Subject,
    id: i64,
) -> Result<(Job, Project), ServiceError> {
    let (job, p) = show(store, subject, id).await?;
    let operator = weir_authz::authorize(subject, &Action::Administer).allow;
    let member = subject.name().is_some_and(|n| p.is_member(n.as_str()));
    let ok = match job.outputs_state.as_str() {
        "released" => member || operator,
        "awaiting_review" | "rejected" | "returned" => {
            checks(store, subject, &job, &p).await?.allow
        }
        "blocked" => operator && !member,
        _ => false,
    };
    if !ok {
        return Err(refused(
            Kind::Conflict,
            ErrorCode::OutputsHeld,
            format!(
                "the outputs of job {id} are {}: nothing leaves before it passes the checks",
                job.outputs_state
            ),
        )
        .with("outputs_state", json!(job.outputs_state))
        .next("two output checkers review outputs of T3/T4 models; see weir job status ID"));
    }
    Ok((job, p))
}

/// One file of a job's outputs, if the caller may read it now.
pub async fn output_file(
    store: &Store,
    subject: &Subject,
    id: i64,
    path: &str,
) -> Result<Vec<u8>, ServiceError> {
    output_access(store, subject, id).await?;
    store.db.job_output_bytes(id, path).await?.ok_or_else(|| {
        refused(
            Kind::NotFound,
            ErrorCode::EntryNotFound,
            format!("job {id} has no output {path}"),
        )
    })
}

/// A checker's vote on one file.
#[derive(Debug, Clone)]
pub struct FileVote {
    pub path: String,
    pub vote: String,
    pub reason: String,
}

/// The outputs' state once `votes` are in: two distinct reviewers on every file release them
/// when all approve, reject them when any rejects, and return them (changes requested)
/// otherwise; fewer keep them in review.
pub fn consolidate(files: &[String], votes: &[Vote]) -> &'static str {
    let mut reviewers: Vec<&str> = votes.iter().map(|v| v.reviewer.as_str()).collect();
    reviewers.sort_unstable();
    reviewers.dedup();
    let complete = reviewers.len() >= 2
        && files.iter().all(|f| {
            let mut by: Vec<&str> = votes
                .iter()
                .filter(|v| &v.path == f)
                .map(|v| v.reviewer.as_str())
                .collect();
            by.sort_unstable();
            by.dedup();
            by.len() >= 2
        });
    if !complete {
        return "awaiting_review";
    }
    if votes.iter().any(|v| v.vote == "reject") {
        "rejected"
    } else if votes.iter().all(|v| v.vote == "approve") {
        "released"
    } else {
        "returned"
    }
}

/// Names user `account` a designated output checker, with `reason`, on the log.
pub async fn add_checker(
    store: &Store,
    account: &str,
    reason: &str,
    ctx: &Context,
    now: i64,
) -> Result<(), ServiceError> {
    Name::parse(account)
        .map_err(|e| refused(Kind::Invalid, ErrorCode::InvalidName, e.to_string()))?;
    let reason = checker_reason(reason)?;
    let mut ev = ctx.event(now, "checker.add", None, "added", json!({"reason": reason}));
    ev.subject = Some(account.to_string());
    store
        .db
        .add_output_checker_logged(account, reason, now, &ev)
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => refused(
                Kind::NotFound,
                ErrorCode::UserNotFound,
                format!("no user {account}: output checkers are user accounts"),
            ),
            other => other.into(),
        })
}

/// Withdraws `account`'s designation at once, with `reason`, on the log.
pub async fn revoke_checker(
    store: &Store,
    account: &str,
    reason: &str,
    ctx: &Context,
    now: i64,
) -> Result<(), ServiceError> {
    let reason = checker_reason(reason)?;
    let mut ev = ctx.event(
        now,
        "checker.revoke",
        None,
        "revoked",
        json!({"reason": reason}),
    );
    ev.subject = Some(account.to_string());
    store
        .db
        .revoke_output_checker_logged(account, now, &ev)
        .await
        .map_err(|e| match e {
            StoreError::NotFound(m) => {
                refused(Kind::NotFound, ErrorCode::UserNotFound, format!("no {m}"))
                    .next("see: weir admin checker list")
            }
            other => other.into(),
        })
}

fn checker_reason(reason: &str) -> Result<&str, ServiceError> {
    let r = reason.trim();
    if r.is_empty() || r.len() > 1000 {
        return Err(refused(
            Kind::Invalid,
            ErrorCode::ReasonRequired,
            "a designation needs a reason of 1 to 1000 characters",
        )
        .next("pass --reason TEXT"));
    }
    Ok(r)
}

/// The jobs awaiting review that `subject` may check (operators and designated output
/// checkers; never their own team's), oldest first.
pub async fn review_queue(
    store: &Store,
    subject: &Subject,
    limit: i64,
) -> Result<Vec<Job>, ServiceError> {
    let Some(name) = subject.name() else {
        return Err(project_denied(Reason::NotSignedIn, ""));
    };
    let operator = weir_authz::authorize(subject, &Action::Administer).allow;
    if !operator && !store.db.is_output_checker(name.as_str()).await? {
        return Err(refused(
            Kind::Forbidden,
            ErrorCode::NotOperator,
            "Only operators and designated output checkers review job outputs.",
        )
        .next("an operator designates checkers: weir admin checker add NAME --reason TEXT"));
    }
    let mut out = Vec::new();
    for j in store.db.jobs_in_review(limit.clamp(1, 500)).await? {
        // The same decision as opening the job: a model the checker cannot see hides its job.
        if show(store, subject, j.id).await.is_ok() {
            let Some(p) = store.db.project_by_id(j.project_id).await? else {
                continue;
            };
            if checks(store, subject, &j, &p).await?.allow {
                out.push(j);
            }
        }
    }
    Ok(out)
}

/// Records one output checker's votes, one per held file, blind to the other checker's.
pub async fn review_outputs(
    store: &Store,
    subject: &Subject,
    id: i64,
    votes: &[FileVote],
    ctx: &Context,
    now: i64,
) -> Result<String, ServiceError> {
    let (job, p) = show(store, subject, id).await?;
    let d = checks(store, subject, &job, &p).await?;
    if !d.allow {
        return Err(if d.reason == Reason::OwnRequest {
            refused(
                Kind::Forbidden,
                ErrorCode::OwnRequest,
                format!(
                    "You submitted job {id} or are on its team: independent checkers review it."
                ),
            )
        } else {
            project_denied(d.reason, &p.full_name())
        });
    }
    let me = signed_in(subject)?.to_string();
    if job.outputs_state != "awaiting_review" {
        return Err(refused(
            Kind::Conflict,
            ErrorCode::NotInReview,
            format!(
                "the outputs of job {id} are {}, not awaiting review",
                job.outputs_state
            ),
        ));
    }
    let files: Vec<String> = store
        .db
        .job_outputs(id)
        .await?
        .into_iter()
        .map(|o| o.path)
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut rows = Vec::with_capacity(votes.len());
    for v in votes {
        if !files.contains(&v.path) || !seen.insert(v.path.clone()) {
            return Err(refused(
                Kind::Invalid,
                ErrorCode::InvalidVote,
                format!(
                    "{:?} is not a held output of job {id}, or is voted on twice",
                    v.path
                ),
            ));
        }
        if !["approve", "request_changes", "reject"].contains(&v.vote.as_str()) {
            return Err(refused(
                Kind::Invalid,
                ErrorCode::InvalidVote,
                format!("unknown vote {:?}", v.vote),
            )
            .next("vote approve, request_changes or reject"));
        }
        let reason = v.reason.trim();
        if reason.len() > crate::research::MAX_REASON || (v.vote != "approve" && reason.is_empty())
        {
            return Err(refused(
                Kind::Invalid,
                ErrorCode::MissingReason,
                "a vote other than approve needs a reason (at most 2000 bytes)",
            ));
        }
        rows.push(Vote {
            path: v.path.clone(),
            reviewer: me.clone(),
            vote: v.vote.clone(),
            reason: reason.to_string(),
            at: now,
        });
    }
    if seen.len() != files.len() {
        return Err(refused(
            Kind::Invalid,
            ErrorCode::InvalidVote,
            format!(
                "vote on every held file of job {id} ({} files)",
                files.len()
            ),
        ));
    }
    let repo = store.db.repo(&job.repo).await?;
    let full = p.full_name();
    store
        .db
        .vote_outputs_logged(id, "awaiting_review", &rows, |all| {
            let state = consolidate(&files, all);
            let ev = ctx.event(
                now,
                "job.outputs",
                repo.as_ref(),
                state,
                json!({
                    "job": id,
                    "votes": rows.iter().map(|v| json!({"path": v.path, "vote": v.vote})).collect::<Vec<_>>(),
                    "public": {"project": full, "job": id, "outputs": state},
                }),
            );
            (state.to_string(), ev)
        })
        .await
        .map_err(|e| match e {
            StoreError::Exists(_) => refused(
                Kind::Conflict,
                ErrorCode::AlreadyReviewed,
                format!("you already reviewed job {id}; another checker must review it"),
            ),
            StoreError::StateChanged { .. } => refused(
                Kind::Conflict,
                ErrorCode::StateChanged,
                format!("job {id} changed meanwhile; read it again"),
            ),
            other => other.into(),
        })
}

/// The votes `subject` may see on job `id`: all once the review is over, else only their own.
pub fn visible_votes(
    votes: Vec<Vote>,
    outputs_state: &str,
    me: Option<&str>,
    checker: bool,
) -> Vec<Vote> {
    if outputs_state == "awaiting_review" {
        return votes
            .into_iter()
            .filter(|v| Some(v.reviewer.as_str()) == me)
            .collect();
    }
    if checker || outputs_state == "released" {
        return votes;
    }
    // The team, before a release: file names are a channel out of the sandbox, so each
    // checker's votes collapse to one verdict (the strictest) with their reasons, no paths.
    let mut out: Vec<Vote> = Vec::new();
    for v in votes {
        let rank = |x: &str| match x {
            "reject" => 2,
            "request_changes" => 1,
            _ => 0,
        };
        match out.iter_mut().find(|o| o.reviewer == v.reviewer) {
            Some(o) => {
                if rank(&v.vote) > rank(&o.vote) {
                    o.vote = v.vote.clone();
                }
                if !v.reason.is_empty() && !o.reason.split("; ").any(|r| r == v.reason) {
                    o.reason = format!("{}; {}", o.reason, v.reason);
                }
            }
            None => out.push(Vote {
                path: String::new(),
                ..v
            }),
        }
    }
    out
}

/// Fails the jobs a stopped server left running (`interrupted`), each with its event; queued
/// jobs stay queued and run.
pub async fn recover(store: &Store) -> Result<usize, ServiceError> {
    let ctx = Context::local("weir", "weir-job-runner");
    let mut failed = 0;
    for j in store.db.running_jobs().await? {
        // Another replica's job, still running, holds its run lease (taken in the claim's own
        // transaction): left alone. A job whose runner is gone holds none.
        if store.db.job_is_held(j.id).await? {
            continue;
        }
        let repo = store.db.repo(&j.repo).await?;
        refuse_start(store, &ctx, &j, repo.as_ref(), "interrupted").await?;
        failed += 1;
    }
    Ok(failed)
}

/// How often the queue looks for jobs whose runner is gone (a replica killed mid-job).
const RECOVER_EVERY: Duration = Duration::from_secs(30);

/// Milliseconds as seconds rounded to a tenth: the metering everyone sees carries no more bits
/// than it needs (a job's exact CPU time or memory would be a channel out of the sandbox).
pub fn tenths(ms: i64) -> f64 {
    (ms as f64 / 100.0).round() / 10.0
}

/// Bytes rounded up to whole MiB, for the same reason.
pub fn mib(bytes: i64) -> i64 {
    bytes.saturating_add((1 << 20) - 1) / (1 << 20) * (1 << 20)
}

#[allow(clippy::too_many_arguments)]
fn finish_event(
    ctx: &Context,
    j: &Job,
    repo: Option<&Repo>,
    ending: &str,
    now: i64,
    cpu_ms: Option<i64>,
    wall_ms: Option<i64>,
    peak_memory: Option<i64>,
) -> weir_core::Event {
    let mut ev = ctx.event(
        now,
        "job.finish",
        repo,
        ending,
        json!({
            "job": j.id,
            "public": {
                "project": j.project,
                "job": j.id,
                "repo": j.repo.to_string(),
                "revision": j.commit.as_str(),
                "kind": j.kind.as_str(),
                "submitted_at": j.submitted_at,
                "started_at": j.started_at,
                "finished_at": now,
                "cpu_seconds": cpu_ms.map(tenths),
                "wall_seconds": wall_ms.map(tenths),
                "peak_memory": peak_memory.map(mib),
                "ending": ending,
            },
        }),
    );
    ev.subject = Some(j.submitted_by.clone());
    ev
}

/// Runs queued jobs, one per free slot, until `shutdown` resolves. Fails the jobs a previous
/// run left running first.
pub async fn run_queue(
    store: Store,
    enclave: Arc<Enclave>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    if let Err(e) = recover(&store).await {
        tracing::error!(error = %e, "recovering interrupted jobs");
    }
    let mut last_recovery = tokio::time::Instant::now();
    let slots = Arc::new(tokio::sync::Mutex::new(enclave.sandbox.slots().to_vec()));
    let free = Arc::new(tokio::sync::Semaphore::new(enclave.sandbox.slots().len()));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => return,
            p = free.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        if last_recovery.elapsed() >= RECOVER_EVERY {
            last_recovery = tokio::time::Instant::now();
            if let Err(e) = recover(&store).await {
                tracing::warn!(error = %e, "recovering interrupted jobs");
            }
        }
        let (job, lease) = match store.db.claim_next_job_leased(crate::clock::now()).await {
            Ok(Some(j)) => j,
            Ok(None) => {
                drop(permit);
                tokio::select! {
                    _ = &mut shutdown => return,
                    _ = enclave.wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "claiming a job");
                drop(permit);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let Some(slot) = slots.lock().await.pop() else {
            drop(permit);
            continue;
        };
        let (store, enclave, slots) = (store.clone(), enclave.clone(), slots.clone());
        tokio::spawn(async move {
            let id = job.id;
            let copy = job.clone();
            // Held while it runs: another replica's recovery leaves it alone.
            let ran = run_one(&store, &enclave, &slot, job).await;
            lease.release().await;
            if let Err(e) = ran {
                tracing::error!(job = id, error = %e, "running a job");
                // Never leave it running: it fails, with its event.
                let ctx = Context::local("weir", "weir-job-runner");
                if let Err(e) = refuse_start(&store, &ctx, &copy, None, "internal_error").await {
                    tracing::error!(job = id, error = %e, "failing a job after an error");
                }
            }
            slots.lock().await.push(slot);
            drop(permit);
            // The project's next job (held back while this one ran) may start now.
            enclave.wake.notify_one();
        });
    }
}

/// Runs every queued job, one at a time in the first slot, until the queue is empty (the demo
/// seeds finished jobs this way, before the server starts).
pub async fn run_pending(store: &Store, enclave: &Enclave) -> Result<usize, ServiceError> {
    let Some(slot) = enclave.sandbox.slots().first().cloned() else {
        return Ok(0);
    };
    let mut n = 0;
    while let Some(job) = store.db.claim_next_job(crate::clock::now()).await? {
        run_one(store, enclave, &slot, job).await?;
        n += 1;
    }
    Ok(n)
}

/// Ends a job that never ran (denied at start), with its event.
async fn refuse_start(
    store: &Store,
    ctx: &Context,
    j: &Job,
    repo: Option<&Repo>,
    reason: &str,
) -> Result<(), ServiceError> {
    let now = crate::clock::now();
    let ev = finish_event(ctx, j, repo, reason, now, None, None, None);
    let f = Finish {
        state: JobState::Failed,
        ending: reason,
        at: now,
        cpu_ms: None,
        wall_ms: None,
        peak_memory: None,
        charged_ms: 0,
        outputs_state: "none",
        output_rules: None,
    };
    match store
        .db
        .finish_job_logged(j.id, &[JobState::Running], &f, &[], &[ev])
        .await
    {
        Ok(_) | Err(StoreError::StateChanged { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Whether job `id` was cancelled meanwhile.
fn watch_cancel(store: Store, id: i64) -> (Arc<AtomicBool>, tokio::task::JoinHandle<()>) {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    let task = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if let Ok(Some(j)) = store.db.job(id).await
                && j.state == JobState::Cancelled
            {
                f.store(true, Ordering::Relaxed);
                return;
            }
        }
    });
    (flag, task)
}

async fn run_one(
    store: &Store,
    enclave: &Enclave,
    slot: &weir_enclave::Slot,
    j: Job,
) -> Result<(), ServiceError> {
    let ctx = Context::local("weir", "weir-job-runner");
    let now = crate::clock::now();
    let repo = store.db.repo(&j.repo).await?;
    let p = store.db.project_by_id(j.project_id).await?;
    let (Some(repo), Some(p)) = (repo, p) else {
        return refuse_start(store, &ctx, &j, None, "not_visible").await;
    };
    // Asked again with the facts of this moment: the submitter as they are now.
    let author = Name::parse(&j.submitted_by).map_err(|_| corrupt("job author"))?;
    let (subject, _) = crate::access::subject_of(store, &author, Scope::Write, now).await?;
    let mut f = facts(&repo);
    f.held = store
        .db
        .is_held_here_or_at_source(repo.id, j.commit.as_str())
        .await?;
    let member = p.is_member(&j.submitted_by);
    // The budget now: the project's current award (revoked, expired, not started or spent
    // meanwhile stops the job), or its own quota.
    let (budget, remaining, award) = crate::grants::budget(store, &p, now, MIN_START_MS).await?;
    let jf = job_facts_now(&p, &f, &repo, &j.commit, member, j.kind, now, budget);
    let d = weir_authz::authorize(&subject, &Action::RunJob(&jf));
    if !d.allow {
        return refuse_start(store, &ctx, &j, Some(&repo), d.reason.code()).await;
    }
    store.db.set_job_award(j.id, award).await?;
    // The output rules in force when the job starts are the ones its outputs are checked
    // under, and their version is recorded with it.
    let rules = crate::policy::policy_in_force(store).await?.policy.outputs;
    let params = serde_json::from_str::<serde_json::Value>(&j.params).unwrap_or_default();
    let mut extra_ro = Vec::new();
    let argv = if j.kind == JobKind::Command {
        match command_argv(&params) {
            Ok(a) => a,
            Err(_) => return refuse_start(store, &ctx, &j, Some(&repo), "invalid_params").await,
        }
    } else {
        let Some(runner) = enclave.runner.clone() else {
            return refuse_start(store, &ctx, &j, Some(&repo), "unsupported").await;
        };
        extra_ro.push((runner, RUNNER.to_string()));
        let input = format!("/job/{BUILTIN_INPUT}");
        let mut params = params;
        // Per-choice log-likelihoods are grey-box output: only where the project holds AL2
        // on this revision and the tier allows it.
        if j.kind == JobKind::Mcq
            && let Some(o) = params.as_object_mut()
        {
            let grey = p
                .granted(repo.id, &j.commit)
                .is_some_and(|g| g >= weir_core::research::AccessLevel::Al2)
                && weir_core::research::AccessLevel::highest_for(repo.tier)
                    >= weir_core::research::AccessLevel::Al2;
            o.insert("loglikelihoods".into(), json!(grey));
        }
        let params = params.to_string();
        let model = j.repo.to_string();
        [
            RUNNER,
            j.kind.as_str(),
            "--weights",
            "/weights",
            "--input",
            &input,
            "--out",
            "/out",
            "--params",
            &params,
            "--model",
            &model,
            "--revision",
            j.commit.as_str(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let dir = enclave
        .sandbox
        .job_dir(&format!("job-{}", j.id), slot)
        .map_err(|e| {
            ServiceError::from(StoreError::Corrupt(format!("staging job {}: {e}", j.id)))
        })?;
    let staged = stage(store, &dir, &repo, &j).await;
    if let Err(e) = staged {
        let _ = dir.remove();
        tracing::error!(job = j.id, error = %e, "staging");
        return refuse_start(store, &ctx, &j, Some(&repo), "staging_failed").await;
    }
    let mut limits = enclave.limits;
    // The wall clock never lets a job spend much past the project's remaining quota.
    let budget = Duration::from_millis((remaining as f64 / limits.cpus.max(0.01)) as u64);
    limits.wall = limits.wall.min(budget);
    let spec = Spec {
        argv,
        env: vec![],
        limits,
        extra_ro,
    };
    let (cancel, watcher) = watch_cancel(store.clone(), j.id);
    let run = enclave
        .sandbox
        .run_cancellable(slot, &dir, &spec, &|| cancel.load(Ordering::Relaxed))
        .await;
    watcher.abort();
    let outcome = match run {
        Ok(o) => o,
        Err(e) => {
            let _ = dir.remove();
            tracing::error!(job = j.id, error = %e, "sandbox");
            return refuse_start(store, &ctx, &j, Some(&repo), "sandbox_failed").await;
        }
    };
    if outcome.left_behind > 0 {
        tracing::error!(
            job = j.id,
            slot = slot.user,
            n = outcome.left_behind,
            "processes left behind after a job"
        );
    }
    let done = crate::clock::now();
    let ending = outcome.ending.code();
    let cpu_ms = outcome.cpu_ms.map(|c| c as i64);
    let wall_ms = outcome.wall_ms as i64;
    let peak = outcome.peak_memory.map(|m| m as i64);
    let charged_ms = cpu_ms.unwrap_or((wall_ms as f64 * limits.cpus) as i64);
    let held = if outcome.ending == weir_enclave::Ending::OutputCap {
        // Nothing of an over-cap job is kept.
        Vec::new()
    } else {
        collect(&dir, &rules)
    };
    let _ = dir.remove();
    let blocked = held.iter().any(|(o, _)| o.findings != "[]")
        || outputs::check_release(
            &held
                .iter()
                .filter(|(o, _)| !o.path.starts_with(LOG_DIR))
                .map(|(o, _)| o.size as u64)
                .collect::<Vec<_>>(),
            &rules,
        )
        .is_some();
    let outputs_state = if held.is_empty() {
        "none"
    } else if blocked {
        "blocked"
    } else if repo.tier >= Tier::T3 || j.kind == JobKind::Command {
        // The researcher's own program can write anything the rules miss: two checkers read
        // its outputs whatever the tier. Built-in kinds write only their own schema.
        "awaiting_review"
    } else {
        "released"
    };
    let state = if outcome.ending.succeeded() {
        JobState::Succeeded
    } else {
        JobState::Failed
    };
    let mut evs = vec![finish_event(
        &ctx,
        &j,
        Some(&repo),
        &ending,
        done,
        cpu_ms,
        Some(wall_ms),
        peak,
    )];
    if !held.is_empty() {
        evs.push(ctx.event(
            done,
            "job.outputs",
            Some(&repo),
            outputs_state,
            json!({
                "job": j.id,
                "files": held.iter().map(|(o, _)| json!({"path": o.path, "size": o.size, "sha256": o.sha256})).collect::<Vec<_>>(),
                "rules": rules.version,
                "public": {"project": j.project, "job": j.id, "outputs": outputs_state, "files": held.len(), "rules": rules.version},
            }),
        ));
    }
    let fin = Finish {
        state,
        ending: &ending,
        at: done,
        cpu_ms,
        wall_ms: Some(wall_ms),
        peak_memory: peak,
        charged_ms,
        outputs_state,
        output_rules: (!held.is_empty()).then_some(rules.version.as_str()),
    };
    match store
        .db
        .finish_job_logged(j.id, &[JobState::Running], &fin, &held, &evs)
        .await
    {
        Ok(_) => {
            if outputs_state == "awaiting_review" {
                let mut team = vec![j.submitted_by.clone()];
                if let Ok(Some(p)) = store.db.project_by_id(j.project_id).await {
                    team.extend(p.members.iter().cloned());
                }
                crate::mail::outputs_ready(store, j.id, &team, done).await;
            }
            Ok(())
        }
        // Cancelled while running: its outputs are dropped, what it used is charged and logged.
        Err(StoreError::StateChanged { .. }) => {
            let ev = finish_event(
                &ctx,
                &j,
                Some(&repo),
                "cancelled",
                done,
                cpu_ms,
                Some(wall_ms),
                peak,
            );
            store
                .db
                .charge_cancelled_logged(j.id, cpu_ms, Some(wall_ms), peak, charged_ms, &ev)
                .await?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Puts the revision's files under `weights/` and the job's inputs under `code/`.
async fn stage(
    store: &Store,
    dir: &weir_enclave::JobDir,
    repo: &Repo,
    j: &Job,
) -> Result<(), String> {
    let files = store
        .db
        .files(repo, &j.commit)
        .await
        .map_err(|e| e.to_string())?;
    for f in files {
        let src = store
            .blobs
            .local_path(&f.sha256)
            .await
            .map_err(|e| e.to_string())?;
        dir.add_weight(f.path.as_str(), &src)
            .map_err(|e| e.to_string())?;
    }
    for (path, bytes) in store.db.job_inputs(j.id).await.map_err(|e| e.to_string())? {
        dir.add_code(&path, &bytes, true)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The job's output files and logs with their findings, read without following links; each
/// read at most one byte past the per-file cap (a larger file is a finding, its bytes dropped).
///
/// Names are a channel too: a release with a name that is not plain, or with more than
/// the rules' `max_files` files, keeps none of its files, only one `_blocked` entry with the
/// finding (and the logs, held like everything else).
fn collect(dir: &weir_enclave::JobDir, rules: &OutputRules) -> Vec<(Output, Vec<u8>)> {
    let mut files: Vec<(String, std::path::PathBuf, u64)> = dir.outputs(rules.max_files * 10);
    let mut out = Vec::new();
    if let Some(f) = outputs::check_names(files.iter().map(|(p, _, _)| p.as_str()), rules) {
        files.clear();
        out.push((
            Output {
                path: "_blocked".into(),
                size: 0,
                sha256: hex::encode(Sha256::digest(b"")),
                findings: serde_json::to_string(&[f]).unwrap_or_else(|_| "[]".into()),
            },
            Vec::new(),
        ));
    }
    files.push((format!("{LOG_DIR}/stdout.txt"), dir.stdout.clone(), 0));
    files.push((format!("{LOG_DIR}/stderr.txt"), dir.stderr.clone(), 0));
    for (path, host, _) in files {
        let is_log = path.starts_with(LOG_DIR);
        let cap = if is_log { MAX_LOG } else { rules.max_file + 1 };
        let Ok(bytes) = read_capped(&host, cap) else {
            continue;
        };
        if is_log && bytes.is_empty() {
            continue;
        }
        let size = std::fs::symlink_metadata(&host)
            .map(|m| m.len())
            .unwrap_or(bytes.len() as u64);
        let size = if is_log { bytes.len() as u64 } else { size };
        let findings = outputs::check_file(size, &bytes, rules);
        let keep = if size > rules.max_file {
            Vec::new()
        } else {
            bytes
        };
        out.push((
            Output {
                sha256: hex::encode(Sha256::digest(&keep)),
                path,
                size: size as i64,
                findings: serde_json::to_string(&findings).unwrap_or_else(|_| "[]".into()),
            },
            keep,
        ));
    }
    out
}

/// Reads at most `cap` bytes of a regular file, refusing symlinks.
fn read_capped(path: &std::path::Path, cap: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    let mut buf = Vec::new();
    f.take(cap).read_to_end(&mut buf)?;
    Ok(buf)
}
