//! Identity levels and verifiers' attestations (`src/access/identity.rs`).

use super::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use weir_core::{IdentityLevel, Name, Tier};

#[tokio::test]
async fn attestations_are_verified_and_revocation_cascades() {
    let (app, alice, carol) = setup(Tier::T2).await;
    let (secret, public) = weir_signing::generate_key();
    app.store
        .db
        .add_verifier_logged(
            &Name::parse("idcheck").expect("n"),
            &public,
            &crate::common::admin_event("add_verifier"),
        )
        .await
        .expect("verifier");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = |level, exp| weir_signing::Claims {
        subject: "carol".into(),
        level,
        country: Some("DE".into()),
        issued_at: now - 10,
        expires_at: exp,
        verifier: "idcheck".into(),
    };
    let signed =
        weir_signing::sign(&claims(IdentityLevel::Identified, now + 3600), &secret).expect("sign");
    // a forged level is refused
    let mut forged = signed.clone();
    forged.payload = forged.payload.replace("identified", "accredited");
    let r = post(
        &app,
        "/api/v1/identity/attestations",
        &carol,
        serde_json::to_value(&forged).expect("json"),
    )
    .await;
    assert_eq!(reason(r).await.2, "bad_signature");
    // an unknown verifier is refused
    let mut other = claims(IdentityLevel::Identified, now + 3600);
    other.verifier = "nobody".into();
    let r = post(
        &app,
        "/api/v1/identity/attestations",
        &carol,
        serde_json::to_value(weir_signing::sign(&other, &secret).expect("sign")).expect("json"),
    )
    .await;
    assert_eq!(reason(r).await.2, "unknown_verifier");
    // an expired one is refused
    let old =
        weir_signing::sign(&claims(IdentityLevel::Identified, now - 1), &secret).expect("sign");
    let r = post(
        &app,
        "/api/v1/identity/attestations",
        &carol,
        serde_json::to_value(&old).expect("json"),
    )
    .await;
    assert_eq!(reason(r).await.2, "attestation_expired");
    let r = post(
        &app,
        "/api/v1/identity/attestations",
        &carol,
        serde_json::to_value(&signed).expect("json"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(
        app.json("/api/v1/identity", Some(&carol)).await["level"],
        "identified"
    );
    post(
        &app,
        "/api/v1/repos/acme/gated/access/requests",
        &carol,
        json!({"purpose": "evals"}),
    )
    .await;
    post(
        &app,
        "/api/v1/repos/acme/gated/access/requests/carol",
        &alice,
        json!({"action": "approve"}),
    )
    .await;
    assert_eq!(dl(&app, Some(&carol)).await.status(), StatusCode::OK);
    // revoking the attestation stops the grant at once, with reason identity_level
    app.store
        .db
        .revoke_attestation_logged(&id, &crate::common::admin_event("revoke_attestation"))
        .await
        .expect("revoke");
    assert_eq!(
        reason(dl(&app, Some(&carol)).await).await.2,
        "identity_level"
    );
    // a new attestation restores it; revoking the verifier cascades the same way
    let again =
        weir_signing::sign(&claims(IdentityLevel::Identified, now + 7200), &secret).expect("sign");
    assert_eq!(
        post(
            &app,
            "/api/v1/identity/attestations",
            &carol,
            serde_json::to_value(&again).expect("json")
        )
        .await
        .status(),
        StatusCode::CREATED
    );
    assert_eq!(dl(&app, Some(&carol)).await.status(), StatusCode::OK);
    app.store
        .db
        .revoke_verifier_logged("idcheck", &crate::common::admin_event("revoke_verifier"))
        .await
        .expect("revoke verifier");
    assert_eq!(
        reason(dl(&app, Some(&carol)).await).await.2,
        "identity_level"
    );
}
