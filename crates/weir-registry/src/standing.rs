//! A publisher's accountability record, the standing it leads to, and the release gate's
//! standing rules.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;
use weir_core::eval::{Domain, ResultRecord};
use weir_core::incident::{self, State as IState};
use weir_core::standing::{Decision, PublisherFacts, Standing, decide};
use weir_core::{CommitId, Tier};
use weir_store::Repo;
use weir_store::evals::StoredResult;
use weir_wire::ErrorCode;
use weir_wire::incidents::{
    PublisherRecord, RecordIncidents, RecordRelease, RecordReleases, UnderClassified,
};

use crate::clock::iso8601;
use weir_store::{Store, StoreError};

use crate::{Kind, ServiceError};

pub struct Record {
    pub facts: PublisherFacts,
    pub decision: Decision,
    /// The record as published.
    pub view: PublisherRecord,
}

/// What deciding "evaluated before release" needs, loaded once per record.
struct EvalContext {
    evaluable: BTreeSet<Domain>,
    accredited: BTreeSet<String>,
}

impl EvalContext {
    async fn load(store: &weir_store::Store) -> Result<EvalContext, StoreError> {
        Ok(EvalContext {
            evaluable: store.db.suites().await?.iter().map(|s| s.domain).collect(),
            accredited: store
                .db
                .evaluators()
                .await?
                .into_iter()
                .filter(|e| e.revoked_at.is_none())
                .map(|e| e.name)
                .collect(),
        })
    }

    /// The evaluable domains that `results` leave without a complete accepted evaluation of
    /// `commit` signed no later than `before`.
    fn missing(&self, results: &[StoredResult], commit: &CommitId, before: i64) -> Vec<Domain> {
        let mut covered = BTreeSet::new();
        for r in results {
            let Ok(rec) = serde_json::from_str::<ResultRecord>(&r.payload) else {
                continue;
            };
            let accredited = r
                .evaluator
                .as_ref()
                .is_some_and(|e| self.accredited.contains(e));
            if rec
                .counts(commit.as_str(), r.evaluator.is_some(), accredited)
                .is_ok()
                && r.signed_at.is_some_and(|t| t <= before)
            {
                covered.insert(rec.domain);
            }
        }
        self.evaluable.difference(&covered).copied().collect()
    }
}

/// Whether `commit` has complete accepted evaluations of every evaluable domain, signed no later
/// than `before`; and which domains lack one.
pub async fn evaluated(
    store: &weir_store::Store,
    repo: &Repo,
    commit: &CommitId,
    before: i64,
) -> Result<(bool, Vec<Domain>), StoreError> {
    let ctx = EvalContext::load(store).await?;
    let missing = ctx.missing(&store.db.eval_results(repo).await?, commit, before);
    Ok((missing.is_empty(), missing))
}

fn median(mut v: Vec<i64>) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    })
}

/// The record of `namespace` now, and the standing it leads to.
pub async fn record(
    store: &weir_store::Store,
    namespace: &str,
    now: i64,
) -> Result<Record, StoreError> {
    let at = now;
    let policy = crate::policy::policy_in_force(store).await?.policy;
    let rules = policy.standing.clone();
    let repos: Vec<Repo> = store
        .db
        .list_repos()
        .await?
        .into_iter()
        .filter(|r| r.repo_id.namespace.as_str() == namespace && !r.private)
        .collect();
    let releases = store.db.releases_of_namespace(namespace).await?;
    let mut evaluated_count = 0;
    let mut under = Vec::new();
    let mut release_list = Vec::new();
    let ctx = EvalContext::load(store).await?;
    let mut results: std::collections::HashMap<i64, Vec<StoredResult>> = Default::default();
    for (id, rel) in &releases {
        let Some(repo) = repos.iter().find(|r| &r.repo_id == id) else {
            continue;
        };
        if let std::collections::hash_map::Entry::Vacant(slot) = results.entry(repo.id) {
            slot.insert(store.db.eval_results(repo).await?);
        }
        let ok = results
            .get(&repo.id)
            .is_some_and(|rs| ctx.missing(rs, &rel.commit, rel.created_at).is_empty());
        if ok {
            evaluated_count += 1;
        }
        let later_higher = rel.tier.is_some_and(|t| repo.tier > t);
        if later_higher {
            under.push(UnderClassified {
                repo: id.to_string(),
                commit: rel.commit.to_string(),
                released_at_tier: rel.tier.map(|t| t.as_str().to_string()),
                tier_now: repo.tier.as_str().to_string(),
            });
        }
        release_list.push(RecordRelease {
            repo: id.to_string(),
            commit: rel.commit.to_string(),
            released_at: iso8601(rel.created_at),
            tier_at_release: rel.tier.map(|t| t.as_str().to_string()),
            pre_release_evaluations: ok,
        });
    }
    let window = rules.window_days * incident::DAY;
    let mut by_kind: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    let mut by_state: BTreeMap<String, usize> = BTreeMap::new();
    let mut triage_times = Vec::new();
    let (mut recent_high, mut recent_critical, mut overdue_reports) = (0, 0, 0);
    for i in store.db.incidents_of_namespace(namespace).await? {
        if !repos.iter().any(|r| r.id == i.repo_id) {
            continue;
        }
        *by_state.entry(i.state.as_str().to_string()).or_default() += 1;
        let st = i.state;
        let confirmed = matches!(
            st,
            IState::Confirmed | IState::Mitigated | IState::Disclosed
        );
        if confirmed {
            *by_kind
                .entry(i.kind.as_str().to_string())
                .or_default()
                .entry(i.severity.map_or("unrated", |s| s.as_str()).to_string())
                .or_default() += 1;
            if i.confirmed_at.is_some_and(|c| at - c <= window) {
                match i.severity {
                    Some(incident::Severity::Critical) => recent_critical += 1,
                    Some(incident::Severity::High) => recent_high += 1,
                    _ => {}
                }
            }
        }
        if let Some(t) = i.triaged_at {
            triage_times.push(t - i.aware_at);
        }
        let times = crate::incident_rows::times(&i);
        let class = i.class;
        // Regulatory reports (initial, updates, final) — disclosure is the coordinator's clock.
        if incident::clocks(class, st, &times, at)
            .iter()
            .any(|c| c.overdue && c.name != "disclosure")
        {
            overdue_reports += 1;
        }
    }
    let facts = PublisherFacts {
        releases: release_list.len(),
        evaluated_releases: evaluated_count,
        recent_high,
        recent_critical,
        overdue_reports,
        under_classified: under.len(),
    };
    let decision = decide(&rules, &facts);
    let view = PublisherRecord {
        publisher: namespace.to_string(),
        standing: decision.standing.as_str().to_string(),
        rule: decision.rule.to_string(),
        detail: decision.detail.clone(),
        rules_source: rules.source.clone(),
        policy_version: policy.version.clone(),
        releases: RecordReleases {
            count: facts.releases,
            with_pre_release_evaluations: facts.evaluated_releases,
            share_evaluated: (facts.releases > 0)
                .then(|| facts.evaluated_releases as f64 / facts.releases as f64),
            list: release_list,
        },
        incidents: RecordIncidents {
            confirmed_by_kind_and_severity: by_kind,
            by_state,
            median_hours_to_triage: median(triage_times)
                .map(|s| (s as f64 / 3600.0 * 10.0).round() / 10.0),
            overdue_reports: facts.overdue_reports,
            recent_high: facts.recent_high,
            recent_critical: facts.recent_critical,
        },
        under_classified: under,
        computed_at: iso8601(at),
        standing_since: None,
    };
    Ok(Record {
        facts,
        decision,
        view,
    })
}

/// The release gate's standing rules: suspended never releases; probation needs accredited
/// evaluations of every evaluable domain on the revision and an operator's sign-off; good
/// standing self-classifies T0/T1 and needs the evaluations for T2 and above.
pub async fn release_allowed(
    store: &Store,
    repo: &Repo,
    commit: &CommitId,
    actor: Option<&str>,
    now: i64,
) -> Result<(), ServiceError> {
    let ns = repo.repo_id.namespace.as_str();
    let rec = update_standing(store, ns, actor, now).await?;
    let d = &rec.decision;
    let id = repo.repo_id.to_string();
    let short = &commit.as_str()[..12];
    match d.standing {
        Standing::Suspended => {
            return Err(ServiceError::refused(
                Kind::Conflict,
                ErrorCode::PublisherSuspended,
                format!(
                    "{ns} is suspended (rule {}: {}) and cannot release",
                    d.rule, d.detail
                ),
            )
            .next(format!("see the record: weir publisher record {ns}")));
        }
        Standing::Probation => {
            let (ok, missing) = evaluated(store, repo, commit, now).await?;
            if !ok {
                return Err(evaluations_required(
                    &id,
                    short,
                    &missing,
                    &format!("{ns} is on probation (rule {}: {})", d.rule, d.detail),
                ));
            }
            if store.db.signoff(repo, commit.as_str()).await?.is_none() {
                return Err(ServiceError::refused(
                    Kind::Conflict,
                    ErrorCode::SignoffRequired,
                    format!(
                        "{ns} is on probation (rule {}: {}): releasing {id}@{short} needs an operator's sign-off",
                        d.rule, d.detail
                    ),
                )
                .next(format!(
                    "an operator runs: weir signoff {id}@{} --reason TEXT",
                    commit.as_str()
                )));
            }
        }
        Standing::Good => {
            if repo.tier >= Tier::T2 {
                let (ok, missing) = evaluated(store, repo, commit, now).await?;
                if !ok {
                    return Err(evaluations_required(
                        &id,
                        short,
                        &missing,
                        &format!(
                            "{ns} is in good standing, which self-classifies T0/T1 releases only; {id} is {}",
                            repo.tier.as_str()
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn evaluations_required(id: &str, short: &str, missing: &[Domain], why: &str) -> ServiceError {
    ServiceError::refused(
        Kind::Conflict,
        ErrorCode::EvaluationsRequired,
        format!(
            "{why}: releasing {id}@{short} needs complete evaluations signed by an accredited evaluator for {}",
            missing
                .iter()
                .map(|d| d.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
    .next(format!(
        "import and sign them: weir eval import FILE {id}@{short} --suite SUITE --evaluator NAME --key FILE"
    ))
}

/// Recomputes a publisher's standing; a change is stored and logged with the rule that caused it.
pub async fn update_standing(
    store: &weir_store::Store,
    namespace: &str,
    actor: Option<&str>,
    now: i64,
) -> Result<Record, StoreError> {
    let rec = record(store, namespace, now).await?;
    let stored = store.db.standing(namespace).await?;
    let changed = stored
        .as_ref()
        .map(|s| (s.standing.as_str(), s.rule.as_str()))
        != Some((rec.decision.standing.as_str(), rec.decision.rule));
    // A publisher with nothing on record starts in good standing without an event.
    if changed && (stored.is_some() || rec.decision.standing != weir_core::standing::Standing::Good)
    {
        let e = weir_core::Event {
            at: now,
            actor: actor.map(str::to_string),
            action: "standing.changed".into(),
            repo: None,
            subject: Some(namespace.to_string()),
            decision: "change".into(),
            reason: rec.decision.rule.into(),
            request_id: None,
            user_agent: None,
            details: json!({"public": {
                "publisher": namespace,
                "from": stored.as_ref().map(|s| s.standing.clone()),
                "to": rec.decision.standing.as_str(),
                "rule": rec.decision.rule,
                "detail": rec.decision.detail,
            }}),
        };
        store
            .db
            .put_standing_logged(
                &weir_store::incidents::StandingRecord {
                    namespace: namespace.to_string(),
                    standing: rec.decision.standing.as_str().into(),
                    rule: rec.decision.rule.into(),
                    detail: rec.decision.detail.clone(),
                    since: now,
                },
                &e,
            )
            .await?;
    }
    Ok(rec)
}
