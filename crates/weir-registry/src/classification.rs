//! Classification: the minimum tier the policy computes for a revision, and [`reclassify`], which
//! stores a repo's classification and moves its effective tier with a logged event in the same
//! transaction, cascading to derivatives.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use weir_core::card::{self, CardFacts};
use weir_core::eval::{Domain, ResultRecord};
use weir_core::policy::{
    BaseInput, Classification, EvidenceInput, EvidenceState, HazardSeverity, Inputs, ResultInput,
    classify,
};
use weir_core::{CommitId, Event, RepoId, RepoPath, Revision};
use weir_store::evals::StoredClassification;
use weir_store::{Repo, Store, StoreError};
use weir_wire::ErrorCode;

use crate::clock::iso8601;
use crate::policy::{PolicyInForce, policy_in_force};
use crate::{Kind, ServiceError};

/// How far a tier change cascades through derivatives.
const MAX_CASCADE: usize = 8;

/// The card facts of `README.md` at a commit (empty facts when there is no card).
pub async fn card_facts(
    store: &Store,
    repo: &Repo,
    commit: &CommitId,
) -> Result<CardFacts, StoreError> {
    let Ok(path) = RepoPath::parse("README.md") else {
        return Ok(CardFacts::default());
    };
    let Some(f) = store.db.file(repo, commit, &path).await? else {
        return Ok(CardFacts::default());
    };
    // Card facts are a pure function of the README's bytes: kept by content address.
    if let Ok(cache) = CARDS.lock()
        && let Some(c) = cache.get(&f.sha256)
    {
        return Ok(c.clone());
    }
    let sha = f.sha256.clone();
    // Front matter is at the start; read a little more than its cap so an oversized one is
    // reported rather than cut.
    let cap = (card::MAX_FRONT_MATTER + 8192) as u64;
    let bytes = store
        .blobs
        .read_prefix(&f.sha256, cap)
        .await
        .map_err(|e| StoreError::Corrupt(format!("README.md blob: {e}")))?;
    let facts = card::parse(&String::from_utf8_lossy(&bytes));
    if let Ok(mut cache) = CARDS.lock() {
        if cache.len() >= MAX_CACHED_CARDS {
            cache.clear();
        }
        cache.insert(sha, facts.clone());
    }
    Ok(facts)
}

/// Card facts by the README's SHA-256 (bounded; cleared when full).
static CARDS: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<weir_core::Sha256Hex, CardFacts>>,
> = std::sync::LazyLock::new(Default::default);
const MAX_CACHED_CARDS: usize = 1024;

/// Classifies one revision of a repo under the policy in force.
pub async fn classify_at(
    store: &Store,
    repo: &Repo,
    commit: &CommitId,
) -> Result<(Classification, CardFacts, PolicyInForce), StoreError> {
    classify_with(store, repo, commit, Declared::Kept).await
}

/// Whether a classification counts what the card has ever declared ([`Declared::Kept`], always,
/// except for an operator's correction) or only what the card declares now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Declared {
    Kept,
    CurrentCardOnly,
}

pub async fn classify_with(
    store: &Store,
    repo: &Repo,
    commit: &CommitId,
    declared: Declared,
) -> Result<(Classification, CardFacts, PolicyInForce), StoreError> {
    let policy = policy_in_force(store).await?;
    let stored = store.db.classification(repo).await?;
    let mut card = card_facts(store, repo, commit).await?;
    // A copy made by `duplicate` derives from its source, whatever its card says.
    if let Some((source, _)) = store.db.lineage(repo).await? {
        let name = source.repo_id.to_string();
        if !card.base_models.contains(&name) {
            card.base_models.push(name);
        }
    }
    // The card is self-declared: what it has ever declared keeps counting (the highest compute,
    // closed weights, every base model), so a publisher cannot lower the minimum by editing the
    // card; only signed, complete evaluations and operators' decisions lower it.
    if let Some(s) = stored.as_ref().filter(|_| declared == Declared::Kept) {
        card.training_compute_flop = match (card.training_compute_flop, s.declared_compute) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        card.closed_weights |= s.declared_closed;
        for b in &s.bases {
            if !card.base_models.contains(b) {
                card.base_models.push(b.clone());
            }
        }
    }
    let suites = store.db.suites().await?;
    let evaluators = store.db.evaluators().await?;
    let mut results = Vec::new();
    let mut last_assessed = stored.as_ref().and_then(|c| c.assessed_compute);
    // Compute at other evaluated revisions, read once per revision.
    let mut compute_at: std::collections::HashMap<String, Option<f64>> = Default::default();
    for r in store.db.eval_results(repo).await? {
        let Ok(record) = serde_json::from_str::<ResultRecord>(&r.payload) else {
            tracing::error!(result = %r.id, "unreadable stored result payload");
            continue;
        };
        let chance = suites
            .iter()
            .find(|s| s.name == record.suite)
            .map(|s| s.chance)
            .unwrap_or(0.0);
        let accredited = r.evaluator.as_deref().is_some_and(|name| {
            evaluators
                .iter()
                .any(|e| e.name == name && e.revoked_at.is_none())
        });
        if r.evaluator.is_some() && accredited && r.commit != commit.as_str() {
            // An accredited assessment of another revision: the compute it was made at is
            // what the 2x re-assessment rule compares against.
            if !compute_at.contains_key(&r.commit) {
                let x = match CommitId::parse(&r.commit) {
                    Ok(c) => card_facts(store, repo, &c).await?.training_compute_flop,
                    Err(_) => None,
                };
                compute_at.insert(r.commit.clone(), x);
            }
            if let Some(Some(x)) = compute_at.get(&r.commit) {
                last_assessed = Some(last_assessed.map_or(*x, |l: f64| l.max(*x)));
            }
        }
        results.push(ResultInput {
            id: r.id,
            record,
            signed_by: r.evaluator,
            accredited,
            chance,
        });
    }
    let evidence = store
        .db
        .evidence_for_repo(repo)
        .await?
        .into_iter()
        .filter_map(|e| {
            Some(EvidenceInput {
                id: e.id,
                domain: Domain::parse(&e.domain)?,
                state: EvidenceState::parse(&e.state)?,
                severity: e.severity.as_deref().and_then(HazardSeverity::parse),
            })
        })
        .collect();
    let mut bases = Vec::new();
    for b in &card.base_models {
        // A private base counts only for derivatives in its own namespace: to anyone else it is
        // exactly like a missing one, or the derivative's tier would be an oracle for it.
        // A moved base is found by its former name too (the name the card was written with).
        let tier = match RepoId::parse(b) {
            Ok(id) if id != repo.repo_id => {
                let found = match store.db.repo(&id).await? {
                    Some(r) => Some(r),
                    None => store.db.redirect_target(&id).await?,
                };
                found
                    .filter(|b| b.id != repo.id)
                    .filter(|b| !b.private || b.repo_id.namespace == repo.repo_id.namespace)
                    .map(|r| r.tier)
            }
            _ => None,
        };
        bases.push(BaseInput {
            id: b.clone(),
            tier,
        });
    }
    let evaluable: BTreeSet<Domain> = suites.iter().map(|s| s.domain).collect();
    let c = classify(
        &policy.policy,
        &Inputs {
            card: &card,
            revision: commit.as_str(),
            results,
            evidence,
            bases,
            last_assessed_compute: last_assessed,
            evaluable: evaluable.into_iter().collect(),
        },
    );
    Ok((c, card, policy))
}

/// Whether a re-classification may lower a repo's effective tier (towards its chosen tier).
/// Only re-classifications that follow an operator's or an accredited evaluator's decision may
/// (evidence reviewed, a result signed, the policy or the evaluators changed): what a publisher
/// does (a push, a release) and start-up only ever raise, so no stale or self-serving
/// computation lowers a tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lowering {
    Never,
    AfterReview,
}

/// Re-classifies a repo's `main` and stores the result. A changed classification is a logged
/// event; when the policy now asks for a stricter tier than the repo has, the tier is raised in
/// the same transaction. The effective tier is the stricter of the chosen tier and the minimum;
/// it falls back towards the chosen tier only with [`Lowering::AfterReview`]. Derivatives of a
/// repo whose tier changed are re-classified in turn.
pub async fn reclassify(
    store: &Store,
    repo_id: &RepoId,
    actor: Option<&str>,
    lowering: Lowering,
    now: i64,
) -> Result<Option<Classification>, StoreError> {
    let _serialized = store.classify_lock.lock().await;
    let mut queue = vec![(repo_id.clone(), 0usize)];
    // Decisions found stale at their commit (see `put_classification_logged`), taken again.
    let mut retries = 0usize;
    let mut first = None;
    let mut seen = BTreeSet::new();
    while let Some((id, depth)) = queue.pop() {
        if !seen.insert(id.to_string()) {
            continue;
        }
        let Some(repo) = store.db.repo(&id).await? else {
            continue;
        };
        let main = Revision::parse("main").map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let Some(commit) = store.db.resolve(&repo, &main).await? else {
            continue;
        };
        let (c, card, policy) = classify_at(store, &repo, &commit).await?;
        let stored = store.db.classification(&repo).await?;
        let at = now;
        let presumption_since = if c.presumption {
            stored
                .as_ref()
                .and_then(|s| s.presumption_since)
                .or(Some(at))
        } else {
            None
        };
        let assessed_compute = if c.counted_results > 0 {
            card.training_compute_flop
        } else {
            stored.as_ref().and_then(|s| s.assessed_compute)
        };
        // The effective tier: the stricter of the publisher's choice and the policy's minimum.
        // It rises at once when the minimum rises, and falls back towards the choice when the
        // minimum falls (evidence dismissed, a domain ruled out by counting results).
        let floor = match lowering {
            Lowering::AfterReview => c.minimum_tier,
            Lowering::Never => c.minimum_tier.max(repo.tier),
        };
        let effective = repo.chosen_tier.max(floor);
        let raise = (effective > repo.tier).then_some(effective);
        let lower = (effective < repo.tier).then_some(effective);
        let mut events = Vec::new();
        let old = stored
            .as_ref()
            .map(|s| (s.tier, s.rule.clone(), s.policy_sha256.clone()));
        let new = (
            c.minimum_tier,
            c.deciding_rule.map(str::to_string),
            policy.sha256.clone(),
        );
        let ev = |action: &str, reason: &str, public: Value| Event {
            at,
            actor: actor.map(str::to_string),
            action: action.into(),
            repo: Some(id.to_string()),
            subject: None,
            decision: "change".into(),
            reason: reason.into(),
            request_id: None,
            user_agent: None,
            details: json!({ "public": public }),
        };
        if old.as_ref() != Some(&new) || raise.is_some() || lower.is_some() {
            events.push(ev(
                "classification.changed",
                c.minimum_tier.as_str(),
                json!({
                    "repo": id.to_string(),
                    "commit": commit.as_str(),
                    "from": stored.as_ref().map(|s| s.tier.as_str()),
                    "to": c.minimum_tier.as_str(),
                    "rule": c.deciding_rule,
                    "policy_version": policy.policy.version,
                    "policy_sha256": policy.sha256,
                    "tier_raised_from": raise.map(|_| repo.tier.as_str()),
                    "tier_lowered_from": lower.map(|_| repo.tier.as_str()),
                    "chosen_tier": repo.chosen_tier.as_str(),
                }),
            ));
        }
        if presumption_since.is_some()
            && stored.as_ref().and_then(|s| s.presumption_since).is_none()
        {
            let days = policy.policy.compute_presumption.notify_days;
            events.push(ev(
                "presumption.clock_started",
                "notify",
                json!({
                    "repo": id.to_string(),
                    "commit": commit.as_str(),
                    "training_compute_flop": card.training_compute_flop,
                    "due": iso8601(at + days * 86_400),
                }),
            ));
        }
        let record = StoredClassification {
            commit: commit.to_string(),
            tier: c.minimum_tier,
            rule: c.deciding_rule.map(str::to_string),
            policy_sha256: policy.sha256.clone(),
            presumption_since,
            assessed_compute,
            // What the card has ever declared (merged by `classify_at`).
            bases: card.base_models.clone(),
            declared_compute: card.training_compute_flop,
            declared_closed: card.closed_weights,
            updated_at: at,
            // Kept by the store while the clock runs; never written from here.
            notified: stored.as_ref().and_then(|s| s.notified.clone()),
        };
        let unchanged = stored.as_ref().is_some_and(|s| {
            s.tier == record.tier
                && s.rule == record.rule
                && s.policy_sha256 == record.policy_sha256
                && s.presumption_since == record.presumption_since
                && s.assessed_compute == record.assessed_compute
                && s.bases == record.bases
                && s.declared_compute == record.declared_compute
                && s.declared_closed == record.declared_closed
                && s.commit == record.commit
        });
        if !unchanged || raise.is_some() || lower.is_some() || !events.is_empty() {
            match store
                .db
                .put_classification_logged(&repo, &record, Some(floor), &events)
                .await
            {
                Err(StoreError::StateChanged { .. }) if retries < MAX_STALE_RETRIES => {
                    retries += 1;
                    seen.remove(&id.to_string());
                    queue.push((id, depth));
                    continue;
                }
                r => r?,
            }
        }
        if (raise.is_some() || lower.is_some()) && depth < MAX_CASCADE {
            for d in store.db.derivatives_of_any_name(&id).await? {
                queue.push((d, depth + 1));
            }
        }
        if first.is_none() {
            first = Some(c);
        }
    }
    Ok(first)
}

/// How often one reclassification takes a decision again that another process's change made
/// stale before it could commit.
const MAX_STALE_RETRIES: usize = 8;

/// Re-classifies every repo (at start-up and after an operator changes the policy or the
/// evaluators). Returns how many repos had their tier raised.
pub async fn reclassify_all(
    store: &Store,
    actor: Option<&str>,
    lowering: Lowering,
    now: i64,
) -> Result<usize, StoreError> {
    let mut raised = 0;
    for repo in store.db.list_live_repos().await? {
        let before = repo.tier;
        reclassify(store, &repo.repo_id, actor, lowering, now).await?;
        if let Some(after) = store.db.repo(&repo.repo_id).await?
            && after.tier > before
        {
            raised += 1;
        }
    }
    Ok(raised)
}

/// Best-effort re-classification after a change that already committed (a push, a signature).
pub async fn reclassify_logged(
    store: &Store,
    repo_id: &RepoId,
    actor: Option<&str>,
    lowering: Lowering,
    now: i64,
) {
    if let Err(e) = reclassify(store, repo_id, actor, lowering, now).await {
        tracing::error!(repo = %repo_id, error = %e, "re-classification failed");
    }
}

/// The minimum tier the policy computes for a revision, with the rule that sets it.
pub async fn minimum_for(
    store: &Store,
    repo: &Repo,
    commit: &CommitId,
) -> Result<Classification, StoreError> {
    Ok(classify_at(store, repo, commit).await?.0)
}

/// The minimum counting only what the card declares now: for an operator who corrects a
/// misdeclared card (lowering the tier with a reason), after which the declarations are reset.
pub async fn minimum_for_current_card(
    store: &Store,
    repo: &Repo,
    commit: &CommitId,
) -> Result<Classification, StoreError> {
    Ok(
        classify_with(store, repo, commit, Declared::CurrentCardOnly)
            .await?
            .0,
    )
}

/// The error for a tier below what the policy computes, naming the rule.
pub fn below_minimum(
    repo: &Repo,
    commit: &CommitId,
    what: &str,
    c: &Classification,
) -> ServiceError {
    ServiceError::refused(
        Kind::Conflict,
        ErrorCode::BelowPolicyMinimum,
        format!(
            "{}@{} cannot be {what} at {}: the policy requires at least {} ({})",
            repo.repo_id,
            &commit.as_str()[..12],
            repo.tier.as_str(),
            c.minimum_tier.as_str(),
            c.explain()
        ),
    )
    .next(format!(
        "see the decision with: weir classify {}@{}",
        repo.repo_id,
        &commit.as_str()[..12]
    ))
}
