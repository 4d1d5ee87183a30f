//! Safety-research funding and the pooled funding ledger (issue 14, points 2 and 4). Pools of
//! one purpose (bounty, compute, grants) receive members' pledges; bounty pools pay for
//! confirmed incident and vulnerability reports by their rules: a payout is proposed
//! automatically when a report is confirmed (its amount reserved), and decided by an operator
//! who is not its beneficiary; compute and grants pools disburse. Every entry is appended to
//! the ledger only if the pool's balance stays non-negative, and every entry is an event on the
//! transparency log. Amounts are exact integers of the registry's one currency's minor unit.
//! weir records obligations and decisions; it moves no money.

use serde_json::json;
use weir_authz::{Action, Subject};
use weir_core::ledger::{self, Balance, EntryKind};
pub use weir_core::ledger::{BountyRule, BountyRules};
use weir_store::funding::{Payout, Pool, ledger_refusal};
use weir_store::{Store, StoreError};
use weir_wire::ErrorCode;

use crate::access::signed_in;
use crate::{Context, Kind, ServiceError};

/// The registry's one currency: its code and the digits of its minor unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Currency {
    pub code: String,
    pub decimals: u32,
}

impl Default for Currency {
    fn default() -> Currency {
        Currency {
            code: "EUR".into(),
            decimals: 2,
        }
    }
}

impl Currency {
    pub fn parse(&self, s: &str) -> Result<i64, ServiceError> {
        ledger::parse_amount(s, self.decimals).map_err(|m| {
            refused(
                Kind::Invalid,
                ErrorCode::InvalidAmount,
                format!("{m} ({})", self.code),
            )
        })
    }

    pub fn format(&self, minor: i64) -> String {
        ledger::format_amount(minor, self.decimals)
    }
}

/// Pledges one account may make in a day.
pub const MAX_PLEDGES_PER_DAY: i64 = 20;

fn refused(kind: Kind, code: ErrorCode, message: impl Into<String>) -> ServiceError {
    ServiceError::refused(kind, code, message)
}

fn operator(subject: &Subject, what: &str) -> Result<(), ServiceError> {
    signed_in(subject)?;
    if weir_authz::authorize(subject, &Action::Administer).allow {
        Ok(())
    } else {
        Err(refused(
            Kind::Forbidden,
            ErrorCode::NotOperator,
            format!("Only operators (with an admin token) {what}."),
        ))
    }
}

fn pool_not_found(name: &str) -> ServiceError {
    refused(
        Kind::NotFound,
        ErrorCode::PoolNotFound,
        format!("no funding pool {name}"),
    )
    .next("list them: weir pool list")
}

fn ledger_error(e: StoreError) -> ServiceError {
    match ledger_refusal(&e) {
        Some(m) => refused(Kind::Conflict, ErrorCode::InsufficientFunds, m.to_string()),
        None => e.into(),
    }
}

pub async fn find(store: &Store, name: &str) -> Result<Pool, ServiceError> {
    store
        .db
        .pool(name)
        .await?
        .ok_or_else(|| pool_not_found(name))
}

/// Opens a pool (operators): a bounty pool with its rules, or a compute or grants pool.
#[allow(clippy::too_many_arguments)]
pub async fn create_pool(
    store: &Store,
    subject: &Subject,
    name: &str,
    title: &str,
    purpose: &str,
    rules: Option<&BountyRules>,
    ctx: &Context,
    now: i64,
) -> Result<Pool, ServiceError> {
    operator(subject, "open funding pools")?;
    if crate::board::governed(store).await? && purpose == "bounty" {
        return Err(crate::board::board_required("a bounty pool's rules"));
    }
    let me = signed_in(subject)?.to_string();
    create_pool_decided(store, name, title, purpose, rules, &me, ctx, now).await
}

/// Opens a pool as decided (by an operator where no board governs, or by the board): the
/// checks of [`create_pool`] without who may.
#[allow(clippy::too_many_arguments)]
pub async fn create_pool_decided(
    store: &Store,
    name: &str,
    title: &str,
    purpose: &str,
    rules: Option<&BountyRules>,
    by: &str,
    ctx: &Context,
    now: i64,
) -> Result<Pool, ServiceError> {
    if !weir_core::grants::plain_name(name) {
        return Err(refused(
            Kind::Invalid,
            ErrorCode::InvalidName,
            format!("pool name {name:?}: 1 to 40 lowercase letters, digits, '-' or '_'"),
        ));
    }
    let title = title.trim();
    if title.is_empty() || title.len() > 200 {
        return Err(refused(
            Kind::Invalid,
            ErrorCode::InvalidField,
            "the title is 1 to 200 characters",
        ));
    }
    let rules_json = match (purpose, rules) {
        ("bounty", Some(r)) => {
            r.check()
                .map_err(|m| refused(Kind::Invalid, ErrorCode::InvalidField, m))?;
            serde_json::to_string(r).map_err(|e| StoreError::Corrupt(e.to_string()))?
        }
        ("bounty", None) => {
            return Err(refused(
                Kind::Invalid,
                ErrorCode::MissingField,
                "a bounty pool needs its rules: what pays, how much, the caps",
            ));
        }
        ("compute" | "grants", None) => "{}".to_string(),
        ("compute" | "grants", Some(_)) => {
            return Err(refused(
                Kind::Invalid,
                ErrorCode::InvalidField,
                "only bounty pools have rules",
            ));
        }
        (other, _) => {
            return Err(refused(
                Kind::Invalid,
                ErrorCode::InvalidField,
                format!("purpose {other:?}: bounty, compute or grants"),
            ));
        }
    };
    let ev = ctx.event(
        now,
        "funding.pool",
        None,
        purpose,
        json!({"public": {"pool": name, "purpose": purpose, "rules": serde_json::from_str::<serde_json::Value>(&rules_json).unwrap_or_default()}}),
    );
    store
        .db
        .create_pool_logged(name, title, purpose, &rules_json, by, now, &ev)
        .await
        .map_err(|e| match e {
            StoreError::Exists(m) => refused(
                Kind::Conflict,
                ErrorCode::AlreadyExists,
                format!("{m} already exists"),
            ),
            other => other.into(),
        })
}

fn entry_event(
    ctx: &Context,
    now: i64,
    pool: &str,
    kind: EntryKind,
    amount: i64,
    extra: serde_json::Value,
) -> weir_core::Event {
    let mut public = json!({"pool": pool, "entry": kind.as_str(), "amount": amount});
    if let (Some(p), Some(e)) = (public.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            p.insert(k.clone(), v.clone());
        }
    }
    ctx.event(
        now,
        "funding.entry",
        None,
        kind.as_str(),
        json!({ "public": public }),
    )
}

/// A member's pledge to a pool (any account, write token): an obligation recorded, not money
/// moved.
pub async fn pledge(
    store: &Store,
    subject: &Subject,
    pool: &str,
    amount: &str,
    currency: &Currency,
    ctx: &Context,
    now: i64,
) -> Result<Balance, ServiceError> {
    let me = signed_in(subject)?.to_string();
    let d = weir_authz::authorize(subject, &Action::Pledge);
    if !d.allow {
        return Err(crate::research::project_denied(d.reason, pool));
    }
    let p = find(store, pool).await?;
    let minor = currency.parse(amount)?;
    // Pledges are unverified obligations: bounded per account and day, so no account floods a
    // pool's ledger.
    if store.db.pledges_since(&me, now - 86_400).await? >= MAX_PLEDGES_PER_DAY {
        return Err(refused(
            Kind::RateLimited,
            ErrorCode::RateLimited,
            format!("at most {MAX_PLEDGES_PER_DAY} pledges a day per account"),
        ));
    }
    // A pledge names its member publicly: the pooled ledger is the funders' public record.
    let mut ev = entry_event(
        ctx,
        now,
        &p.name,
        EntryKind::Pledge,
        minor,
        json!({"member": me}),
    );
    ev.subject = Some(me.clone());
    store
        .db
        .append_entry_logged(p.id, EntryKind::Pledge, Some(&me), minor, None, now, &ev)
        .await
        .map_err(ledger_error)
}

/// Spending from a compute or grants pool (operators), with its reason (kept off the public
/// entry), optionally funding a grant award (named on the public entry).
#[allow(clippy::too_many_arguments)]
pub async fn disburse(
    store: &Store,
    subject: &Subject,
    pool: &str,
    amount: &str,
    reason: &str,
    award: Option<i64>,
    currency: &Currency,
    ctx: &Context,
    now: i64,
) -> Result<Balance, ServiceError> {
    operator(subject, "disburse from pools")?;
    let p = find(store, pool).await?;
    if p.purpose == "bounty" {
        return Err(refused(
            Kind::Conflict,
            ErrorCode::InvalidTransition,
            "a bounty pool pays only decided payouts",
        ));
    }
    if reason.trim().is_empty() || reason.len() > 2000 {
        return Err(refused(
            Kind::Invalid,
            ErrorCode::ReasonRequired,
            "a disbursement needs a reason of 1 to 2000 characters",
        ));
    }
    let minor = currency.parse(amount)?;
    if let Some(id) = award {
        let a = store.db.award(id).await?.ok_or_else(|| {
            refused(
                Kind::NotFound,
                ErrorCode::AwardNotFound,
                format!("no award {id}"),
            )
            .next("weir grant awards lists them")
        })?;
        if a.revoked_at.is_some() {
            return Err(refused(
                Kind::Conflict,
                ErrorCode::AwardRevoked,
                format!("award {id} is revoked: nothing more is disbursed for it"),
            ));
        }
    }
    let extra = match award {
        Some(id) => json!({ "award": id }),
        None => json!({}),
    };
    let mut ev = entry_event(ctx, now, &p.name, EntryKind::Disburse, minor, extra);
    ev.details["reason"] = json!(reason.trim());
    store
        .db
        .append_entry_logged(p.id, EntryKind::Disburse, None, minor, award, now, &ev)
        .await
        .map_err(ledger_error)
}

/// Proposes the payouts a just-confirmed report earns, one per bounty pool whose rules cover
/// it, each reserving its amount (capped per report, by what the pool may still pay, and by
/// what is available). Never for an anonymous report, nor for one by the publishing
/// namespace's own members.
pub async fn propose_for_incident(
    store: &Store,
    i: &weir_store::incidents::Incident,
    repo: &weir_store::Repo,
    ctx: &Context,
    now: i64,
) -> Result<Vec<Payout>, ServiceError> {
    let Some(reporter) = i.reporter.clone() else {
        return Ok(vec![]);
    };
    let (kind, class, severity) = (
        i.kind.as_str(),
        i.class.as_str(),
        i.severity.map(|s| s.as_str()),
    );
    propose(
        store,
        &format!("incident:{}", i.osv_id),
        &reporter,
        |r| r.amount_for(kind, class, severity),
        repo,
        ctx,
        now,
    )
    .await
}

/// Proposes the payouts an evaluation result earns once an accredited evaluator signed it (it
/// then counts in classification), to the account that imported it: by the pools' evaluation
/// rules, capped as for reports; never to the publishing namespace's own members.
pub async fn propose_for_evaluation(
    store: &Store,
    result_id: &str,
    suite: &str,
    imported_by: &str,
    repo: &weir_store::Repo,
    ctx: &Context,
    now: i64,
) -> Result<Vec<Payout>, ServiceError> {
    propose(
        store,
        &format!("evaluation:{result_id}"),
        imported_by,
        |r| r.amount_for_evaluation(suite),
        repo,
        ctx,
        now,
    )
    .await
}

async fn propose(
    store: &Store,
    source: &str,
    beneficiary: &str,
    earns: impl Fn(&BountyRules) -> Option<i64>,
    repo: &weir_store::Repo,
    ctx: &Context,
    now: i64,
) -> Result<Vec<Payout>, ServiceError> {
    let ns = repo.repo_id.namespace.as_str();
    let own = beneficiary == ns
        || store
            .db
            .orgs_of(beneficiary)
            .await?
            .iter()
            .any(|(o, _)| o.as_str() == ns);
    if own {
        return Ok(vec![]);
    }
    let mut out = Vec::new();
    for pool in store.db.pools().await? {
        if pool.purpose != "bounty" {
            continue;
        }
        let rules: BountyRules = serde_json::from_str(&pool.rules)
            .map_err(|e| StoreError::Corrupt(format!("pool {} rules: {e}", pool.name)))?;
        let Some(amount) = earns(&rules) else {
            continue;
        };
        let b = store.db.pool_balance(pool.id).await?;
        let room = rules.cap_per_pool - b.committed - b.paid;
        let amount = amount
            .min(rules.cap_per_report)
            .min(room)
            .min(b.available());
        if amount <= 0 {
            continue;
        }
        let name = pool.name.clone();
        match store
            .db
            .propose_payout_logged(
                pool.id,
                source,
                beneficiary,
                amount,
                rules.cap_per_pool,
                now,
                |id| {
                    let mut ev = entry_event(
                        ctx,
                        now,
                        &name,
                        EntryKind::Commit,
                        amount,
                        json!({"payout": id, "source": source}),
                    );
                    // About the repo: sealed on the log when it is private.
                    ev.repo = Some(repo.repo_id.to_string());
                    ev.subject = Some(beneficiary.to_string());
                    ev
                },
            )
            .await
        {
            Ok(p) => out.push(p),
            // Proposed already, or the funds went meanwhile.
            Err(StoreError::Exists(_)) => {}
            Err(e) if ledger_refusal(&e).is_some() => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// An operator who is not the beneficiary pays (`pay`) or rejects a proposed payout, or
/// reverses (`reverse`) a paid one, with a reason.
pub async fn decide_payout(
    store: &Store,
    subject: &Subject,
    id: i64,
    decision: &str,
    reason: &str,
    ctx: &Context,
    now: i64,
) -> Result<Payout, ServiceError> {
    let me = signed_in(subject)?.to_string();
    let p = store.db.payout(id).await?.ok_or_else(|| {
        refused(
            Kind::NotFound,
            ErrorCode::PayoutNotFound,
            format!("no payout {id}"),
        )
    })?;
    let d = weir_authz::authorize(
        subject,
        &Action::DecidePayout {
            beneficiary: p.beneficiary == me,
        },
    );
    if !d.allow {
        return Err(if d.reason == weir_authz::Reason::OwnRequest {
            refused(
                Kind::Forbidden,
                ErrorCode::OwnRequest,
                format!("Payout {id} is yours: another operator decides it."),
            )
        } else {
            refused(
                Kind::Forbidden,
                ErrorCode::NotOperator,
                "Only operators (with an admin token) decide payouts.",
            )
        });
    }
    let reason = reason.trim();
    if reason.is_empty() || reason.len() > 2000 {
        return Err(refused(
            Kind::Invalid,
            ErrorCode::ReasonRequired,
            "a payout decision needs a reason of 1 to 2000 characters",
        ));
    }
    // The report that earned it must still stand when it is paid.
    let incident = match p.source.strip_prefix("incident:") {
        Some(osv) => store.db.incident_by_osv(osv).await?,
        None => None,
    };
    if decision == "pay"
        && p.source.starts_with("incident:")
        && !incident.as_ref().is_some_and(|i| {
            use weir_core::incident::State;
            matches!(
                i.state,
                State::Confirmed | State::Mitigated | State::Disclosed
            )
        })
    {
        return Err(refused(
            Kind::Conflict,
            ErrorCode::InvalidTransition,
            format!("{} is no longer confirmed: reject payout {id}", p.source),
        ));
    }
    let (from, to, entry) = match decision {
        "pay" => ("proposed", "paid", EntryKind::Payout),
        "reject" => ("proposed", "rejected", EntryKind::Release),
        "reverse" => ("paid", "reversed", EntryKind::Reverse),
        other => {
            return Err(refused(
                Kind::Invalid,
                ErrorCode::InvalidDecision,
                format!("unknown decision {other:?}"),
            )
            .next("pay, reject or reverse"));
        }
    };
    let mut ev = entry_event(
        ctx,
        now,
        &p.pool,
        entry,
        p.amount,
        json!({"payout": id, "source": p.source}),
    );
    ev.subject = Some(p.beneficiary.clone());
    ev.details["reason"] = json!(reason);
    if let Some(i) = &incident
        && let Some(r) = store.db.repo_by_id(i.repo_id).await?
    {
        ev.repo = Some(r.repo_id.to_string());
    }
    store
        .db
        .move_payout_logged(id, from, to, entry, &me, now, &ev)
        .await
        .map_err(|e| match e {
            StoreError::StateChanged { .. } if ledger_refusal(&e).is_none() => refused(
                Kind::Conflict,
                ErrorCode::InvalidTransition,
                format!("payout {id} is {}, not {from}", p.state),
            ),
            other => ledger_error(other),
        })?;
    store
        .db
        .payout(id)
        .await?
        .ok_or_else(|| ServiceError::from(StoreError::NotFound(format!("payout {id}"))))
}

/// Whose entries `subject` may see in full (with the party named): their own, and everyone's
/// for operators.
pub fn sees_parties(subject: &Subject, party: &str) -> bool {
    weir_authz::authorize(
        subject,
        &Action::ReadStatement {
            own: subject.name().is_some_and(|n| n.as_str() == party),
        },
    )
    .allow
}
