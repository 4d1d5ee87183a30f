//! Dual control for custodial export of restricted (T3) weights: an accredited organization's
//! member requests a copy, two distinct operators approve (neither the requester), the requester
//! gets one single-use link that expires, and the download is the revision's files. Every step
//! asks `weir_authz` again with the facts of that moment (the repo's tier and holds now, the
//! requester's level and memberships now) and commits with its event.

use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};
use weir_authz::{Action, Decision, RepoFacts, Subject};
use weir_core::FileEntry;
use weir_core::{CommitId, Name};
use weir_store::exports::{APPROVALS_NEEDED, LinkRefusal};
use weir_store::{Export, Repo, Store, StoreError};
use weir_wire::ErrorCode;

use crate::access::{facts, signed_in};
use crate::{Context, Kind, ServiceError};

/// The longest stated purpose.
pub const MAX_PURPOSE: usize = 4000;

fn not_found(id: i64) -> ServiceError {
    ServiceError::refused(
        Kind::NotFound,
        ErrorCode::ExportNotFound,
        format!("no export {id} that you can see"),
    )
}

/// A revision of `repo`, or the refusal naming it.
pub async fn resolve(store: &Store, repo: &Repo, revision: &str) -> Result<CommitId, ServiceError> {
    let missing = || {
        ServiceError::refused(
            Kind::NotFound,
            ErrorCode::RevisionNotFound,
            format!("Revision {revision} not found in {}.", repo.repo_id),
        )
        .next(format!(
            "list branches and tags with GET /api/models/{}/refs",
            repo.repo_id
        ))
    };
    let parsed = weir_core::Revision::parse(revision).map_err(|_| missing())?;
    store.db.resolve(repo, &parsed).await?.ok_or_else(missing)
}

fn corrupt(what: &str) -> ServiceError {
    StoreError::Corrupt(what.to_string()).into()
}

/// What a requester asks for: a copy for an organization they belong to, and why.
#[derive(Debug, Clone)]
pub struct Filing {
    pub org: String,
    pub purpose: String,
}

/// Files a request for a custodial copy of `revision` of `repo` (resolved once the subject may
/// ask at all, so nobody else learns which revisions exist).
pub async fn request(
    store: &Store,
    repo: &Repo,
    revision: &str,
    subject: &Subject,
    filing: &Filing,
    ctx: &Context,
    now: i64,
) -> Result<Export, ServiceError> {
    crate::access::require(subject, &Action::RequestExport(&facts(repo)), repo)?;
    let user = signed_in(subject)?.to_string();
    let org = Name::parse(&filing.org)
        .map_err(|e| ServiceError::refused(Kind::Invalid, ErrorCode::InvalidOrg, e.to_string()))?;
    let member = matches!(subject, Subject::User(u) if u.orgs.contains(&org));
    if !member {
        return Err(ServiceError::refused(
            Kind::Forbidden,
            ErrorCode::NotMember,
            format!("you are not a member of {org}"),
        )
        .next("request the export on behalf of an organization you belong to"));
    }
    let purpose = filing.purpose.trim();
    if purpose.is_empty() || purpose.len() > MAX_PURPOSE {
        return Err(ServiceError::refused(
            Kind::Invalid,
            ErrorCode::InvalidPurpose,
            format!("state the purpose of the custodial copy in 1 to {MAX_PURPOSE} characters"),
        ));
    }
    let commit = &resolve(store, repo, revision).await?;
    Ok(store
        .db
        .create_export_logged(repo.id, commit, &user, org.as_str(), purpose, now, |id| {
            ctx.event(
                now,
                "export.request",
                Some(repo),
                "pending",
                json!({"export": id, "org": org.as_str(), "commit": commit.as_str()}),
            )
        })
        .await?)
}

/// An export as its requester or an operator sees it; to anyone else every export, existing or
/// not, is the same refusal (an export names a T3 repo, which may be private).
pub async fn show(store: &Store, subject: &Subject, id: i64) -> Result<Export, ServiceError> {
    let e = store.db.export(id).await?.ok_or_else(|| not_found(id))?;
    let operator = weir_authz::authorize(subject, &Action::Administer).allow;
    let requester = subject.name().is_some_and(|n| n.as_str() == e.requester);
    if !operator && !requester {
        return Err(not_found(id));
    }
    Ok(e)
}

/// The export's repo as it is now: its current tier, and whether the exported revision is
/// under an incident hold. `None` when the repo is gone.
async fn current_facts(store: &Store, e: &Export) -> Result<Option<(Repo, RepoFacts)>, StoreError> {
    let Some(repo) = store.db.repo(&e.repo).await? else {
        return Ok(None);
    };
    let mut f = facts(&repo);
    f.held = store
        .db
        .is_held_here_or_at_source(repo.id, e.commit.as_str())
        .await?;
    Ok(Some((repo, f)))
}

/// Whether the requester, as they are now (level, attestations, org membership), may receive
/// the copy of the repo as it is now (tier, holds).
async fn requester_may_receive(
    store: &Store,
    e: &Export,
    f: &RepoFacts,
    now: i64,
) -> Result<Decision, ServiceError> {
    let requester = Name::parse(&e.requester).map_err(|_| corrupt("export requester"))?;
    let org = Name::parse(&e.org).map_err(|_| corrupt("export org"))?;
    let (subject, _) =
        crate::access::subject_of(store, &requester, weir_core::Scope::Read, now).await?;
    Ok(weir_authz::authorize(
        &subject,
        &Action::ReceiveExport { repo: f, org: &org },
    ))
}

fn requester_no_longer_qualifies(id: i64, reason: weir_authz::Reason) -> ServiceError {
    ServiceError::refused(
        Kind::Conflict,
        ErrorCode::RequesterNotEligible,
        format!(
            "export {id} cannot be approved now: the requester or the repo no longer qualifies ({})",
            reason.code()
        ),
    )
    .with("reason", json!(reason.code()))
    .next("the requester must be accredited and a member of the organization, and the repo T3 with no hold")
}

/// One operator's approval. The requester must still qualify now, not only when they asked.
pub async fn approve(
    store: &Store,
    subject: &Subject,
    id: i64,
    ctx: &Context,
    now: i64,
) -> Result<Export, ServiceError> {
    let e = show(store, subject, id).await?;
    let (repo, f) = current_facts(store, &e)
        .await?
        .ok_or_else(|| not_found(id))?;
    crate::access::require(subject, &Action::ReadMetadata(&f), &repo)?;
    let requester = Name::parse(&e.requester).map_err(|_| corrupt("export requester"))?;
    let me = signed_in(subject)?.to_string();
    crate::access::require(
        subject,
        &Action::ApproveExport {
            repo: &f,
            requester: &requester,
            already_approved: e.approvals.contains(&me),
        },
        &repo,
    )?;
    if e.state != "pending" {
        return Err(ServiceError::refused(
            Kind::Conflict,
            ErrorCode::ExportNotPending,
            format!("export {id} is {}", e.state),
        ));
    }
    let d = requester_may_receive(store, &e, &f, now).await?;
    if !d.allow {
        return Err(requester_no_longer_qualifies(id, d.reason));
    }
    Ok(store
        .db
        .approve_export_logged(id, &me, now, |state, approvals| {
            ctx.event(
                now,
                "export.approve",
                Some(&repo),
                state,
                json!({"export": id, "approvals": approvals}),
            )
        })
        .await?)
}

/// The one download link, shown once: its secret token and when it expires.
#[derive(Debug, Clone)]
pub struct Link {
    pub export: i64,
    pub token: String,
    pub expires_at: i64,
}

fn link_issued() -> ServiceError {
    ServiceError::refused(
        Kind::Conflict,
        ErrorCode::LinkAlreadyIssued,
        "the download link was already issued; it is shown only once",
    )
}

/// Issues the requester's single download link after two approvals; only its hash is stored.
pub async fn link(
    store: &Store,
    subject: &Subject,
    id: i64,
    ttl_secs: i64,
    ctx: &Context,
    now: i64,
) -> Result<Link, ServiceError> {
    let e = show(store, subject, id).await?;
    let me = signed_in(subject)?;
    if me.as_str() != e.requester {
        return Err(ServiceError::refused(
            Kind::Forbidden,
            ErrorCode::NotRequester,
            "only the requester receives the download link",
        ));
    }
    // Asked again with the caller's facts now and the repo's tier and holds now.
    let (repo, f) = current_facts(store, &e)
        .await?
        .ok_or_else(|| not_found(id))?;
    let org = Name::parse(&e.org).map_err(|_| corrupt("export org"))?;
    crate::access::require(
        subject,
        &Action::ReceiveExport {
            repo: &f,
            org: &org,
        },
        &repo,
    )?;
    if e.link_issued {
        return Err(link_issued().next("ask for a new export if it was lost"));
    }
    if e.state != "approved" {
        return Err(ServiceError::refused(
            Kind::Conflict,
            ErrorCode::ExportNotApproved,
            format!(
                "export {id} is {} ({} of {APPROVALS_NEEDED} approvals)",
                e.state,
                e.approvals.len(),
            ),
        )
        .next("two distinct reviewers must approve it first"));
    }
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    let token = hex::encode(raw);
    let expires_at = now + ttl_secs;
    let ev = ctx.event(
        now,
        "export.link",
        Some(&repo),
        "link_issued",
        json!({"export": id, "expires_at": expires_at}),
    );
    store
        .db
        .set_export_link_logged(id, &link_hash(&token), expires_at, &ev)
        .await
        .map_err(|err| match err {
            StoreError::Exists(_) => link_issued(),
            other => other.into(),
        })?;
    Ok(Link {
        export: id,
        token,
        expires_at,
    })
}

fn link_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// What a working link opens: the export, its repo and the files to stream.
#[derive(Debug)]
pub struct Opened {
    pub export: Export,
    pub repo: Repo,
    pub files: Vec<FileEntry>,
}

fn gone(code: ErrorCode, message: &str) -> ServiceError {
    ServiceError::refused(Kind::Gone, code, message).next("ask for a new export")
}

/// Spends a download link. The last step asks again: the repo raised to T4, an incident hold,
/// a requester demoted (level lowered, attestation revoked or expired, left the org) all stop
/// the copy, and the spent link does not come back. The decision is made under the store's
/// write lock, against the state the spending commits with, and its event commits with it.
pub async fn open_download(
    store: &Store,
    token: &str,
    ctx: &Context,
    now: i64,
) -> Result<Opened, ServiceError> {
    let spent = store
        .db
        .spend_export_link(&link_hash(token), now, async |e: &Export| {
            let current = current_facts(store, e).await?;
            let (decision, files, repo) = match &current {
                Some((repo, f)) => (
                    requester_may_receive(store, e, f, now).await?,
                    store.db.files(repo, &e.commit).await?,
                    Some(repo.clone()),
                ),
                // The repo is gone: nothing to copy, and the refusal is recorded.
                None => (Decision::deny(weir_authz::Reason::NotVisible), vec![], None),
            };
            let details = if decision.allow {
                json!({"export": e.id, "commit": e.commit.as_str(), "files": files.len()})
            } else {
                json!({"export": e.id, "commit": e.commit.as_str()})
            };
            let reason = if decision.allow {
                "dual_control"
            } else {
                decision.reason.code()
            };
            let mut ev = ctx.event(now, "export.download", repo.as_ref(), reason, details);
            ev.repo = Some(e.repo.to_string());
            ev.decision = if decision.allow { "allow" } else { "deny" }.into();
            ev.actor = Some(e.requester.clone());
            Ok::<_, ServiceError>((ev, (decision, files, repo)))
        })
        .await?;
    let (export, (decision, files, repo)) = match spent {
        Ok(s) => s,
        Err(LinkRefusal::Used) => {
            return Err(gone(
                ErrorCode::LinkUsed,
                "this export link was already used",
            ));
        }
        Err(LinkRefusal::Expired) => {
            return Err(gone(ErrorCode::LinkExpired, "this export link has expired"));
        }
        Err(LinkRefusal::Unknown) => {
            return Err(gone(ErrorCode::LinkUnknown, "no such export link"));
        }
    };
    match repo {
        Some(repo) if decision.allow => Ok(Opened {
            export,
            repo,
            files,
        }),
        _ => Err(ServiceError::Denied {
            reason: decision.reason,
            repo: export.repo.to_string(),
            anonymous: false,
        }),
    }
}
