//! T2 access requests and their review (`src/access/requests.rs`), with their bounds.

use super::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::{IdentityLevel, Tier};

#[tokio::test]
async fn t2_request_review_expiry_revocation_and_cool_down() {
    let (app, alice, carol) = setup(Tier::T2).await;
    // too low a level first
    assert_eq!(
        reason(dl(&app, Some(&carol)).await).await.2,
        "identity_level"
    );
    set_level(&app, "carol", IdentityLevel::Identified, None).await;
    assert_eq!(
        reason(dl(&app, Some(&carol)).await).await.2,
        "not_requested"
    );
    let r = post(
        &app,
        "/api/v1/repos/acme/gated/access/requests",
        &carol,
        json!({"purpose": "safety evals"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["state"], "pending");
    assert_eq!(v["overdue"], false);
    assert_eq!(reason(dl(&app, Some(&carol)).await).await.2, "pending");
    // a second request while pending is refused
    let r = post(
        &app,
        "/api/v1/repos/acme/gated/access/requests",
        &carol,
        json!({"purpose": "again"}),
    )
    .await;
    assert_eq!(reason(r).await.2, "already_pending");
    // only owners and operators review
    let r = post(
        &app,
        "/api/v1/repos/acme/gated/access/requests/carol",
        &carol,
        json!({"action": "approve"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post(
        &app,
        "/api/v1/repos/acme/gated/access/requests/carol",
        &alice,
        json!({"action": "reject"}),
    )
    .await;
    assert_eq!(reason(r).await.2, "reason_required");
    let r = post(
        &app,
        "/api/v1/repos/acme/gated/access/requests/carol",
        &alice,
        json!({"action": "approve"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(dl(&app, Some(&carol)).await.status(), StatusCode::OK);
    // revoke
    let r = post(
        &app,
        "/api/v1/repos/acme/gated/access/requests/carol",
        &alice,
        json!({"action": "revoke", "reason": "misuse report"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = dl(&app, Some(&carol)).await;
    assert!(
        r.headers()["x-error-message"]
            .to_str()
            .expect("ascii")
            .contains("misuse report")
    );
    assert_eq!(reason(r).await.2, "revoked");
    // re-request after revocation, then approve with an expiry that has passed
    let r = post(
        &app,
        "/api/v1/repos/acme/gated/access/requests",
        &carol,
        json!({"purpose": "again"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = post(
        &app,
        "/api/v1/repos/acme/gated/access/requests/carol",
        &alice,
        json!({"action": "approve", "expires_days": 0}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(reason(dl(&app, Some(&carol)).await).await.2, "expired");
    // reject, then the cool-down holds
    post(
        &app,
        "/api/v1/repos/acme/gated/access/requests",
        &carol,
        json!({"purpose": "third"}),
    )
    .await;
    let r = post(
        &app,
        "/api/v1/repos/acme/gated/access/requests/carol",
        &alice,
        json!({"action": "reject", "reason": "purpose unclear"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(reason(dl(&app, Some(&carol)).await).await.2, "rejected");
    let r = post(
        &app,
        "/api/v1/repos/acme/gated/access/requests",
        &carol,
        json!({"purpose": "please"}),
    )
    .await;
    assert_eq!(reason(r).await.2, "cool_down");
    // reset lets the user request again at once
    post(
        &app,
        "/api/v1/repos/acme/gated/access/requests/carol",
        &alice,
        json!({"action": "reset", "reason": "new form"}),
    )
    .await;
    let r = post(
        &app,
        "/api/v1/repos/acme/gated/access/requests",
        &carol,
        json!({"purpose": "clear purpose"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    // status lists it
    let mine = app.json("/api/v1/access/requests", Some(&carol)).await;
    assert_eq!(mine["requests"][0]["state"], "pending");
    let list = app
        .json(
            "/api/v1/repos/acme/gated/access/requests?state=pending",
            Some(&alice),
        )
        .await;
    assert_eq!(list["requests"].as_array().expect("list").len(), 1);
    // every state change and decision is in the event log
    let events = app
        .store
        .db
        .events(Some("acme/gated"), 100)
        .await
        .expect("events");
    let actions: Vec<&str> = events.iter().map(|(_, e)| e.action.as_str()).collect();
    assert!(
        actions.contains(&"access.request")
            && actions.contains(&"access.review")
            && actions.contains(&"download")
    );
    assert!(
        events
            .iter()
            .any(|(_, e)| e.decision == "deny" && e.reason == "expired")
    );
    assert!(
        events
            .iter()
            .any(|(_, e)| e.decision == "allow" && e.reason == "granted")
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
