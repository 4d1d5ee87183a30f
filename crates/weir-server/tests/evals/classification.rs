//! Classification (`src/evals/classification.rs`): the compute presumption, tier floors, base models.

use super::*;
use crate::access::set_tier;
use crate::common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::{Scope, Tier};

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

/// F4b: a derivative's card naming a private base model neither inherits its tier (an oracle
/// for its existence and tier) nor documents it: it answers exactly like a missing base.
#[tokio::test]
async fn private_base_models_are_missing_to_outsiders() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let bob = app.user("bob", Scope::Write).await;
    app.repo("bob/secret-base", true).await;
    set_tier(&app, "bob/secret-base", Tier::T3).await;
    let card = |base: &str| {
        format!("---\nlicense: apache-2.0\nbase_model: {base}\n---\n# Derivative\n").into_bytes()
    };
    app.repo("alice/from-private", false).await;
    app.repo("alice/from-missing", false).await;
    for (repo, base) in [
        ("alice/from-private", "bob/secret-base"),
        ("alice/from-missing", "bob/never-existed"),
    ] {
        assert_eq!(
            app.commit(repo, "main", &alice, &[("README.md", &card(base))])
                .await
                .status(),
            StatusCode::OK
        );
    }
    let tier = |repo: &'static str| {
        let app = &app;
        let alice = alice.clone();
        async move {
            app.json(
                &format!("/api/v1/models/{repo}/classification"),
                Some(&alice),
            )
            .await["minimum_tier"]
                .clone()
        }
    };
    assert_eq!(
        tier("alice/from-private").await,
        tier("alice/from-missing").await
    );
    let t = app
        .store
        .db
        .repo(&weir_core::RepoId::parse("alice/from-private").expect("id"))
        .await
        .expect("db")
        .expect("repo")
        .tier;
    assert_eq!(
        t,
        Tier::T0,
        "the private parent's tier leaked into the derivative"
    );
    let doc = |repo: &'static str| {
        let app = &app;
        let alice = alice.clone();
        async move {
            app.json(
                &format!("/api/v1/models/{repo}/documentation"),
                Some(&alice),
            )
            .await
            .to_string()
        }
    };
    let private_doc = doc("alice/from-private").await;
    assert!(
        !private_doc.contains("\"in_registry\":true"),
        "{private_doc}"
    );
    assert!(!private_doc.contains("T3"), "{private_doc}");
    // bob, who can see his own base, may derive from it in his own namespace and inherits.
    app.repo("bob/own-derivative", false).await;
    app.commit(
        "bob/own-derivative",
        "main",
        &bob,
        &[("README.md", &card("bob/secret-base"))],
    )
    .await;
    let t = app
        .store
        .db
        .repo(&weir_core::RepoId::parse("bob/own-derivative").expect("id"))
        .await
        .expect("db")
        .expect("repo")
        .tier;
    assert_eq!(t, Tier::T3);
}

/// The effective tier is the stricter of the chosen tier and the computed minimum: a publisher
/// who chose T2 falls back to T2, not T0.
#[tokio::test]
async fn the_tier_falls_back_to_the_chosen_one_not_below() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let carol = app.user("carol", Scope::Read).await;
    let op = app.user("op", Scope::Admin).await;
    app.repo("alice/m", false).await;
    app.commit("alice/m", "main", &alice, &[("config.json", b"{}")])
        .await;
    let r = app
        .req(Method::PUT, "/api/v1/repos/alice/m/tier", Some(&alice))
        .json(&json!({"tier": "T2"}))
        .send()
        .await
        .expect("tier");
    assert_eq!(r.status(), StatusCode::OK);
    crate::access::set_level(&app, "carol", weir_core::IdentityLevel::Accredited, None).await;
    let v: Value = app
        .req(
            Method::POST,
            "/api/v1/models/alice/m/evidence",
            Some(&carol),
        )
        .json(&json!({"domain": "bio", "summary": "x"}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(repo_tier(&app, "alice/m").await, Tier::T3);
    let id = v["id"].as_i64().expect("id");
    app.req(
        Method::POST,
        &format!("/api/v1/evidence/{id}/review"),
        Some(&op),
    )
    .json(&json!({"decision": "dismiss", "reason": "no"}))
    .send()
    .await
    .expect("send");
    assert_eq!(repo_tier(&app, "alice/m").await, Tier::T2);
}

/// Review follow-up: the card is self-declared, so a publisher cannot lower a tier the policy
/// raised by editing the card (removing the declared compute, the closed weights or the base
/// model); a push only ever raises.
#[tokio::test]
async fn editing_the_card_does_not_lower_a_raised_tier() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/big", false).await;
    app.repo("alice/base", false).await;
    set_tier(&app, "alice/base", Tier::T3).await;
    app.repo("alice/child", false).await;
    let card = |extra: &str| format!("---\nlicense: mit\n{extra}---\n# Model\n").into_bytes();
    for (repo, extra) in [
        ("alice/big", "training_compute_flop: 2e25\n"),
        ("alice/child", "base_model: alice/base\n"),
    ] {
        let r = app
            .commit(repo, "main", &alice, &[("README.md", &card(extra))])
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    assert_eq!(repo_tier(&app, "alice/big").await, Tier::T2);
    assert_eq!(repo_tier(&app, "alice/child").await, Tier::T3);
    // The publisher rewrites the cards without those declarations.
    for repo in ["alice/big", "alice/child"] {
        let r = app
            .commit(repo, "main", &alice, &[("README.md", &card(""))])
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    assert_eq!(
        repo_tier(&app, "alice/big").await,
        Tier::T2,
        "compute removed from the card"
    );
    assert_eq!(
        repo_tier(&app, "alice/child").await,
        Tier::T3,
        "base model removed from the card"
    );
    let c = app
        .json("/api/v1/models/alice/child/classification", Some(&alice))
        .await;
    assert_eq!(c["minimum_tier"], "T3");
    // Nor does a release (it re-classifies, only ever upwards).
    let r = app
        .req(
            Method::POST,
            "/api/v1/repos/alice/big/releases",
            Some(&alice),
        )
        .json(&json!({}))
        .send()
        .await
        .expect("release");
    assert!(r.status().is_success() || r.status().is_client_error());
    assert_eq!(repo_tier(&app, "alice/big").await, Tier::T2);
}
