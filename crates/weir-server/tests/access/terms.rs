//! T1 terms and the download check (`src/access/terms.rs`).

use super::*;
use reqwest::{Method, StatusCode};
use weir_core::Tier;

#[tokio::test]
async fn t1_needs_sign_in_and_accepted_terms() {
    let (app, _, carol) = setup(Tier::T1).await;
    assert_eq!(
        reason(dl(&app, None).await).await,
        (
            StatusCode::UNAUTHORIZED,
            "GatedRepo".into(),
            "not_signed_in".into()
        )
    );
    let r = dl(&app, Some(&carol)).await;
    let msg = r.headers()["x-error-message"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(
        msg.contains("[terms_not_accepted]") && msg.contains("weir access accept acme/gated"),
        "{msg}"
    );
    assert_eq!(
        reason(r).await,
        (
            StatusCode::FORBIDDEN,
            "GatedRepo".into(),
            "terms_not_accepted".into()
        )
    );
    // metadata stays readable
    assert_eq!(
        app.get("/api/models/acme/gated", None).await.status(),
        StatusCode::OK
    );
    let info = app.json("/api/models/acme/gated", None).await;
    assert_eq!(info["gated"], "auto");
    let r = app
        .req(
            Method::POST,
            "/api/v1/repos/acme/gated/access/terms",
            Some(&carol),
        )
        .send()
        .await
        .expect("accept");
    assert_eq!(r.status(), StatusCode::OK);
    let r = dl(&app, Some(&carol)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.expect("body"), "weights\n");
}

#[tokio::test]
async fn access_check_explains_before_download() {
    let (app, _, carol) = setup(Tier::T2).await;
    let v = app
        .json(
            "/api/v1/access/check?repo=acme/gated&revision=main",
            Some(&carol),
        )
        .await;
    assert_eq!(v["allow"], false);
    assert_eq!(v["reason"], "identity_level");
    assert_eq!(v["required_level"], "identified");
    assert!(v["next"].as_str().expect("next").contains("attestation"));
    let anon = app.json("/api/v1/access/check?repo=acme/gated", None).await;
    assert_eq!(anon["reason"], "not_signed_in");
    set_tier(&app, "acme/gated", Tier::T3).await;
    let v = app
        .json("/api/v1/access/check?repo=acme/gated", Some(&carol))
        .await;
    assert_eq!(v["reason"], "tier_no_egress");
    let r = dl(&app, Some(&carol)).await;
    assert!(
        r.headers()["x-error-message"]
            .to_str()
            .expect("ascii")
            .contains("tier_no_egress")
    );
    assert_eq!(
        reason(r).await,
        (
            StatusCode::FORBIDDEN,
            "GatedRepo".into(),
            "tier_no_egress".into()
        )
    );
    let r = app.get("/api/v1/access/check?repo=bad", Some(&carol)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}
