//! A repo's life after creation: deletion (a tombstone).

use serde_json::json;
use weir_authz::{Action, Subject};
use weir_store::{Repo, Store};

use crate::access::{facts, require};
use crate::{Context, ServiceError};

/// Deletes a repo: the namespace's owners (or an operator) only. What stays: the row as a
/// tombstone (every lookup by name answers missing, and the name is never taken again), its
/// commits and blobs, releases and their signatures, incidents, evidence, events and log entries.
/// What goes: its likes. The `repo.deleted` event commits with the tombstone.
pub async fn delete(
    store: &Store,
    repo: &Repo,
    subject: &Subject,
    ctx: &Context,
    now: i64,
) -> Result<(), ServiceError> {
    require(subject, &Action::Review(&facts(repo)), repo)?;
    // Accountability outlives the repo, and a running report keeps it: no deletion while an
    // incident about it is received, triaged, confirmed or mitigated.
    if store.db.has_open_incident(repo).await? {
        return Err(ServiceError::refused(
            crate::Kind::Conflict,
            weir_wire::ErrorCode::IncidentHold,
            format!(
                "{} has an incident report that is not settled; a repo is not deleted while a report about it runs",
                repo.repo_id
            ),
        )
        .next("settle the incident first (weir incident list)"));
    }
    let e = ctx.event(now, "repo.deleted", Some(repo), "deleted", json!({}));
    store.db.delete_repo_logged(repo, &e).await?;
    Ok(())
}

/// Most files one duplicate copies.
pub const MAX_DUPLICATE_FILES: usize = 10_000;

/// Copies the files of `source` at `commit` into a new repo `target`, for a caller the download
/// gate allowed on `source` at that commit (the handler asks it first). The copy keeps the
/// source's tier, set before any file lands, so no byte is ever served under a lower tier; a copy
/// of a private repo is private. Possession of each blob comes from that allowed download.
/// The `repo.duplicated` event names the source and commit.
#[allow(clippy::too_many_arguments)]
pub async fn duplicate(
    store: &Store,
    source: &Repo,
    commit: &weir_core::CommitId,
    target: &weir_core::RepoId,
    private: Option<bool>,
    subject: &Subject,
    author: weir_core::CommitSignature,
    ctx: &Context,
    now: i64,
) -> Result<Repo, ServiceError> {
    use crate::Kind;
    use weir_wire::ErrorCode;
    let namespace = target.namespace.clone();
    let d = weir_authz::authorize(
        subject,
        &Action::CreateRepo {
            namespace: &namespace,
        },
    );
    if !d.allow {
        return Err(ServiceError::Denied {
            reason: d.reason,
            repo: target.to_string(),
            anonymous: matches!(subject, Subject::Anonymous),
        });
    }
    // A gated or private repo is copied by its publisher only: the copier owns the copy's
    // settings (visibility, gating), which must not become a way around the source's.
    if source.private || source.tier > weir_core::Tier::T0 {
        require(subject, &Action::Review(&facts(source)), source)?;
    }
    if source.private && private == Some(false) {
        return Err(ServiceError::refused(
            Kind::Conflict,
            ErrorCode::InvalidField,
            format!(
                "{} is private; a copy of a private repo stays private",
                source.repo_id
            ),
        )
        .next("omit visibility, or ask the owners to make the source public"));
    }
    let files = store.db.files(source, commit).await?;
    if files.len() > MAX_DUPLICATE_FILES {
        return Err(ServiceError::refused(
            Kind::Invalid,
            ErrorCode::TooLarge,
            format!(
                "{} has {} files at {}; a duplicate copies at most {MAX_DUPLICATE_FILES}",
                source.repo_id,
                files.len(),
                &commit.as_str()[..12]
            ),
        )
        .next("push the files to a new repo with weir push or upload_folder"));
    }
    let private = private.unwrap_or(source.private);
    let created = store.create_repo(target, private, author.clone()).await?;
    store.db.set_lineage(&created, source, commit).await?;
    // The source as it is now (a raise since the request was read counts); gone, no copy.
    let source = store
        .db
        .repo(&source.repo_id)
        .await?
        .ok_or_else(|| weir_store::StoreError::NotFound(format!("repo {}", source.repo_id)))?;
    let source = &source;
    store.db.set_gating(&created, &source.gating).await?;
    let e = ctx.event(
        now,
        "repo.duplicated",
        Some(&created),
        "duplicated",
        json!({"public": {"repo": target.to_string(), "source": source.repo_id.to_string(), "commit": commit.as_str(), "tier": source.tier.as_str()}}),
    );
    store
        .db
        .set_tier_logged(&created, source.tier, false, &e)
        .await?;
    let created = store
        .db
        .repo(target)
        .await?
        .ok_or_else(|| weir_store::StoreError::NotFound(format!("repo {target}")))?;
    for f in &files {
        store.db.record_upload(&created, &f.sha256, f.size).await?;
    }
    let head = store
        .db
        .resolve(
            &created,
            &weir_core::Revision::parse("main")
                .map_err(|e| weir_store::StoreError::Corrupt(e.to_string()))?,
        )
        .await?;
    let c = weir_store::NewCommit {
        branch: weir_core::RefName::main(),
        expected_parent: head,
        create_branch: false,
        ops: files
            .iter()
            .map(|f| weir_store::CommitOp::Add {
                path: f.path.clone(),
                sha256: f.sha256.clone(),
                size: f.size,
            })
            .collect(),
        author,
        summary: format!(
            "Duplicate from {}@{}",
            source.repo_id,
            &commit.as_str()[..12]
        ),
        description: String::new(),
    };
    store.commit(&created, &c).await?;
    // Classified at once, as a derivative of its source.
    crate::classification::reclassify(
        store,
        target,
        ctx.actor.as_deref(),
        crate::classification::Lowering::Never,
        now,
    )
    .await?;
    Ok(created)
}

/// Moves (renames) a repo: its namespace's owners (or an operator), into a namespace where the
/// caller may create repos. The former name redirects to the repo and stays taken. A repo with
/// an incident record (anything but rejected or withdrawn) does not leave its namespace: the
/// record belongs to the publisher that released it. The `repo.moved` event names both names.
pub async fn move_repo(
    store: &Store,
    repo: &Repo,
    to: &weir_core::RepoId,
    subject: &Subject,
    ctx: &Context,
    now: i64,
) -> Result<(), ServiceError> {
    require(subject, &Action::Review(&facts(repo)), repo)?;
    let d = weir_authz::authorize(
        subject,
        &Action::CreateRepo {
            namespace: &to.namespace,
        },
    );
    if !d.allow {
        return Err(ServiceError::Denied {
            reason: d.reason,
            repo: to.to_string(),
            anonymous: matches!(subject, Subject::Anonymous),
        });
    }
    // Into another namespace: its owners' decision too (a member could otherwise drop a repo,
    // and what it carries, into an org it does not run).
    if to.namespace != repo.repo_id.namespace {
        let dest = weir_authz::RepoFacts {
            namespace: to.namespace.clone(),
            ..facts(repo)
        };
        let d = weir_authz::authorize(subject, &Action::Review(&dest));
        if !d.allow {
            return Err(ServiceError::Denied {
                reason: d.reason,
                repo: to.to_string(),
                anonymous: matches!(subject, Subject::Anonymous),
            });
        }
    }
    let e = ctx.event(
        now,
        "repo.moved",
        Some(repo),
        "moved",
        json!({"public": {"repo": repo.repo_id.to_string(), "to": to.to_string()}}),
    );
    match store.db.move_repo_logged(repo, to, &e).await {
        Err(weir_store::StoreError::StateChanged { .. }) => Err(ServiceError::refused(
            crate::Kind::Conflict,
            weir_wire::ErrorCode::IncidentHold,
            format!(
                "{} has an accountability record (releases, incidents, sign-offs or a presumption clock); it stays in {}, whose record it is",
                repo.repo_id, repo.repo_id.namespace
            ),
        )
        .next(format!("rename it within {}", repo.repo_id.namespace))),
        other => Ok(other?),
    }
}
