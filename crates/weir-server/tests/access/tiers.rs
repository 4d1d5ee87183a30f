//! Tier changes (`src/access/tiers.rs`): raised by the owner, lowered only by an operator with a reason.

use super::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::{Name, Scope, Tier};

#[tokio::test]
async fn tiers_raise_by_owner_lower_by_operator_with_reason() {
    let (app, alice, carol) = setup(Tier::T1).await;
    app.store
        .db
        .create_user(&Name::parse("root").expect("n"), None, true)
        .await
        .expect("root");
    let root = app
        .store
        .db
        .create_token(&Name::parse("root").expect("n"), Scope::Admin, "t")
        .await
        .expect("token");
    let put = |token: String, body: Value| {
        let app = &app;
        async move {
            app.req(Method::PUT, "/api/v1/repos/acme/gated/tier", Some(&token))
                .json(&body)
                .send()
                .await
                .expect("send")
        }
    };
    assert_eq!(
        put(alice.clone(), json!({"tier": "T2"})).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        reason(put(carol.clone(), json!({"tier": "T3"})).await)
            .await
            .2,
        "token_scope"
    );
    assert_eq!(
        reason(put(alice.clone(), json!({"tier": "T0", "reason": "x"})).await)
            .await
            .2,
        "tier_lowering"
    );
    assert_eq!(
        reason(put(root.clone(), json!({"tier": "T0"})).await)
            .await
            .2,
        "tier_lowering"
    );
    assert_eq!(
        put(
            root.clone(),
            json!({"tier": "T0", "reason": "false positive in evals"})
        )
        .await
        .status(),
        StatusCode::OK
    );
    assert_eq!(
        reason(put(root, json!({"tier": "T9"})).await).await.2,
        "invalid_tier"
    );
    let events = app
        .store
        .db
        .events(Some("acme/gated"), 10)
        .await
        .expect("events");
    let lowered = events
        .iter()
        .find(|(_, e)| e.action == "tier.set" && e.reason == "T0")
        .expect("event");
    assert_eq!(lowered.1.details["reason"], "false positive in evals");
}
