//! Evaluations and classification over HTTP: card facts, the compute presumption raising a tier
//! at once, signed results, evidence that raises the tier (logged), the release gate, tier
//! floors, the signed policy, and hostile logs that change nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::{RepoId, Scope, Tier};
use weir_tlog::note::{Note, Verifier};

use crate::common::TestApp;

fn card(compute: &str, extra: &str) -> Vec<u8> {
    format!("---\nlicense: apache-2.0\ntraining_compute_flop: {compute}\n{extra}---\n# Model\n")
        .into_bytes()
}

/// An lm-evaluation-harness results file for `task` (the shape lm-eval 0.4 writes).
fn lm_eval_log(task: &str, acc: f64, n: i64, limit: &str) -> Vec<u8> {
    json!({
        "results": {task: {"alias": task, "acc,none": acc, "acc_stderr,none": "N/A"}},
        "n-samples": {task: {"original": n, "effective": n}},
        "config": {"model": "hf", "model_args": "pretrained=x", "limit": serde_json::from_str::<Value>(limit).expect("limit")},
        "lm_eval_version": "0.4.13",
    })
    .to_string()
    .into_bytes()
}

async fn tier(app: &TestApp, id: &str) -> Tier {
    app.store
        .db
        .repo(&RepoId::parse(id).expect("id"))
        .await
        .expect("db")
        .expect("repo")
        .tier
}

async fn import(
    app: &TestApp,
    token: &str,
    repo: &str,
    suite: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/models/{repo}/evaluations?suite={suite}&filename=results.json"),
            Some(token),
        )
        .body(body)
        .send()
        .await
        .expect("send");
    let s = r.status();
    (s, r.json().await.expect("json"))
}

async fn events(app: &TestApp, repo: &str, action: &str) -> Vec<Value> {
    app.store
        .db
        .events(Some(repo), 1000)
        .await
        .expect("events")
        .into_iter()
        .filter(|(_, e)| e.action == action)
        .map(|(_, e)| e.details)
        .collect()
}

#[tokio::test]
async fn the_compute_presumption_raises_the_tier_at_once_and_starts_the_clock() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/big", false).await;
    let r = app
        .commit(
            "alice/big",
            "main",
            &alice,
            &[("README.md", &card("1.2e25", "base_model: other/base\n"))],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(tier(&app, "alice/big").await, Tier::T2);

    let c = app
        .json("/api/v1/models/alice/big/classification", None)
        .await;
    assert_eq!(c["minimum_tier"], "T2");
    assert_eq!(c["deciding_rule"], "compute_presumption");
    assert_eq!(c["presumption"], true);
    assert_eq!(c["notification"]["days_left"], 14);
    assert_eq!(c["notification"]["overdue"], false);
    assert_eq!(c["card"]["training_compute_flop"], 1.2e25);
    assert!(
        c["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .all(|r| !r["source"].as_str().unwrap_or("").is_empty())
    );
    let info = app.json("/api/models/alice/big", None).await;
    assert_eq!(info["cardData"]["license"], "apache-2.0");
    assert_eq!(info["weir"]["classification"]["minimumTier"], "T2");
    assert_eq!(info["weir"]["tier"], "T2");
    let changed = events(&app, "alice/big", "classification.changed").await;
    assert_eq!(changed[0]["public"]["to"], "T2");
    assert_eq!(changed[0]["public"]["tier_raised_from"], "T0");
    assert_eq!(
        events(&app, "alice/big", "presumption.clock_started")
            .await
            .len(),
        1
    );

    // The publisher records the notification: the clock is met (and logged).
    let notified = |token: String, repo: &'static str| {
        let app = &app;
        async move {
            app.req(
                Method::POST,
                &format!("/api/v1/models/{repo}/classification/notified"),
                Some(&token),
            )
            .json(&json!({"reference": "AI Office ref. 2026/123"}))
            .send()
            .await
            .expect("send")
        }
    };
    let carol = app.user("carol", Scope::Write).await;
    assert_eq!(
        notified(carol, "alice/big").await.status(),
        StatusCode::FORBIDDEN
    );
    let r = notified(alice.clone(), "alice/big").await;
    assert_eq!(r.status(), StatusCode::OK);
    let c = app
        .json("/api/v1/models/alice/big/classification", None)
        .await;
    assert_eq!(c["notification"]["reference"], "AI Office ref. 2026/123");
    assert!(c["notification"]["notified_at"].is_string());
    assert_eq!(c["notification"]["overdue"], false);
    assert_eq!(
        events(&app, "alice/big", "presumption.notified")
            .await
            .len(),
        1
    );

    // Below the presumption: T0, nothing raised.
    app.repo("alice/small", false).await;
    app.commit(
        "alice/small",
        "main",
        &alice,
        &[("README.md", &card("9e24", ""))],
    )
    .await;
    assert_eq!(tier(&app, "alice/small").await, Tier::T0);
    let c = app
        .json("/api/v1/models/alice/small/classification", None)
        .await;
    assert_eq!(c["minimum_tier"], "T0");
    assert_eq!(c["notification"], Value::Null);
    let r = notified(alice.clone(), "alice/small").await;
    assert_eq!(
        r.status(),
        StatusCode::CONFLICT,
        "no clock runs below the presumption"
    );

    // An owner cannot set a tier under the floor; the error names the rule.
    let admin = app.user("op", Scope::Admin).await;
    let r = app
        .req(Method::PUT, "/api/v1/repos/alice/big/tier", Some(&admin))
        .json(&json!({"tier": "T1", "reason": "testing"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"], "below_policy_minimum");
    assert!(
        v["message"]
            .as_str()
            .expect("msg")
            .contains("compute_presumption"),
        "{v}"
    );
}

#[tokio::test]
async fn evidence_raises_the_tier_is_logged_and_only_operators_review_it() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let carol = app.user("carol", Scope::Read).await;
    let op = app.user("op", Scope::Admin).await;
    app.repo("alice/m", false).await;
    app.commit(
        "alice/m",
        "main",
        &alice,
        &[("README.md", &card("1e23", ""))],
    )
    .await;
    assert_eq!(tier(&app, "alice/m").await, Tier::T0);

    let file = |token: Option<String>, body: Value| {
        let app = &app;
        async move {
            app.req(
                Method::POST,
                "/api/v1/models/alice/m/evidence",
                token.as_deref(),
            )
            .json(&body)
            .send()
            .await
            .expect("send")
        }
    };
    let ok =
        json!({"domain": "bio", "summary": "answers <script>alert(1)</script> protocol questions"});
    assert_eq!(
        file(None, ok.clone()).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let r = file(
        Some(carol.clone()),
        json!({"domain": "nukes", "summary": "x"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = file(
        Some(carol.clone()),
        json!({"domain": "bio", "summary": "x".repeat(30_000)}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        tier(&app, "alice/m").await,
        Tier::T0,
        "rejected input changes nothing"
    );

    // From an accredited account, evidence counts at once (others wait for triage: see
    // security::evidence_from_an_ordinary_account_waits_for_triage).
    crate::access::set_level(&app, "carol", weir_core::IdentityLevel::Accredited, None).await;
    let r = file(Some(carol.clone()), ok).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["tier"], json!({"before": "T0", "after": "T3"}));
    assert_eq!(v["state"], "open");
    assert_eq!(tier(&app, "alice/m").await, Tier::T3);
    let id = v["id"].as_i64().expect("id");
    let c = app
        .json("/api/v1/models/alice/m/classification", None)
        .await;
    assert_eq!(c["deciding_rule"], "ambiguity");
    let bio = &c["domains"][0];
    assert_eq!(
        (bio["domain"].as_str(), bio["outcome"].as_str()),
        (Some("bio"), Some("ambiguous"))
    );
    let filed = events(&app, "alice/m", "evidence.filed").await;
    assert_eq!(filed[0]["public"]["domain"], "bio");
    assert_eq!(filed[0]["public"]["evidence"], id);
    assert_eq!(
        events(&app, "alice/m", "classification.changed")
            .await
            .len(),
        2
    );
    // The text is stored as given and shown only to operators and its filer.
    let public = app.json("/api/v1/models/alice/m/evidence", None).await;
    assert_eq!(public["evidence"][0]["summary"], Value::Null);
    let mine = app
        .json("/api/v1/models/alice/m/evidence", Some(&carol))
        .await;
    assert!(
        mine["evidence"][0]["summary"]
            .as_str()
            .expect("s")
            .contains("<script>")
    );

    let review = |token: String, body: Value| {
        let app = &app;
        async move {
            app.req(
                Method::POST,
                &format!("/api/v1/evidence/{id}/review"),
                Some(&token),
            )
            .json(&body)
            .send()
            .await
            .expect("send")
        }
    };
    let confirm = json!({"decision": "confirm", "severity": "critical", "reason": "reproduced"});
    let r = review(alice.clone(), confirm.clone()).await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "the publisher does not judge"
    );
    let r = review(op.clone(), json!({"decision": "maybe", "reason": "x"})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = review(op.clone(), json!({"decision": "confirm"})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "a reason is required");
    let r = review(op.clone(), confirm.clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(tier(&app, "alice/m").await, Tier::T4);
    assert_eq!(
        review(op.clone(), confirm).await.status(),
        StatusCode::CONFLICT
    );
    let reviewed = events(&app, "alice/m", "evidence.reviewed").await;
    assert_eq!(reviewed[0]["public"]["severity"], "critical");
}

#[tokio::test]
async fn only_signed_complete_results_on_the_exact_revision_count() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let carol = app.user("carol", Scope::Read).await;
    let (lab_secret, lab_public) = weir_signing::generate_key();
    let (rogue_secret, _) = weir_signing::generate_key();
    app.store
        .db
        .add_evaluator_logged(
            "evallab",
            &lab_public,
            &crate::common::admin_event("add_evaluator"),
        )
        .await
        .expect("accredit");
    // A derivative of a T3 base inherits T3 until every evaluable domain is ruled out.
    app.org("acme", &[]).await;
    app.repo("acme/base", false).await;
    app.store
        .db
        .set_tier(
            &app.store
                .db
                .repo(&RepoId::parse("acme/base").expect("id"))
                .await
                .expect("db")
                .expect("repo"),
            Tier::T3,
        )
        .await
        .expect("tier");
    app.repo("alice/ft", false).await;
    app.commit(
        "alice/ft",
        "main",
        &alice,
        &[("README.md", &card("1e22", "base_model: acme/base\n"))],
    )
    .await;
    assert_eq!(tier(&app, "alice/ft").await, Tier::T3);
    let c = app
        .json("/api/v1/models/alice/ft/classification", None)
        .await;
    assert_eq!(c["deciding_rule"], "derivatives");

    // A limited run imports but is partial.
    let (s, limited) = import(
        &app,
        &carol,
        "alice/ft",
        "wmdp-bio",
        lm_eval_log("wmdp_bio", 0.26, 1273, "100"),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{limited}");
    assert!(
        !limited["record"]["partial"]
            .as_array()
            .expect("partial")
            .is_empty()
    );
    // Anonymous imports are refused; unknown suites name the known ones.
    let r = app
        .req(
            Method::POST,
            "/api/v1/models/alice/ft/evaluations?suite=wmdp-bio",
            None,
        )
        .body(lm_eval_log("wmdp_bio", 0.26, 1273, "null"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let (s, v) = import(
        &app,
        &carol,
        "alice/ft",
        "mmlu",
        lm_eval_log("mmlu", 0.3, 10, "null"),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(v["next"].as_str().expect("next").contains("wmdp-bio"));

    // The raw log comes back byte for byte, to those who may download the model's files: the
    // derivative is T3 (inherited), so not even its publisher downloads it.
    let raw = format!(
        "/api/v1/evaluations/{}/raw",
        limited["id"].as_str().expect("id")
    );
    let r = app.get(&raw, Some(&carol)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.expect("body").contains("tier_no_egress"));
    app.repo("alice/open", false).await;
    app.commit("alice/open", "main", &alice, &[("config.json", b"{}")])
        .await;
    let bytes = lm_eval_log("wmdp_bio", 0.26, 1273, "null");
    let (s, v) = import(&app, &carol, "alice/open", "wmdp-bio", bytes.clone()).await;
    assert_eq!(s, StatusCode::CREATED);
    let r = app
        .get(
            &format!("/api/v1/evaluations/{}/raw", v["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.expect("bytes").to_vec(), bytes);
    let r = app
        .get(&format!("/api/v1/evaluations/{}/raw", "0".repeat(64)), None)
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let mut ids = Vec::new();
    for (suite, task, acc, n) in [
        ("wmdp-bio", "wmdp_bio", 0.26, 1273),
        ("wmdp-chem", "wmdp_chem", 0.27, 412),
        ("wmdp-cyber", "wmdp_cyber", 0.25, 1987),
    ] {
        let (s, v) = import(
            &app,
            &carol,
            "alice/ft",
            suite,
            lm_eval_log(task, acc, n, "null"),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(v["signed"], false);
        ids.push((
            v["id"].as_str().expect("id").to_string(),
            v["payload"].as_str().expect("p").to_string(),
        ));
    }
    // Unsigned results do not lower anything.
    assert_eq!(
        app.json("/api/v1/models/alice/ft/classification", None)
            .await["minimum_tier"],
        "T3"
    );
    let sign = |id: String, evaluator: &str, signature: String| {
        let app = &app;
        let evaluator = evaluator.to_string();
        async move {
            app.req(
                Method::POST,
                &format!("/api/v1/evaluations/{id}/signature"),
                None,
            )
            .json(&json!({"evaluator": evaluator, "signature": signature}))
            .send()
            .await
            .expect("send")
        }
    };
    let (id0, p0) = ids[0].clone();
    let forged = weir_signing::sign_result(&p0, &rogue_secret).expect("sign");
    assert_eq!(
        sign(id0.clone(), "evallab", forged.clone()).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        sign(id0.clone(), "nobody", forged).await.status(),
        StatusCode::FORBIDDEN
    );
    // The limited run is signed too: signed or not, a partial run never counts.
    ids.push((
        limited["id"].as_str().expect("id").to_string(),
        limited["payload"].as_str().expect("p").to_string(),
    ));
    for (id, payload) in &ids {
        let sig = weir_signing::sign_result(payload, &lab_secret).expect("sign");
        let r = sign(id.clone(), "evallab", sig.clone()).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            sign(id.clone(), "evallab", sig).await.status(),
            StatusCode::CONFLICT
        );
    }
    // Re-evaluated: the derivative's own evidence rules every domain out. The computed floor
    // falls (the tier itself stays until an operator lowers it, with a reason).
    let c = app
        .json("/api/v1/models/alice/ft/classification", None)
        .await;
    assert_eq!(c["minimum_tier"], "T0", "{c}");
    assert_eq!(c["counted_results"], 3);
    assert_eq!(c["ignored_results"][0]["reason"], "partial");
    assert_eq!(events(&app, "alice/ft", "eval.signed").await.len(), 4);

    // A new revision: the results were about the old one and no longer count.
    let evaluated = app.head_of("alice/ft", "main").await;
    app.commit("alice/ft", "main", &alice, &[("notes.txt", b"v2")])
        .await;
    let c = app
        .json("/api/v1/models/alice/ft/classification", None)
        .await;
    assert_eq!(c["minimum_tier"], "T3");
    assert_eq!(c["counted_results"], 0);
    assert!(
        c["ignored_results"]
            .as_array()
            .expect("ignored")
            .iter()
            .any(|r| r["reason"] == "other_revision")
    );

    // On the evaluated revision they still count, until the evaluator's accreditation ends.
    let at_old = format!("/api/v1/models/alice/ft/classification?revision={evaluated}");
    assert_eq!(app.json(&at_old, None).await["minimum_tier"], "T0");
    app.store
        .db
        .revoke_evaluator_logged("evallab", &crate::common::admin_event("revoke_evaluator"))
        .await
        .expect("revoke");
    let c = app.json(&at_old, None).await;
    assert_eq!(c["minimum_tier"], "T3");
    assert_eq!(
        c["ignored_results"][1]["reason"],
        "evaluator_not_accredited"
    );
}

#[tokio::test]
async fn the_release_gate_refuses_a_revision_below_its_minimum_naming_the_rule() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let op = app.user("op", Scope::Admin).await;
    app.repo("alice/m", false).await;
    app.commit(
        "alice/m",
        "main",
        &alice,
        &[("README.md", &card("3e25", ""))],
    )
    .await;
    let old = app.head_of("alice/m", "main").await;
    assert_eq!(tier(&app, "alice/m").await, Tier::T2);
    // The card is corrected; an operator lowers the tier (with a reason) to the new floor.
    app.commit(
        "alice/m",
        "main",
        &alice,
        &[("README.md", &card("2e24", ""))],
    )
    .await;
    let r = app
        .req(Method::PUT, "/api/v1/repos/alice/m/tier", Some(&op))
        .json(&json!({"tier": "T0", "reason": "compute was misreported"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    let release = |rev: String| {
        let app = &app;
        let alice = alice.clone();
        async move {
            app.req(Method::POST, "/api/v1/repos/alice/m/releases", Some(&alice))
                .json(&json!({"revision": rev}))
                .send()
                .await
                .expect("send")
        }
    };
    let r = release(old).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"], "below_policy_minimum");
    let msg = v["message"].as_str().expect("message");
    assert!(
        msg.contains("requires at least T2") && msg.contains("rule compute_presumption"),
        "{msg}"
    );
    assert_eq!(release("main".into()).await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn hostile_logs_get_clear_errors_and_change_nothing() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/m", false).await;
    app.commit(
        "alice/m",
        "main",
        &alice,
        &[("README.md", &card("1e20", ""))],
    )
    .await;
    let blobs = || walk(&app.dir.path().join("blobs").join("sha256"));
    let before = blobs();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"PK\x03\x04truncated".to_vec(), "Zip"),
        (
            b"{\"results\": {\"wmdp_bio\": {\"acc,none\": 1e999}}}".to_vec(),
            "number out of range",
        ),
        (
            b"{\"results\": {\"wmdp_bio\": {\"acc,none\": 7}}}".to_vec(),
            "not a proportion",
        ),
        (b"{\"lm_eval_version\": \"0.4\"}".to_vec(), "results"),
        (b"<html>".to_vec(), "not JSON"),
    ];
    for (body, want) in cases {
        let (s, v) = import(&app, &alice, "alice/m", "wmdp-bio", body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["error"], "invalid_eval_log");
        assert!(
            v["message"].as_str().expect("m").contains(want),
            "{v} (wanted {want})"
        );
    }
    let (s, _) = import(&app, &alice, "alice/m", "wmdp-bio", Vec::new()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(blobs(), before, "no blob is left behind");
    assert!(
        app.json("/api/v1/models/alice/m/evaluations", None).await["results"]
            .as_array()
            .expect("results")
            .is_empty()
    );
    assert!(events(&app, "alice/m", "eval.imported").await.is_empty());
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn the_policy_is_served_signed_with_the_log_key() {
    let app = TestApp::new().await;
    let p = app.json("/api/v1/policy", None).await;
    assert_eq!(p["default"], true);
    assert_eq!(p["policy"]["compute_presumption"]["threshold_flop"], 1e25);
    let v = Verifier::parse(p["verification_key"].as_str().expect("vkey")).expect("verifier");
    let note = Note::open(p["signature"].as_str().expect("sig"), &[v]).expect("verifies");
    let sha = p["sha256"].as_str().expect("sha");
    assert!(note.text.contains(sha), "{}", note.text);
    assert_eq!(
        crate::common::sha256_hex(p["text"].as_str().expect("text").as_bytes()),
        sha
    );
    let suites = app.json("/api/v1/eval/suites", None).await;
    let names: Vec<&str> = suites["suites"]
        .as_array()
        .expect("suites")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["wmdp-bio", "wmdp-chem", "wmdp-cyber"]);
    assert_eq!(suites["suites"][0]["questions"], 1273);
    assert_eq!(suites["suites"][0]["original_questions"], 1520);
}
