//! Gating settings (`src/access/gating.rs`): region blocks.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::Tier;

/// F10: a region-blocked repo denies a user whose country is unknown (451 with the way forward),
/// not only users attested in a blocked country.
#[tokio::test]
async fn region_blocks_deny_unknown_countries() {
    use crate::access::{set_level, setup};
    let (app, alice, carol) = setup(Tier::T1).await;
    let r = app
        .req(Method::PUT, "/api/v1/repos/acme/gated/gating", Some(&alice))
        .json(&json!({"blocked_countries": ["XX"]}))
        .send()
        .await
        .expect("gating");
    assert_eq!(r.status(), StatusCode::OK);
    set_level(&app, "carol", weir_core::IdentityLevel::Identified, None).await;
    app.req(
        Method::POST,
        "/api/v1/repos/acme/gated/access/terms",
        Some(&carol),
    )
    .send()
    .await
    .expect("terms");
    let r = app
        .get("/acme/gated/resolve/main/w.txt", Some(&carol))
        .await;
    assert_eq!(r.status(), StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"], "region");
    assert!(v["next"].is_string());
    // Attested outside the blocked region: served.
    set_level(
        &app,
        "carol",
        weir_core::IdentityLevel::Identified,
        Some("DE"),
    )
    .await;
    let r = app
        .get("/acme/gated/resolve/main/w.txt", Some(&carol))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}
