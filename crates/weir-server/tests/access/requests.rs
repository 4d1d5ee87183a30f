//! T2 access requests and their review (`src/access/requests.rs`), with their bounds.

use super::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::{IdentityLevel, Tier};

/// acme/gated at T2, carol identified (so only the request stands between her and the bytes).
async fn t2() -> (TestApp, String, String) {
    let (app, alice, carol) = setup(Tier::T2).await;
    set_level(&app, "carol", IdentityLevel::Identified, None).await;
    (app, alice, carol)
}

async fn file(app: &TestApp, carol: &str, purpose: &str) -> crate::common::Response {
    post(
        app,
        "/api/v1/repos/acme/gated/access/requests",
        carol,
        json!({"purpose": purpose}),
    )
    .await
}

async fn decide(app: &TestApp, reviewer: &str, body: Value) -> crate::common::Response {
    post(
        app,
        "/api/v1/repos/acme/gated/access/requests/carol",
        reviewer,
        body,
    )
    .await
}

async fn denied_because(app: &TestApp, carol: &str) -> String {
    reason(dl(app, Some(carol)).await).await.2
}

#[tokio::test]
async fn a_t2_download_needs_the_level_then_a_request() {
    let (app, _, carol) = setup(Tier::T2).await;
    assert_eq!(denied_because(&app, &carol).await, "identity_level");
    set_level(&app, "carol", IdentityLevel::Identified, None).await;
    assert_eq!(denied_because(&app, &carol).await, "not_requested");
}

#[tokio::test]
async fn a_request_is_pending_until_reviewed_and_not_filed_twice() {
    let (app, _, carol) = t2().await;
    let r = file(&app, &carol, "safety evals").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.expect("json");
    insta::assert_json_snapshot!(v, {
        ".requested_at" => "[time]",
        ".due_at" => "[time]",
    }, @r#"
    {
      "decided_at": null,
      "decided_by": null,
      "due_at": "[time]",
      "expires_at": null,
      "fields": {},
      "overdue": false,
      "purpose": "safety evals",
      "reason": null,
      "repo": "acme/gated",
      "requested_at": "[time]",
      "state": "pending",
      "user": "carol"
    }
    "#);
    assert_eq!(denied_because(&app, &carol).await, "pending");
    let r = file(&app, &carol, "again").await;
    assert_eq!(reason(r).await.2, "already_pending");
    // It is listed to the user and to the reviewers.
    let mine = app.json("/api/v1/access/requests", Some(&carol)).await;
    assert_eq!(mine["requests"][0]["state"], "pending");
}

#[tokio::test]
async fn only_owners_review_and_refusals_need_a_reason() {
    let (app, alice, carol) = t2().await;
    file(&app, &carol, "safety evals").await;
    let r = decide(&app, &carol, json!({"action": "approve"})).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = decide(&app, &alice, json!({"action": "reject"})).await;
    assert_eq!(reason(r).await.2, "reason_required");
    let list = app
        .json(
            "/api/v1/repos/acme/gated/access/requests?state=pending",
            Some(&alice),
        )
        .await;
    assert_eq!(list["requests"].as_array().expect("list").len(), 1);
    let r = decide(&app, &alice, json!({"action": "approve"})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(dl(&app, Some(&carol)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_revocation_stops_downloads_and_tells_why() {
    let (app, alice, carol) = t2().await;
    file(&app, &carol, "safety evals").await;
    decide(&app, &alice, json!({"action": "approve"})).await;
    let body = json!({"action": "revoke", "reason": "misuse report"});
    assert_eq!(decide(&app, &alice, body).await.status(), StatusCode::OK);
    let r = dl(&app, Some(&carol)).await;
    let msg = r.headers()["x-error-message"].to_str().expect("ascii");
    assert!(msg.contains("misuse report"), "{msg}");
    assert_eq!(reason(r).await.2, "revoked");
    // After a revocation the user may ask again.
    assert_eq!(
        file(&app, &carol, "again").await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_grant_expires() {
    let (app, alice, carol) = t2().await;
    file(&app, &carol, "safety evals").await;
    let body = json!({"action": "approve", "expires_days": 0});
    assert_eq!(decide(&app, &alice, body).await.status(), StatusCode::OK);
    assert_eq!(denied_because(&app, &carol).await, "expired");
}

#[tokio::test]
async fn a_rejection_holds_for_the_cool_down_unless_reset() {
    let (app, alice, carol) = t2().await;
    file(&app, &carol, "third").await;
    let body = json!({"action": "reject", "reason": "purpose unclear"});
    assert_eq!(decide(&app, &alice, body).await.status(), StatusCode::OK);
    assert_eq!(denied_because(&app, &carol).await, "rejected");
    let r = file(&app, &carol, "please").await;
    assert_eq!(reason(r).await.2, "cool_down");
    decide(
        &app,
        &alice,
        json!({"action": "reset", "reason": "new form"}),
    )
    .await;
    let r = file(&app, &carol, "clear purpose").await;
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn every_request_decision_and_delivery_is_an_event() {
    let (app, alice, carol) = t2().await;
    file(&app, &carol, "safety evals").await;
    decide(&app, &alice, json!({"action": "approve"})).await;
    assert_eq!(dl(&app, Some(&carol)).await.status(), StatusCode::OK);
    let body = json!({"action": "approve", "expires_days": 0});
    decide(&app, &alice, body).await;
    assert_eq!(denied_because(&app, &carol).await, "expired");
    let events = app
        .store
        .db
        .events(Some("acme/gated"), 100)
        .await
        .expect("events");
    let seen: Vec<(&str, &str, &str)> = events
        .iter()
        .rev()
        .map(|(_, e)| (e.action.as_str(), e.decision.as_str(), e.reason.as_str()))
        .filter(|(a, _, _)| a.starts_with("access.") || *a == "download")
        .collect();
    assert_eq!(
        seen,
        [
            ("access.request", "change", "pending"),
            ("access.review", "change", "approved"),
            ("download", "allow", "granted"),
            ("access.review", "change", "approved"),
            ("download", "deny", "expired"),
        ]
    );
}

#[tokio::test]
async fn required_fields_auto_approval_and_regions() {
    let (app, alice, carol) = setup(Tier::T2).await;
    let r = app
        .req(Method::PUT, "/api/v1/repos/acme/gated/gating", Some(&alice))
        .json(&json!({"required_fields": ["affiliation"], "auto_approve_level": "affiliated", "min_level": "affiliated", "blocked_countries": ["kp"]}))
        .send()
        .await
        .expect("gating");
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
    set_level(&app, "carol", IdentityLevel::Affiliated, Some("DE")).await;
    let r = post(
        &app,
        "/api/v1/repos/acme/gated/access/requests",
        &carol,
        json!({"purpose": "research"}),
    )
    .await;
    assert_eq!(reason(r).await.2, "missing_field");
    let r = post(
        &app,
        "/api/v1/repos/acme/gated/access/requests",
        &carol,
        json!({"purpose": "research", "fields": {"affiliation": "Uni"}}),
    )
    .await;
    let v: Value = r.json().await.expect("json");
    assert_eq!(
        v["state"], "approved",
        "automatic approval at level >= affiliated"
    );
    assert_eq!(dl(&app, Some(&carol)).await.status(), StatusCode::OK);
    // the same user from a blocked country gets 451
    set_level(&app, "carol", IdentityLevel::Affiliated, Some("KP")).await;
    let (status, code, why) = reason(dl(&app, Some(&carol)).await).await;
    assert_eq!(
        (status, code.as_str(), why.as_str()),
        (
            StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS,
            "GatedRepo",
            "region"
        )
    );
}

/// F16: request fields, gating terms and required fields, and grant lengths are bounded.
#[tokio::test]
async fn access_fields_and_expiries_are_bounded() {
    use crate::access::{set_level, setup};
    let (app, alice, carol) = setup(Tier::T2).await;
    set_level(&app, "carol", weir_core::IdentityLevel::Identified, None).await;
    let put_gating = |body: Value| {
        let app = &app;
        let alice = alice.clone();
        async move {
            app.req(Method::PUT, "/api/v1/repos/acme/gated/gating", Some(&alice))
                .json(&body)
                .send()
                .await
                .expect("send")
        }
    };
    let r = put_gating(json!({"terms": "t".repeat(64 * 1024 + 1)})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let many: Vec<String> = (0..1000).map(|i| format!("f{i}")).collect();
    let r = put_gating(json!({"required_fields": many})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = put_gating(json!({"required_fields": ["affiliation"]})).await;
    assert_eq!(r.status(), StatusCode::OK);
    // Unknown or oversized fields in a request are refused.
    let request = |fields: Value| {
        let app = &app;
        let carol = carol.clone();
        async move {
            app.req(
                Method::POST,
                "/api/v1/repos/acme/gated/access/requests",
                Some(&carol),
            )
            .json(&json!({"purpose": "research", "fields": fields}))
            .send()
            .await
            .expect("send")
        }
    };
    let r = request(json!({"affiliation": "Uni", "x": "y"})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = request(json!({"affiliation": "u".repeat(100_000)})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = request(json!({"affiliation": "Uni"})).await;
    assert!(r.status().is_success(), "{}", r.status());
    // A review granting for a million days is refused; the expiry is never shown as 1970.
    let r = app
        .req(
            Method::POST,
            "/api/v1/repos/acme/gated/access/requests/carol",
            Some(&alice),
        )
        .json(&json!({"action": "approve", "expires_days": 1_000_000}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"], "invalid_expiry");
}

/// A request that could never be served is refused at filing with the way forward; reviewers
/// see each requester's level and country and whether an approval would serve them.
#[tokio::test]
async fn a_request_that_could_never_be_served_is_refused_at_filing() {
    let (app, alice, carol) = setup(Tier::T2).await;
    let r = file(&app, &carol, "evals").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"], "identity_level");
    assert!(
        v["next"]
            .as_str()
            .is_some_and(|n| n.contains("weir identity submit")),
        "{v}"
    );
    let body = json!({"blocked_countries": ["KP"]});
    let r = app
        .req(Method::PUT, "/api/v1/repos/acme/gated/gating", Some(&alice))
        .json(&body)
        .send()
        .await
        .expect("gating");
    assert_eq!(r.status(), StatusCode::OK);
    set_level(&app, "carol", IdentityLevel::Identified, Some("KP")).await;
    assert_eq!(reason(file(&app, &carol, "evals").await).await.2, "region");
    // Filed while servable, then the requester moved: the reviewer sees it.
    set_level(&app, "carol", IdentityLevel::Identified, Some("DE")).await;
    assert_eq!(
        file(&app, &carol, "evals").await.status(),
        StatusCode::CREATED
    );
    set_level(&app, "carol", IdentityLevel::Identified, Some("KP")).await;
    let list = app
        .json("/api/v1/repos/acme/gated/access/requests", Some(&alice))
        .await;
    insta::assert_json_snapshot!(list["requests"][0]["requester"], @r#"
    {
      "blocked_by": "region",
      "country": "KP",
      "level": "identified",
      "servable": false
    }
    "#);
    // The requester's own view carries no such facts.
    let mine = app.json("/api/v1/access/requests", Some(&carol)).await;
    assert!(mine["requests"][0].get("requester").is_none());
}
