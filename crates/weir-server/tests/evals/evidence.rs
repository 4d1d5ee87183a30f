//! Hazard evidence and its review (`src/evals/evidence.rs`).

use super::*;
use crate::common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::{Scope, Tier};

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

/// alice/m and alice/n (T0, alice's), carol (read), two operators; a POST of evidence.
async fn world() -> (TestApp, String, String, String) {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let carol = app.user("carol", Scope::Read).await;
    let op = app.user("op", Scope::Admin).await;
    app.store
        .db
        .create_user(&weir_core::Name::parse("op2").expect("n"), None, true)
        .await
        .expect("op2");
    for repo in ["alice/m", "alice/n"] {
        app.repo(repo, false).await;
        app.commit(repo, "main", &alice, &[("config.json", b"{}")])
            .await;
    }
    (app, alice, carol, op)
}

async fn file(app: &TestApp, repo: &str, token: &str, domain: &str) -> (StatusCode, Value) {
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/models/{repo}/evidence"),
            Some(token),
        )
        .json(&json!({"domain": domain, "summary": "it answers uplift questions"}))
        .send()
        .await
        .expect("send");
    let s = r.status();
    (s, r.json::<Value>().await.unwrap_or(Value::Null))
}

async fn review(app: &TestApp, id: i64, token: &str, body: Value) -> (StatusCode, Value) {
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/evidence/{id}/review"),
            Some(token),
        )
        .json(&body)
        .send()
        .await
        .expect("send");
    let s = r.status();
    (s, r.json::<Value>().await.unwrap_or(Value::Null))
}

/// F8: a read token cannot freeze a public model. Evidence from an ordinary account waits for
/// an operator's triage (operators and the publisher are notified, a deadline is shown) and
/// changes nothing. The tests below: confirmed, it raises the tier; dismissed, the tier falls
/// back to the publisher's choice; filing is rate-limited per account.
#[tokio::test]
async fn evidence_from_an_ordinary_account_waits_for_triage() {
    let (app, _, carol, _) = world().await;
    let (s, v) = file(&app, "alice/m", &carol, "bio").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    insta::assert_json_snapshot!(v, {
        ".id" => "[id]",
        ".filed_at" => "[time]",
        ".triage_due" => "[time]",
    }, @r#"
    {
      "domain": "bio",
      "filed_at": "[time]",
      "filed_by": "carol",
      "id": "[id]",
      "minimum_tier": null,
      "repo": "alice/m",
      "review_reason": null,
      "reviewed_at": null,
      "reviewer": null,
      "severity": null,
      "state": "pending_triage",
      "summary": "it answers uplift questions",
      "tier": {
        "after": "T0",
        "before": "T0"
      },
      "triage_due": "[time]",
      "triage_overdue": false
    }
    "#);
    assert_eq!(
        repo_tier(&app, "alice/m").await,
        Tier::T0,
        "one read token froze the model"
    );
    let c = app
        .json("/api/v1/models/alice/m/classification", None)
        .await;
    assert_eq!(c["minimum_tier"], "T0");
    for who in ["op", "op2", "alice"] {
        let n = app.store.db.notifications(who).await.expect("n");
        assert!(
            n.iter().any(|n| n.message.contains("awaiting triage")),
            "{who} was not notified"
        );
    }
    let filer = app.store.db.notifications("carol").await.expect("n");
    assert!(filer.is_empty());
}

#[tokio::test]
async fn the_publisher_cannot_triage_and_an_operator_confirms() {
    let (app, alice, carol, op) = world().await;
    let (_, v) = file(&app, "alice/m", &carol, "bio").await;
    let id = v["id"].as_i64().expect("id");
    let dismiss = json!({"decision": "dismiss", "reason": "fine"});
    let (s, v) = review(&app, id, &alice, dismiss).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let next = v["next"].as_str().unwrap_or_default();
    assert!(next.contains("weir evidence review"), "{v}");
    let confirm = json!({"decision": "confirm", "reason": "reproduced"});
    let (s, v) = review(&app, id, &op, confirm).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(repo_tier(&app, "alice/m").await, Tier::T3);
}

/// An accredited account's evidence counts at once; dismissed by an operator, the tier falls
/// back to the publisher's choice, logged with the rule.
#[tokio::test]
async fn accredited_evidence_counts_at_once_and_a_dismissal_lowers_it_back() {
    let (app, _, carol, op) = world().await;
    crate::access::set_level(&app, "carol", weir_core::IdentityLevel::Accredited, None).await;
    let (_, v) = file(&app, "alice/n", &carol, "chem").await;
    assert_eq!(v["state"], "open");
    assert_eq!(repo_tier(&app, "alice/n").await, Tier::T3);
    let id = v["id"].as_i64().expect("id");
    let dismiss = json!({"decision": "dismiss", "reason": "not reproducible"});
    assert_eq!(review(&app, id, &op, dismiss).await.0, StatusCode::OK);
    assert_eq!(repo_tier(&app, "alice/n").await, Tier::T0);
    let events = app
        .store
        .db
        .events(Some("alice/n"), 100)
        .await
        .expect("events");
    assert!(
        events
            .iter()
            .any(|(_, e)| e.action == "classification.changed"
                && e.details["public"]["tier_lowered_from"] == "T3")
    );
}

#[tokio::test]
async fn evidence_is_rate_limited_per_account() {
    let (app, _, _, _) = world().await;
    let dave = app.user("dave", Scope::Read).await;
    for _ in 0..weir_server::limits::EVIDENCE_PER_DAY {
        assert_eq!(
            file(&app, "alice/m", &dave, "cyber").await.0,
            StatusCode::CREATED
        );
    }
    let (s, v) = file(&app, "alice/m", &dave, "cyber").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(v["error"], "rate_limited");
}
