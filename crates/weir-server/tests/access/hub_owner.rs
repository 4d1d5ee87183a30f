//! The Hub's owner endpoints (`src/access/hub_owner.rs`).

use super::*;
use reqwest::StatusCode;
use serde_json::json;
use weir_core::{IdentityLevel, Scope, Tier};

#[tokio::test]
async fn hub_owner_endpoints() {
    let (app, alice, carol) = setup(Tier::T2).await;
    set_level(&app, "carol", IdentityLevel::Identified, None).await;
    post(
        &app,
        "/api/v1/repos/acme/gated/access/requests",
        &carol,
        json!({"purpose": "evals"}),
    )
    .await;
    let pending = app
        .json(
            "/api/models/acme/gated/user-access-request/pending",
            Some(&alice),
        )
        .await;
    assert_eq!(pending[0]["user"]["user"], "carol");
    let r = post(
        &app,
        "/api/models/acme/gated/user-access-request/handle",
        &alice,
        json!({"user": "carol", "status": "accepted"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let accepted = app
        .json(
            "/api/models/acme/gated/user-access-request/accepted",
            Some(&alice),
        )
        .await;
    assert_eq!(accepted.as_array().expect("list").len(), 1);
    assert_eq!(dl(&app, Some(&carol)).await.status(), StatusCode::OK);
    let r = post(
        &app,
        "/api/models/acme/gated/user-access-request/handle",
        &alice,
        json!({"user": "carol", "status": "rejected", "rejectionReason": "no"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        app.json(
            "/api/models/acme/gated/user-access-request/rejected",
            Some(&alice)
        )
        .await
        .as_array()
        .expect("list")
        .len(),
        1
    );
    // grant directly to a user who never asked
    app.user("dave", Scope::Read).await;
    set_level(&app, "dave", IdentityLevel::Identified, None).await;
    let r = post(
        &app,
        "/api/models/acme/gated/user-access-request/grant",
        &alice,
        json!({"user": "dave"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    // carol may not list
    assert_eq!(
        app.get(
            "/api/models/acme/gated/user-access-request/pending",
            Some(&carol)
        )
        .await
        .status(),
        StatusCode::FORBIDDEN
    );
}

/// `cancel_access_request` (status `pending`): the request goes back to the pending list and the
/// access stops until a reviewer decides again, as on the Hub.
#[tokio::test]
async fn a_cancelled_request_is_pending_again_and_the_access_stops() {
    let (app, alice, carol) = setup(Tier::T2).await;
    set_level(&app, "carol", IdentityLevel::Identified, None).await;
    let file = json!({"purpose": "evals"});
    post(
        &app,
        "/api/v1/repos/acme/gated/access/requests",
        &carol,
        file,
    )
    .await;
    let handle = |status: &'static str| {
        let app = &app;
        let alice = alice.clone();
        async move {
            post(
                app,
                "/api/models/acme/gated/user-access-request/handle",
                &alice,
                json!({"user": "carol", "status": status}),
            )
            .await
            .status()
        }
    };
    assert_eq!(handle("accepted").await, StatusCode::OK);
    assert_eq!(dl(&app, Some(&carol)).await.status(), StatusCode::OK);
    assert_eq!(handle("pending").await, StatusCode::OK);
    assert_eq!(reason(dl(&app, Some(&carol)).await).await.2, "pending");
    // Returning a pending request again is refused: its review stays due when it was.
    assert_eq!(handle("pending").await, StatusCode::CONFLICT);
    let pending = app
        .json(
            "/api/models/acme/gated/user-access-request/pending",
            Some(&alice),
        )
        .await;
    assert_eq!(pending[0]["user"]["user"], "carol");
    // There is nothing to cancel for a user who never asked.
    app.user("erin", Scope::Read).await;
    let r = post(
        &app,
        "/api/models/acme/gated/user-access-request/handle",
        &alice,
        json!({"user": "erin", "status": "pending"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
}
