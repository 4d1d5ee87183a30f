//! Safety-research funding and the pooled ledger (`src/funding.rs`): pools opened by operators,
//! pledges by members, bounty payouts proposed when a report is confirmed (capped, never past
//! what is pledged), decided by an operator who is not the beneficiary, reversed; a pool's
//! balance is the replay of its public entries; statements per member. And what must never
//! happen: a balance below zero, an inexact amount, a payout to the publisher's own members, a
//! beneficiary deciding their own payout, someone else's statement.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::Scope;
use weir_core::ledger::{Balance, EntryKind};

use crate::common::TestApp;
use crate::incidents::incident_post;

fn code(v: &Value) -> &str {
    v["error"].as_str().unwrap_or("")
}

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    app.send_json(Method::POST, path, Some(token), body).await
}

/// Reports an incident of `kind` on alice/m as `reporter`; an operator triages it at
/// `severity` and confirms it.
pub(crate) async fn confirmed(
    app: &TestApp,
    reporter: &str,
    op: &str,
    kind: &str,
    severity: &str,
) -> String {
    let (s, v) = incident_post(
        app,
        "/api/v1/incidents",
        Some(reporter),
        None,
        json!({"repo": "alice/m", "kind": kind, "class": "cyber", "summary": "s"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().expect("id").to_string();
    let path = format!("/api/v1/incidents/{id}/transition");
    for body in [
        json!({"to": "triaged", "severity": severity, "reason": "r"}),
        json!({"to": "confirmed", "reason": "r"}),
    ] {
        let (s, v) = incident_post(app, &path, Some(op), None, body).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    id
}

/// The ledger's entries as the API shows them, replayed.
fn replay(pool: &Value) -> Balance {
    let cents = |s: &str| weir_core::ledger::parse_amount(s, 2).expect("amount");
    let entries: Vec<(EntryKind, i64)> = pool["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                EntryKind::parse(e["kind"].as_str().expect("kind")).expect("kind"),
                cents(e["amount"].as_str().expect("amount")),
            )
        })
        .collect();
    Balance::replay(&entries).expect("replays")
}

#[tokio::test]
async fn bounties_pay_confirmed_reports_within_what_is_pledged() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let op = app.user("op", Scope::Admin).await;
    let op2 = app.user("op2", Scope::Admin).await;
    let fred = app.user("fred", Scope::Write).await;
    let fred_read = app.user("fred", Scope::Read).await;
    let rita = app.user("rita", Scope::Write).await;
    let sam = app.user("sam", Scope::Write).await;
    app.repo("alice/m", false).await;
    assert!(
        app.commit("alice/m", "main", &alice, &[("config.json", b"{}")])
            .await
            .status()
            .is_success()
    );
    let pool = json!({"name": "vulns", "title": "Vulnerability bounties", "purpose": "bounty",
        "rules": {"pays": [
            {"kind": "incident", "min_severity": "high", "amount": "250.00"},
            {"kind": "vulnerability", "amount": "100"}],
            "cap_per_report": "200.00", "cap_per_pool": "300.00"}});
    let (s, v) = post(&app, "/api/v1/funding/pools", &fred, pool.clone()).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "not_operator"));
    let mut bad = pool.clone();
    bad["rules"]["pays"][0]["amount"] = json!("1.234");
    let (s, v) = post(&app, "/api/v1/funding/pools", &op, bad).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_amount"),
        "{v}"
    );
    let mut bad = pool.clone();
    bad["rules"]["pays"][0]["kind"] = json!("gossip");
    let (s, _) = post(&app, "/api/v1/funding/pools", &op, bad).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, v) = post(&app, "/api/v1/funding/pools", &op, pool).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // Pledges: exact amounts, a write token.
    let (s, v) = post(
        &app,
        "/api/v1/funding/pools/vulns/pledges",
        &fred,
        json!({"amount": "0.005"}),
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_amount"),
        "{v}"
    );
    let (s, _) = post(
        &app,
        "/api/v1/funding/pools/vulns/pledges",
        &fred_read,
        json!({"amount": "1"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = post(
        &app,
        "/api/v1/funding/pools/vulns/pledges",
        &fred,
        json!({"amount": "150.00"}),
    )
    .await;
    assert_eq!(
        (s, v["balance"]["available"].as_str()),
        (StatusCode::CREATED, Some("150.00")),
        "{v}"
    );

    // A confirmed high-severity incident proposes a payout: 250 by the rule, 200 by the cap
    // per report, 150 by what is pledged.
    let first = confirmed(&app, &rita, &op, "incident", "high").await;
    let payouts = app.json("/api/v1/funding/payouts", Some(&op)).await;
    let p = &payouts["payouts"][0];
    assert_eq!(
        (p["amount"].as_str(), p["state"].as_str()),
        (Some("150.00"), Some("proposed")),
        "{payouts}"
    );
    assert_eq!(p["source"], format!("incident:{first}"));
    assert_eq!(p["beneficiary"], "rita");
    let id = p["id"].as_i64().expect("id");
    // Anyone else sees that a report earned it, not which (its repo may be private).
    let anon = app.json("/api/v1/funding/payouts", None).await;
    assert_eq!(anon["payouts"][0]["source"], "report", "{anon}");
    assert!(anon["payouts"][0]["beneficiary"].is_null());
    let public = app.json("/api/v1/funding/pools/vulns", None).await;
    assert_eq!(public["balance"]["committed"], "150.00");
    assert_eq!(public["balance"]["available"], "0.00");
    // Funders are public; a beneficiary is not.
    for e in public["entries"].as_array().expect("entries") {
        match e["kind"].as_str() {
            Some("pledge") => assert_eq!(e["party"], "fred", "{e}"),
            _ => assert!(e["party"].is_null(), "{e}"),
        }
    }
    // Nothing is left: the next confirmed report proposes nothing; nor does one by the
    // publisher's own namespace.
    confirmed(&app, &sam, &op, "vulnerability", "low").await;
    confirmed(&app, &alice, &op, "vulnerability", "low").await;
    let all = app.json("/api/v1/funding/payouts", Some(&op)).await;
    assert_eq!(all["payouts"].as_array().map(Vec::len), Some(1), "{all}");

    // Decided by an operator who is not the beneficiary, with a reason; then reversed.
    let decision = |d: &str| json!({"decision": d, "reason": "checked the report"});
    let path = format!("/api/v1/funding/payouts/{id}/decision");
    let (s, v) = post(&app, &path, &rita, decision("pay")).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "not_operator"),
        "{v}"
    );
    let (s, v) = post(&app, &path, &op, decision("reverse")).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "invalid_transition"),
        "not paid yet: {v}"
    );
    let (s, v) = post(&app, &path, &op, decision("pay")).await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::OK, Some("paid")),
        "{v}"
    );
    let (s, _) = post(&app, &path, &op2, decision("pay")).await;
    assert_eq!(s, StatusCode::CONFLICT, "once");
    let paid = app.json("/api/v1/funding/pools/vulns", None).await;
    assert_eq!(
        (
            paid["balance"]["paid"].as_str(),
            paid["balance"]["committed"].as_str()
        ),
        (Some("150.00"), Some("0.00"))
    );
    let (s, v) = post(&app, &path, &op2, decision("reverse")).await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::OK, Some("reversed")),
        "{v}"
    );

    // The balance is the replay of the public entries, and never went below zero.
    let after = app.json("/api/v1/funding/pools/vulns", None).await;
    let b = replay(&after);
    assert_eq!(
        weir_core::ledger::format_amount(b.available(), 2),
        after["balance"]["available"]
    );
    assert_eq!(after["balance"]["available"], "150.00");

    // Statements: each member's own (and the operators'), never someone else's.
    let st = app
        .json("/api/v1/funding/statements/rita", Some(&rita))
        .await;
    let kinds: Vec<&str> = st["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(kinds, vec!["commit", "payout", "reverse"], "{st}");
    assert_eq!(st["pools"][0]["paid_to_member"], "0.00");
    let fs = app.json("/api/v1/funding/statements/fred", Some(&op)).await;
    assert_eq!(fs["pools"][0]["pledged"], "150.00", "{fs}");
    // Anyone sees what a member pledged, not what was paid to them.
    let seen = app
        .json("/api/v1/funding/statements/rita", Some(&fred))
        .await;
    assert_eq!(seen["entries"], json!([]), "{seen}");
    let fred_public = app.json("/api/v1/funding/statements/fred", None).await;
    assert_eq!(
        fred_public["pools"][0]["pledged"], "150.00",
        "{fred_public}"
    );

    // On the log: every entry with its amount, people as commitments.
    app.settled_checkpoint().await;
    let entries = crate::log::log_text(&app).await;
    let n = entries
        .iter()
        .filter(|e| e.contains("\"action\":\"funding.entry\""))
        .count();
    assert_eq!(n, 4, "pledge, commit, payout, reverse");
    assert!(
        entries.iter().all(|e| !e.contains("rita")),
        "beneficiaries are commitments"
    );
    // Replaying the log's ledger entries reproduces the balance the API shows.
    let logged: Vec<(EntryKind, i64)> = entries
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter(|e| e["action"] == "funding.entry" && e["public"]["pool"] == "vulns")
        .map(|e| {
            (
                EntryKind::parse(e["public"]["entry"].as_str().expect("entry")).expect("kind"),
                e["public"]["amount"].as_i64().expect("amount"),
            )
        })
        .collect();
    assert_eq!(Balance::replay(&logged).expect("replays"), b);
}

#[tokio::test]
async fn compute_pools_disburse_only_what_is_pledged() {
    let app = TestApp::new().await;
    let op = app.user("op", Scope::Admin).await;
    let fred = app.user("fred", Scope::Write).await;
    let (s, v) = post(
        &app,
        "/api/v1/funding/pools",
        &op,
        json!({"name": "compute", "title": "Compute", "purpose": "compute"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    post(
        &app,
        "/api/v1/funding/pools/compute/pledges",
        &fred,
        json!({"amount": "100"}),
    )
    .await;
    let path = "/api/v1/funding/pools/compute/disbursements";
    let (s, v) = post(&app, path, &fred, json!({"amount": "10", "reason": "r"})).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "not_operator"));
    let (s, v) = post(
        &app,
        path,
        &op,
        json!({"amount": "60", "reason": "GPU time for award 1"}),
    )
    .await;
    assert_eq!(
        (s, v["balance"]["available"].as_str()),
        (StatusCode::CREATED, Some("40.00")),
        "{v}"
    );
    let (s, v) = post(
        &app,
        path,
        &op,
        json!({"amount": "40.01", "reason": "more"}),
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "insufficient_funds"),
        "{v}"
    );
    let pool = app.json("/api/v1/funding/pools/compute", None).await;
    assert_eq!(pool["balance"]["disbursed"], "60.00");
    assert_eq!(replay(&pool).available(), 4000);
    // Pledges are bounded per account and day: no account floods a pool's ledger.
    let mut last = StatusCode::CREATED;
    for _ in 0..weir_registry::funding::MAX_PLEDGES_PER_DAY {
        last = post(
            &app,
            "/api/v1/funding/pools/compute/pledges",
            &fred,
            json!({"amount": "1"}),
        )
        .await
        .0;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}
