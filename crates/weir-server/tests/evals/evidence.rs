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

/// F8: a read token cannot freeze a public model. Evidence from an ordinary account waits for
/// an operator's triage (operators and the publisher are notified, a deadline is shown) and
/// changes nothing; confirmed, it raises the tier; dismissed, the tier falls back to the
/// publisher's choice. Filing is rate-limited per account.
#[tokio::test]
async fn evidence_from_an_ordinary_account_waits_for_triage() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let carol = app.user("carol", Scope::Read).await;
    let op = app.user("op", Scope::Admin).await;
    app.store
        .db
        .create_user(&weir_core::Name::parse("op2").expect("n"), None, true)
        .await
        .expect("op2");
    app.repo("alice/m", false).await;
    app.commit("alice/m", "main", &alice, &[("config.json", b"{}")])
        .await;
    let file = |token: String, domain: &'static str| {
        let app = &app;
        async move {
            let r = app
                .req(
                    Method::POST,
                    "/api/v1/models/alice/m/evidence",
                    Some(&token),
                )
                .json(&json!({"domain": domain, "summary": "it answers uplift questions"}))
                .send()
                .await
                .expect("send");
            let s = r.status();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (s, v) = file(carol.clone(), "bio").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["state"], "pending_triage");
    assert!(v["triage_due"].is_string());
    assert_eq!(v["triage_overdue"], false);
    assert_eq!(v["tier"], json!({"before": "T0", "after": "T0"}));
    assert_eq!(
        repo_tier(&app, "alice/m").await,
        Tier::T0,
        "one read token froze the model"
    );
    let c = app
        .json("/api/v1/models/alice/m/classification", None)
        .await;
    assert_eq!(c["minimum_tier"], "T0");
    // Operators and the publisher were notified.
    for who in ["op", "op2", "alice"] {
        let n = app
            .store
            .db
            .notifications(who)
            .await
            .expect("notifications");
        assert!(
            n.iter().any(|n| n.message.contains("awaiting triage")),
            "{who} was not notified"
        );
    }
    assert!(
        app.store
            .db
            .notifications("carol")
            .await
            .expect("n")
            .is_empty()
    );
    let id = v["id"].as_i64().expect("id");

    // The publisher cannot triage it, and is pointed at the real command.
    let review = |token: String, body: Value| {
        let app = &app;
        async move {
            let r = app
                .req(
                    Method::POST,
                    &format!("/api/v1/evidence/{id}/review"),
                    Some(&token),
                )
                .json(&body)
                .send()
                .await
                .expect("send");
            let s = r.status();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (s, v) = review(
        alice.clone(),
        json!({"decision": "dismiss", "reason": "fine"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(
        v["next"]
            .as_str()
            .is_some_and(|n| n.contains("weir evidence review")),
        "{v}"
    );
    // An operator confirms: the tier rises.
    let (s, v) = review(
        op.clone(),
        json!({"decision": "confirm", "reason": "reproduced"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(repo_tier(&app, "alice/m").await, Tier::T3);
    // On another repo: an accredited account's evidence counts at once, and when an operator
    // dismisses it the tier falls back to the publisher's choice, logged with the rule.
    app.repo("alice/n", false).await;
    app.commit("alice/n", "main", &alice, &[("config.json", b"{}")])
        .await;
    crate::access::set_level(&app, "carol", weir_core::IdentityLevel::Accredited, None).await;
    let r = app
        .req(
            Method::POST,
            "/api/v1/models/alice/n/evidence",
            Some(&carol),
        )
        .json(&json!({"domain": "chem", "summary": "accredited red team"}))
        .send()
        .await
        .expect("send");
    let v: Value = r.json().await.expect("json");
    assert_eq!(
        v["state"], "open",
        "an accredited account's evidence counts at once"
    );
    assert_eq!(repo_tier(&app, "alice/n").await, Tier::T3);
    let id2 = v["id"].as_i64().expect("id");
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/evidence/{id2}/review"),
            Some(&op),
        )
        .json(&json!({"decision": "dismiss", "reason": "not reproducible"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        repo_tier(&app, "alice/n").await,
        Tier::T0,
        "dismissed evidence: the tier falls back to the publisher's choice"
    );
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

    // Rate limit per account.
    let dave = app.user("dave", Scope::Read).await;
    for _ in 0..weir_server::limits::EVIDENCE_PER_DAY {
        let (s, _) = file(dave.clone(), "cyber").await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let (s, v) = file(dave.clone(), "cyber").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(v["error"], "rate_limited");
}
