//! Compute grants (`src/grants.rs`): operators open calls; a research project's team applies;
//! each route is reviewed as the call says (automatic at the call's level, one reviewer, a
//! panel of three by majority with declared conflicts); awards come in two tranches; every step
//! is on the log. And what must never happen: a call by a non-operator, an application by
//! someone off the team or outside the call's scope or caps, a review by the applicant, the
//! team, a conflicted or repeated reviewer, a second tranche without an accepted report, an
//! application seen by outsiders.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::{IdentityLevel, Scope, Tier};

use crate::access::{set_level, set_tier};
use crate::common::TestApp;

pub struct Grants {
    pub app: TestApp,
    pub grace: String,
    pub dan: String,
    pub ops: Vec<String>,
}

fn code(v: &Value) -> &str {
    v["error"].as_str().unwrap_or("")
}

/// acme/restricted (T3); safetylab/PROJECT approved for grace (identified) at AL3 on it, for
/// each of `projects`; four operators.
pub async fn grants_world(projects: &[&str]) -> Grants {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let grace = app.user("grace", Scope::Write).await;
    let dan = app.user("dan", Scope::Write).await;
    let mut ops = Vec::new();
    for op in ["op1", "op2", "op3", "op4"] {
        ops.push(app.user(op, Scope::Admin).await);
    }
    app.org_owned_by("acme", "alice").await;
    app.org("safetylab", &["grace"]).await;
    app.repo("acme/restricted", false).await;
    assert!(
        app.commit(
            "acme/restricted",
            "main",
            &alice,
            &[("config.json", b"{}"), ("model.safetensors", b"x")]
        )
        .await
        .status()
        .is_success()
    );
    set_tier(&app, "acme/restricted", Tier::T3).await;
    set_level(&app, "grace", IdentityLevel::Accredited, Some("NL")).await;
    for p in projects {
        let (s, v) = app
            .send_json(
                Method::POST,
                "/api/v1/projects",
                Some(&grace),
                json!({"name": format!("safetylab/{p}"), "purpose": "uplift study",
                    "models": [{"repo": "acme/restricted", "level": "AL3"}]}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let (s, v) = app
            .send_json(
                Method::POST,
                &format!("/api/v1/projects/safetylab/{p}/decision"),
                Some(&ops[0]),
                json!({"decision": "approve", "reason": "ok"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    Grants {
        app,
        grace,
        dan,
        ops,
    }
}

/// Opens call `name` on acme/restricted (AL3) with the default routes, asking `subsidy_history`.
pub async fn open_call(w: &Grants, name: &str) {
    let closes = time::OffsetDateTime::now_utc() + time::Duration::days(30);
    let closes = closes
        .format(&time::format_description::well_known::Rfc3339)
        .expect("date");
    let (s, v) = w
        .app
        .send_json(
            Method::POST,
            "/api/v1/grants/calls",
            Some(&w.ops[0]),
            json!({"name": name, "title": "Safety evaluations 2026", "closes_at": closes,
                "fields": ["subsidy_history"],
                "models": [{"repo": "acme/restricted", "level": "AL3"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

pub fn application(project: &str, route: &str, cpu_hours: f64) -> Value {
    json!({"call": "airr", "route": route, "project": format!("safetylab/{project}"),
        "purpose": "WMDP uplift", "plan": "score the model on WMDP-bio",
        "answers": {"subsidy_history": "none"}, "cpu_hours": cpu_hours})
}

async fn post(w: &Grants, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    w.app.send_json(Method::POST, path, Some(token), body).await
}

async fn review(w: &Grants, id: i64, op: usize, vote: &str) -> (StatusCode, Value) {
    post(
        w,
        &format!("/api/v1/grants/applications/{id}/review"),
        &w.ops[op],
        json!({"vote": vote, "reason": format!("{vote}: checked")}),
    )
    .await
}

#[tokio::test]
async fn calls_are_opened_by_operators_and_anyone_reads_them() {
    let w = grants_world(&[]).await;
    let (s, v) = post(
        &w,
        "/api/v1/grants/calls",
        &w.grace,
        json!({"name": "x", "title": "t", "closes_at": "2099-01-01",
            "models": [{"repo": "acme/restricted", "level": "AL1"}]}),
    )
    .await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "not_operator"));
    for bad in [
        json!({"name": "Bad Name", "title": "t", "closes_at": "2099-01-01", "models": [{"repo": "acme/restricted", "level": "AL1"}]}),
        json!({"name": "x", "title": "t", "closes_at": "2001-01-01", "models": [{"repo": "acme/restricted", "level": "AL1"}]}),
        json!({"name": "x", "title": "t", "closes_at": "2027-01-01", "models": []}),
        json!({"name": "x", "title": "t", "closes_at": "2027-01-01", "models": [{"repo": "acme/restricted", "level": "AL9"}]}),
        json!({"name": "x", "title": "t", "closes_at": "2027-01-01", "models": [{"repo": "acme/nothing", "level": "AL1"}]}),
        json!({"name": "x", "title": "t", "closes_at": "2027-01-01", "fields": ["a", "a"], "models": [{"repo": "acme/restricted", "level": "AL1"}]}),
        json!({"name": "x", "title": "t", "closes_at": "2027-01-01", "routes": [], "models": [{"repo": "acme/restricted", "level": "AL1"}]}),
    ] {
        let (s, v) = post(&w, "/api/v1/grants/calls", &w.ops[0], bad.clone()).await;
        assert!(s.is_client_error(), "{bad}: {s} {v}");
    }
    open_call(&w, "airr").await;
    let calls = w.app.json("/api/v1/grants/calls", None).await;
    let c = &calls["calls"][0];
    assert_eq!(c["name"], "airr");
    assert_eq!(c["open"], true);
    let caps: Vec<i64> = c["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .filter_map(|r| r["gpu_hours"].as_i64())
        .collect();
    assert_eq!(caps, vec![10_000, 20_000, 150_000, 1_400_000]);
    assert_eq!(c["routes"][0]["review"], "automatic");
    assert_eq!(c["routes"][3]["review"], "panel");
    let (s, v) = post(&w, "/api/v1/grants/calls/airr/close", &w.grace, json!({})).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "not_operator"));
    let (s, v) = post(&w, "/api/v1/grants/calls/airr/close", &w.ops[0], json!({})).await;
    assert_eq!((s, v["open"].as_bool()), (StatusCode::OK, Some(false)));
}

#[tokio::test]
async fn each_route_is_reviewed_as_the_call_says() {
    let w = grants_world(&["small", "big", "mid"]).await;
    open_call(&w, "airr").await;
    // The front door's side doors: off the team, a missing field, an unknown route, over the
    // route's cap, nothing asked, a model outside the call.
    let (s, v) = post(
        &w,
        "/api/v1/grants/applications",
        &w.dan,
        application("small", "gateway", 2.0),
    )
    .await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "not_member"), "{v}");
    let mut missing = application("small", "gateway", 2.0);
    missing["answers"] = json!({});
    let (s, v) = post(&w, "/api/v1/grants/applications", &w.grace, missing).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "missing_field"),
        "{v}"
    );
    let (s, _) = post(
        &w,
        "/api/v1/grants/applications",
        &w.grace,
        application("small", "nope", 2.0),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    for hours in [10_001.0, 0.0, -1.0] {
        let (s, v) = post(
            &w,
            "/api/v1/grants/applications",
            &w.grace,
            application("small", "gateway", hours),
        )
        .await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "invalid_compute"),
            "{hours}"
        );
    }
    // The smallest route at the call's level: awarded at once, its first half released.
    let (s, v) = post(
        &w,
        "/api/v1/grants/applications",
        &w.grace,
        application("small", "gateway", 2.0),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["state"], "awarded", "{v}");
    assert_eq!(v["decision"], "automatic");
    let award = &v["award"];
    assert_eq!(award["cpu_hours"], 2.0);
    assert_eq!(award["released_cpu_hours"], 1.0);
    assert_eq!(award["state"], "active");
    let award_id = award["id"].as_i64().expect("award");
    let (s, v) = post(
        &w,
        "/api/v1/grants/applications",
        &w.grace,
        application("small", "gateway", 1.0),
    )
    .await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "already_applied"));

    // The largest: a panel of three, majority, conflicts declared, never the team.
    let (s, v) = post(
        &w,
        "/api/v1/grants/applications",
        &w.grace,
        application("big", "open", 500.0),
    )
    .await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::CREATED, Some("submitted"))
    );
    let big = v["id"].as_i64().expect("id");
    let (s, v) = post(
        &w,
        &format!("/api/v1/grants/applications/{big}/review"),
        &w.grace,
        json!({"vote": "award", "reason": "mine"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, v) = review(&w, big, 0, "award").await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::OK, Some("submitted")),
        "{v}"
    );
    let (s, v) = review(&w, big, 0, "award").await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "already_reviewed"));
    let (s, _) = review(&w, big, 1, "conflict").await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = review(&w, big, 1, "award").await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "conflict_declared"));
    let (s, v) = review(&w, big, 2, "reject").await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::OK, Some("submitted")),
        "one each: undecided"
    );
    let (s, v) = review(&w, big, 3, "award").await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::OK, Some("awarded")),
        "{v}"
    );
    assert!(
        v["decision"]
            .as_str()
            .is_some_and(|d| d.contains("op1") && d.contains("op4")),
        "{v}"
    );
    assert_eq!(v["award"]["released_cpu_hours"], 250.0);

    // A middle route: one reviewer decides.
    let (s, v) = post(
        &w,
        "/api/v1/grants/applications",
        &w.grace,
        application("mid", "rapid", 100.0),
    )
    .await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::CREATED, Some("submitted"))
    );
    let mid = v["id"].as_i64().expect("id");
    assert_eq!(v["overdue"], false);
    let (s, v) = review(&w, mid, 2, "reject").await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::OK, Some("rejected")),
        "{v}"
    );
    let (s, v) = review(&w, mid, 3, "award").await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "invalid_transition"));

    // Applications are the team's and the operators'; awards are public.
    for token in [Some(w.dan.as_str()), None] {
        let (s, _) = w
            .app
            .send_json(
                Method::GET,
                &format!("/api/v1/grants/applications/{big}"),
                token,
                json!(null),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{token:?}");
        let (s, _) = w
            .app
            .send_json(
                Method::GET,
                &format!("/api/v1/grants/awards/{award_id}/usage"),
                token,
                json!(null),
            )
            .await;
        assert!(s.is_client_error(), "{token:?}");
    }
    let listed = w
        .app
        .json("/api/v1/grants/applications", Some(&w.dan))
        .await;
    assert_eq!(listed["applications"], json!([]));
    let awards = w.app.json("/api/v1/grants/awards", None).await;
    assert_eq!(
        awards["awards"].as_array().map(Vec::len),
        Some(2),
        "{awards}"
    );
    assert!(
        !awards.to_string().contains("grace"),
        "no people in the public awards"
    );
    assert!(
        awards["awards"][0]["used_cpu_hours"].is_null(),
        "usage is the team's: {awards}"
    );
    let mine = w.app.json("/api/v1/grants/awards", Some(&w.grace)).await;
    assert!(mine["awards"][0]["used_cpu_hours"].is_number(), "{mine}");

    // The second tranche: only after a report, accepted by an operator off the team, who
    // names the report they read.
    let path = |what: &str| format!("/api/v1/grants/awards/{award_id}/{what}");
    let accept = |reason: &str, sha: &str| json!({"reason": reason, "report_sha256": sha});
    let (s, v) = post(
        &w,
        &path("accept"),
        &w.ops[1],
        accept("good", &"0".repeat(64)),
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "invalid_transition"),
        "no report yet"
    );
    let (s, v) = post(&w, &path("report"), &w.dan, json!({"report": "done"})).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "not_member"));
    let (s, v) = post(
        &w,
        &path("report"),
        &w.grace,
        json!({"report": "half the questions scored"}),
    )
    .await;
    assert_eq!(
        (s, v["reported_at"].is_string()),
        (StatusCode::OK, true),
        "{v}"
    );
    let sha = v["report_sha256"].as_str().expect("sha").to_string();
    let (s, v) = post(&w, &path("accept"), &w.grace, accept("mine", &sha)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    // A report replaced after the operator read it is not the one they accept.
    let (s, _) = post(
        &w,
        &path("report"),
        &w.grace,
        json!({"report": "all done, trust us"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = post(
        &w,
        &path("accept"),
        &w.ops[1],
        accept("progress shown", &sha),
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "invalid_transition"),
        "{v}"
    );
    let app_path = format!("/api/v1/grants/applications/{}", award["application"]);
    let shown = w.app.json(&app_path, Some(&w.ops[1])).await;
    assert_eq!(shown["report"], "all done, trust us");
    let sha = shown["award"]["report_sha256"]
        .as_str()
        .expect("sha")
        .to_string();
    let (s, v) = post(
        &w,
        &path("accept"),
        &w.ops[1],
        accept("progress shown", &sha),
    )
    .await;
    assert_eq!(
        (s, v["released_cpu_hours"].as_f64()),
        (StatusCode::OK, Some(2.0)),
        "{v}"
    );
    let (s, _) = post(&w, &path("accept"), &w.ops[2], accept("again", &sha)).await;
    assert_eq!(s, StatusCode::CONFLICT);
    // A conflict declared on the application recuses from its award too.
    let big_award = w
        .app
        .json(
            &format!("/api/v1/grants/applications/{big}"),
            Some(&w.ops[0]),
        )
        .await["award"]["id"]
        .as_i64()
        .expect("award");
    let (s, v) = post(
        &w,
        &format!("/api/v1/grants/awards/{big_award}/revoke"),
        &w.ops[1],
        json!({"reason": "x"}),
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "conflict_declared"),
        "{v}"
    );
    let (s, v) = post(
        &w,
        &path("revoke"),
        &w.ops[1],
        json!({"reason": "misuse of acme/restricted"}),
    )
    .await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::OK, Some("revoked")),
        "{v}"
    );
    // A revocation stands: the project takes no new application, not even on the automatic
    // route.
    let (s, v) = post(
        &w,
        "/api/v1/grants/applications",
        &w.grace,
        application("small", "gateway", 1.0),
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "award_revoked"),
        "{v}"
    );

    // Every step is on the transparency log, with no names.
    w.app.settled_checkpoint().await;
    let entries = crate::log::log_text(&w.app).await;
    for action in [
        "grant.call",
        "grant.apply",
        "grant.review",
        "grant.decide",
        "grant.award",
        "grant.report",
        "grant.tranche",
        "grant.revoke",
    ] {
        assert!(
            entries
                .iter()
                .any(|e| e.contains(&format!("\"action\":\"{action}\""))),
            "{action} is not on the log"
        );
    }
    assert!(entries.iter().all(|e| !e.contains("grace")));
    // Operators' free-text reasons stay out of the public entries.
    assert!(
        entries.iter().all(|e| !e.contains("misuse of")),
        "a reason in clear"
    );
}

/// An award's standing is read at each job decision: past its end it is expired, before its
/// start not started, once revoked revoked (with the store's own clock moved, not a mock).
#[tokio::test]
async fn an_awards_standing_follows_its_dates() {
    let w = grants_world(&["small"]).await;
    open_call(&w, "airr").await;
    let (s, v) = post(
        &w,
        "/api/v1/grants/applications",
        &w.grace,
        application("small", "gateway", 1.0),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let p = w
        .app
        .store
        .db
        .project("safetylab", "small")
        .await
        .expect("db")
        .expect("project");
    let a = w
        .app
        .store
        .db
        .current_award(p.id)
        .await
        .expect("db")
        .expect("award");
    let budget = |at: i64| {
        let store = w.app.store.clone();
        let p = p.clone();
        async move {
            weir_registry::grants::budget(&store, &p, at, 1000)
                .await
                .expect("budget")
                .0
        }
    };
    use weir_core::grants::Budget;
    assert_eq!(budget(a.starts_at).await, Budget::Available);
    assert_eq!(budget(a.starts_at - 1).await, Budget::NotStarted);
    assert_eq!(budget(a.ends_at).await, Budget::Expired);
    assert_eq!(
        a.ends_at - a.starts_at,
        3 * 30 * 86_400,
        "gateway: three months"
    );
}

/// Where a board governs, the largest route's award is the board's decision: the panel's
/// majority leaves the application submitted, and k signatures on a `grant_award` proposal
/// make the award.
#[tokio::test]
async fn a_board_decides_the_largest_routes_award() {
    let w = grants_world(&["big"]).await;
    open_call(&w, "airr").await;
    let keys: Vec<(String, String)> = (0..2).map(|_| weir_signing::generate_key()).collect();
    let members: Vec<weir_core::board::Member> = ["op3", "op4"]
        .iter()
        .zip(&keys)
        .map(|(n, (_, k))| weir_core::board::Member {
            name: n.to_string(),
            public_key: k.clone(),
        })
        .collect();
    weir_registry::board::init(
        &w.app.store,
        &members,
        2,
        &weir_registry::Context::default(),
        weir_registry::clock::now(),
    )
    .await
    .expect("board");
    let (s, v) = post(
        &w,
        "/api/v1/grants/applications",
        &w.grace,
        application("big", "open", 500.0),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_i64().expect("id");
    // Not proposable before the panel's majority.
    let (s, v) = post(
        &w,
        "/api/v1/board/proposals",
        &w.ops[2],
        json!({"kind": "grant_award", "application": id}),
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_change"),
        "{v}"
    );
    review(&w, id, 0, "award").await;
    let (s, v) = review(&w, id, 1, "award").await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::OK, Some("submitted")),
        "the board decides: {v}"
    );
    assert!(v["award"].is_null());
    let (s, p) = post(
        &w,
        "/api/v1/board/proposals",
        &w.ops[2],
        json!({"kind": "grant_award", "application": id}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    for (i, token) in [&w.ops[2], &w.ops[3]].iter().enumerate() {
        let sig = weir_signing::sign_board(p["digest"].as_str().expect("digest"), &keys[i].0)
            .expect("sign");
        let (s, v) = post(
            &w,
            &format!("/api/v1/board/proposals/{}/signatures", p["id"]),
            token,
            json!({"signature": sig}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let v = w
        .app
        .json(&format!("/api/v1/grants/applications/{id}"), Some(&w.grace))
        .await;
    assert_eq!(v["state"], "awarded", "{v}");
    assert_eq!(v["award"]["released_cpu_hours"], 250.0);
    assert!(
        v["decision"]
            .as_str()
            .is_some_and(|d| d.contains("board decision")),
        "{v}"
    );
}

/// A disbursement from a grants pool may name the award it funds: the public ledger entry and
/// the award's usage statement both show it; an unknown or revoked award is refused.
#[tokio::test]
async fn disbursements_fund_named_awards() {
    let w = grants_world(&["small"]).await;
    open_call(&w, "airr").await;
    let (s, v) = post(
        &w,
        "/api/v1/grants/applications",
        &w.grace,
        application("small", "gateway", 1.0),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let award = w.app.json("/api/v1/grants/awards", None).await["awards"][0]["id"]
        .as_i64()
        .expect("award");
    let op = &w.ops[1];
    let (s, v) = post(
        &w,
        "/api/v1/funding/pools",
        op,
        json!({"name": "grants", "title": "Grants", "purpose": "grants"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = post(
        &w,
        "/api/v1/funding/pools/grants/pledges",
        &w.dan,
        json!({"amount": "500"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let path = "/api/v1/funding/pools/grants/disbursements";
    let (s, v) = post(
        &w,
        path,
        op,
        json!({"amount": "1", "reason": "r", "award": 999_999}),
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::NOT_FOUND, "award_not_found"),
        "{v}"
    );
    let (s, v) = post(
        &w,
        path,
        op,
        json!({"amount": "120.50", "reason": "first tranche's compute", "award": award}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let pool = w.app.json("/api/v1/funding/pools/grants", None).await;
    let entry = pool["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["kind"] == "disburse")
        .expect("disbursement")
        .clone();
    assert_eq!(
        (entry["award"].as_i64(), entry["amount"].as_str()),
        (Some(award), Some("120.50"))
    );
    let usage = w
        .app
        .json(
            &format!("/api/v1/grants/awards/{award}/usage"),
            Some(&w.grace),
        )
        .await;
    assert_eq!(usage["disbursements"], json!([entry]), "{usage}");
    let (s, v) = post(
        &w,
        &format!("/api/v1/grants/awards/{award}/revoke"),
        op,
        json!({"reason": "misuse"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = post(
        &w,
        path,
        op,
        json!({"amount": "1", "reason": "r", "award": award}),
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "award_revoked"),
        "{v}"
    );
}
