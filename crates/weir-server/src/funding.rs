//! Funding pools, their ledger, bounty payouts and members' statements over HTTP; the rules
//! are [`weir_registry::funding`]. Pools and their balances are public; who pledged or was
//! paid is shown to that account and to operators.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use weir_core::ledger::{Balance, BountyRule, BountyRules, EntryKind};
use weir_registry::funding::{self as svc, Currency};
use weir_store::funding::{Entry, Payout, Pool};
use weir_wire::funding as wire;

use crate::auth::Caller;
use crate::extract::RequestMeta;
use crate::extract::{Json as JsonBody, Path, Query};
use crate::{ApiError, AppState, iso8601, now};

pub fn routes() -> crate::routes::Routes {
    crate::routes::Routes::new()
        .add(
            "/api/v1/funding/pools",
            &["GET", "POST"],
            get(pools).post(create),
        )
        .add("/api/v1/funding/pools/{name}", &["GET"], get(pool))
        .add(
            "/api/v1/funding/pools/{name}/pledges",
            &["POST"],
            post(pledge),
        )
        .add(
            "/api/v1/funding/pools/{name}/disbursements",
            &["POST"],
            post(disburse),
        )
        .add("/api/v1/funding/payouts", &["GET"], get(payouts))
        .add(
            "/api/v1/funding/payouts/{id}/decision",
            &["POST"],
            post(decide),
        )
        .add(
            "/api/v1/funding/statements/{user}",
            &["GET"],
            get(statement),
        )
}

fn balance_json(b: &Balance, c: &Currency) -> wire::Balance {
    wire::Balance {
        pledged: c.format(b.pledged),
        committed: c.format(b.committed),
        paid: c.format(b.paid),
        disbursed: c.format(b.disbursed),
        available: c.format(b.available()),
    }
}

pub(crate) fn entry_json(e: &Entry, c: &Currency, caller: &Caller) -> wire::LedgerEntry {
    wire::LedgerEntry {
        id: e.id,
        pool: e.pool.clone(),
        kind: e.kind.as_str().to_string(),
        amount: c.format(e.amount),
        // Pledges are public (the pooled ledger names its funders); a payout's beneficiary is
        // theirs and the operators' to see.
        party: e.party.clone().filter(|p| {
            matches!(e.kind, EntryKind::Pledge | EntryKind::Withdraw)
                || svc::sees_parties(&caller.subject, p)
        }),
        payout: e.payout_id,
        award: e.award_id,
        at: iso8601(e.at),
    }
}

fn rules_json(p: &Pool, c: &Currency) -> Option<wire::BountyRules> {
    let r: BountyRules = serde_json::from_str(&p.rules).ok()?;
    Some(wire::BountyRules {
        pays: r
            .pays
            .iter()
            .map(|x| wire::BountyRule {
                kind: x.kind.clone(),
                class: x.class.clone(),
                min_severity: x.min_severity.clone(),
                suite: x.suite.clone(),
                amount: c.format(x.amount),
            })
            .collect(),
        cap_per_report: c.format(r.cap_per_report),
        cap_per_pool: c.format(r.cap_per_pool),
    })
}

/// The most ledger entries one pool answer lists (page on with `?after=ENTRY`).
const ENTRIES_PAGE: i64 = 1000;

async fn pool_json(
    state: &AppState,
    p: &Pool,
    caller: &Caller,
    after: i64,
) -> Result<wire::Pool, ApiError> {
    let c = &state.config.currency;
    let db = &state.store.db;
    let balance = db
        .pool_balance(p.id)
        .await
        .map_err(weir_registry::ServiceError::from)?;
    let entries = db
        .ledger_entries(Some(p.id), None, after, ENTRIES_PAGE)
        .await
        .map_err(weir_registry::ServiceError::from)?;
    Ok(wire::Pool {
        name: p.name.clone(),
        title: p.title.clone(),
        purpose: p.purpose.clone(),
        currency: c.code.clone(),
        rules: rules_json(p, c),
        balance: balance_json(&balance, c),
        entries: entries.iter().map(|e| entry_json(e, c, caller)).collect(),
    })
}

fn payout_json(p: &Payout, c: &Currency, caller: &Caller) -> wire::Payout {
    // The report behind a payout (its repo may be private) is the beneficiary's and the
    // operators' to see.
    let sees = svc::sees_parties(&caller.subject, &p.beneficiary);
    wire::Payout {
        id: p.id,
        pool: p.pool.clone(),
        source: if sees {
            p.source.clone()
        } else {
            "report".into()
        },
        beneficiary: Some(p.beneficiary.clone()).filter(|b| svc::sees_parties(&caller.subject, b)),
        amount: c.format(p.amount),
        state: p.state.clone(),
        proposed_at: iso8601(p.proposed_at),
        decided_at: p.decided_at.map(iso8601),
    }
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    JsonBody(body): JsonBody<wire::PoolSubmission>,
) -> Result<(StatusCode, Json<wire::Pool>), ApiError> {
    let c = &state.config.currency;
    let rules = match &body.rules {
        None => None,
        Some(r) => Some(BountyRules {
            pays: r
                .pays
                .iter()
                .map(|x| {
                    Ok(BountyRule {
                        kind: x.kind.clone(),
                        class: x.class.clone(),
                        min_severity: x.min_severity.clone(),
                        suite: x.suite.clone(),
                        amount: c.parse(&x.amount)?,
                    })
                })
                .collect::<Result<Vec<_>, weir_registry::ServiceError>>()?,
            cap_per_report: c.parse(&r.cap_per_report)?,
            cap_per_pool: c.parse(&r.cap_per_pool)?,
        }),
    };
    let p = svc::create_pool(
        &state.store,
        &caller.subject,
        &body.name,
        &body.title,
        &body.purpose,
        rules.as_ref(),
        &meta.context(&caller),
        now(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(pool_json(&state, &p, &caller, i64::MAX).await?),
    ))
}

async fn pools(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<wire::Pools>, ApiError> {
    let mut out = Vec::new();
    for p in state
        .store
        .db
        .pools()
        .await
        .map_err(weir_registry::ServiceError::from)?
    {
        out.push(pool_json(&state, &p, &caller, i64::MAX).await?);
    }
    Ok(Json(wire::Pools { pools: out }))
}

#[derive(Deserialize)]
pub struct PoolQuery {
    after: Option<i64>,
}

async fn pool(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<PoolQuery>,
) -> Result<Json<wire::Pool>, ApiError> {
    let p = svc::find(&state.store, &name).await?;
    Ok(Json(
        pool_json(&state, &p, &caller, q.after.unwrap_or(0)).await?,
    ))
}

async fn pledge(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<wire::PledgeSubmission>,
) -> Result<(StatusCode, Json<wire::Pool>), ApiError> {
    svc::pledge(
        &state.store,
        &caller.subject,
        &name,
        &body.amount,
        &state.config.currency,
        &meta.context(&caller),
        now(),
    )
    .await?;
    let p = svc::find(&state.store, &name).await?;
    Ok((
        StatusCode::CREATED,
        Json(pool_json(&state, &p, &caller, i64::MAX).await?),
    ))
}

async fn disburse(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<wire::Disbursement>,
) -> Result<(StatusCode, Json<wire::Pool>), ApiError> {
    svc::disburse(
        &state.store,
        &caller.subject,
        &name,
        &body.amount,
        &body.reason,
        body.award,
        &state.config.currency,
        &meta.context(&caller),
        now(),
    )
    .await?;
    let p = svc::find(&state.store, &name).await?;
    Ok((
        StatusCode::CREATED,
        Json(pool_json(&state, &p, &caller, i64::MAX).await?),
    ))
}

#[derive(Deserialize)]
pub struct PayoutsQuery {
    state: Option<String>,
}

async fn payouts(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<PayoutsQuery>,
) -> Result<Json<wire::Payouts>, ApiError> {
    let list = state
        .store
        .db
        .payouts(q.state.as_deref())
        .await
        .map_err(weir_registry::ServiceError::from)?;
    Ok(Json(wire::Payouts {
        payouts: list
            .iter()
            .map(|p| payout_json(p, &state.config.currency, &caller))
            .collect(),
    }))
}

async fn decide(
    State(state): State<AppState>,
    caller: Caller,
    meta: RequestMeta,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<wire::PayoutDecision>,
) -> Result<Json<wire::Payout>, ApiError> {
    let p = svc::decide_payout(
        &state.store,
        &caller.subject,
        id,
        &body.decision,
        &body.reason,
        &meta.context(&caller),
        now(),
    )
    .await?;
    Ok(Json(payout_json(&p, &state.config.currency, &caller)))
}

async fn statement(
    State(state): State<AppState>,
    caller: Caller,
    Path(user): Path<String>,
) -> Result<Json<wire::Statement>, ApiError> {
    // Public: what a member pledged; theirs and the operators': what was paid to them.
    let full = svc::sees_parties(&caller.subject, &user);
    let c = &state.config.currency;
    let entries = state
        .store
        .db
        .ledger_entries(None, Some(&user), 0, 100_000)
        .await
        .map_err(weir_registry::ServiceError::from)?
        .into_iter()
        .filter(|e| full || matches!(e.kind, EntryKind::Pledge | EntryKind::Withdraw))
        .collect::<Vec<_>>();
    let mut pools: Vec<wire::StatementLine> = Vec::new();
    let mut totals: Vec<(String, i64, i64)> = Vec::new();
    for e in &entries {
        let i = match totals.iter().position(|t| t.0 == e.pool) {
            Some(i) => i,
            None => {
                totals.push((e.pool.clone(), 0, 0));
                totals.len() - 1
            }
        };
        use weir_core::ledger::EntryKind::*;
        match e.kind {
            Pledge => totals[i].1 += e.amount,
            Withdraw => totals[i].1 -= e.amount,
            Payout => totals[i].2 += e.amount,
            Reverse => totals[i].2 -= e.amount,
            _ => {}
        }
    }
    for (pool, pledged, paid) in totals {
        pools.push(wire::StatementLine {
            pool,
            pledged: c.format(pledged),
            paid_to_member: c.format(paid),
        });
    }
    Ok(Json(wire::Statement {
        member: user,
        currency: c.code.clone(),
        entries: entries.iter().map(|e| entry_json(e, c, &caller)).collect(),
        pools,
    }))
}
