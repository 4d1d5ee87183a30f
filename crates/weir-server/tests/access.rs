//! Access controls end to end over HTTP: tiers, terms, requests and reviews, identity levels and
//! attestations with cascading revocation, regions, the check endpoint, the Hub's owner
//! endpoints, tier changes, audit events, and dual-control export.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::{IdentityLevel, Name, RepoId, Scope, Tier};

use crate::common::TestApp;

pub async fn set_tier(app: &TestApp, repo: &str, tier: Tier) {
    let r = app
        .store
        .db
        .repo(&RepoId::parse(repo).expect("id"))
        .await
        .expect("db")
        .expect("repo");
    app.store.db.set_tier(&r, tier).await.expect("tier");
}

pub async fn set_level(app: &TestApp, user: &str, level: IdentityLevel, country: Option<&str>) {
    app.store
        .db
        .set_identity_logged(
            &Name::parse(user).expect("name"),
            level,
            country,
            None,
            &crate::common::admin_event("set_identity"),
        )
        .await
        .expect("identity");
}

/// acme/gated (owned by org acme, owner alice) with a weights file; carol is an outsider.
pub async fn setup(tier: Tier) -> (TestApp, String, String) {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let carol = app.user("carol", Scope::Read).await;
    app.org("acme", &[]).await;
    app.store
        .db
        .add_member(
            &Name::parse("acme").expect("n"),
            &Name::parse("alice").expect("n"),
            "owner",
        )
        .await
        .expect("owner");
    app.repo("acme/gated", false).await;
    assert_eq!(
        app.commit("acme/gated", "main", &alice, &[("w.txt", b"weights\n")])
            .await
            .status(),
        StatusCode::OK
    );
    set_tier(&app, "acme/gated", tier).await;
    (app, alice, carol)
}

async fn dl(app: &TestApp, token: Option<&str>) -> crate::common::Response {
    app.get("/acme/gated/resolve/main/w.txt", token).await
}

pub async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> crate::common::Response {
    app.req(Method::POST, path, Some(token))
        .json(&body)
        .send()
        .await
        .expect("send")
}

pub async fn reason(r: crate::common::Response) -> (StatusCode, String, String) {
    let status = r.status();
    let code = r
        .headers()
        .get("x-error-code")
        .map(|v| v.to_str().expect("ascii").to_string())
        .unwrap_or_default();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (
        status,
        code,
        body["error"].as_str().unwrap_or("").to_string(),
    )
}

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

#[tokio::test]
async fn dual_control_export() {
    let (app, _, carol) = setup(Tier::T3).await;
    app.org("lab", &["carol"]).await;
    let op = |name: &'static str| {
        let app = &app;
        async move {
            let n = Name::parse(name).expect("n");
            app.store
                .db
                .create_user(&n, None, true)
                .await
                .expect("user");
            app.store
                .db
                .create_token(&n, Scope::Admin, "t")
                .await
                .expect("token")
        }
    };
    let (rev1, rev2) = (op("rev1").await, op("rev2").await);
    // only accredited members of an org may request
    let r = post(
        &app,
        "/api/v1/repos/acme/gated/exports",
        &carol,
        json!({"org": "lab", "purpose": "custody"}),
    )
    .await;
    assert_eq!(reason(r).await.2, "identity_level");
    set_level(&app, "carol", IdentityLevel::Accredited, None).await;
    let r = post(
        &app,
        "/api/v1/repos/acme/gated/exports",
        &carol,
        json!({"org": "acme", "purpose": "custody"}),
    )
    .await;
    assert_eq!(reason(r).await.2, "not_member");
    let r = post(
        &app,
        "/api/v1/repos/acme/gated/exports",
        &carol,
        json!({"org": "lab", "purpose": "custody"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.expect("json")["id"]
        .as_i64()
        .expect("id");
    let approve = |token: String| {
        let app = &app;
        async move {
            app.req(
                Method::POST,
                &format!("/api/v1/exports/{id}/approve"),
                Some(&token),
            )
            .send()
            .await
            .expect("send")
        }
    };
    let link = |token: String| {
        let app = &app;
        async move {
            app.req(
                Method::POST,
                &format!("/api/v1/exports/{id}/link"),
                Some(&token),
            )
            .send()
            .await
            .expect("send")
        }
    };
    // the requester cannot approve (not an operator), and no link before two approvals
    assert_eq!(reason(approve(carol.clone()).await).await.2, "not_operator");
    assert_eq!(
        reason(link(carol.clone()).await).await.2,
        "export_not_approved"
    );
    assert_eq!(approve(rev1.clone()).await.status(), StatusCode::OK);
    // the same reviewer twice does not count
    assert_eq!(
        reason(approve(rev1.clone()).await).await.2,
        "already_approved"
    );
    assert_eq!(
        reason(link(carol.clone()).await).await.2,
        "export_not_approved"
    );
    let v: Value = approve(rev2.clone()).await.json().await.expect("json");
    assert_eq!(v["state"], "approved");
    // only the requester gets the link, once
    assert_eq!(reason(link(rev1.clone()).await).await.2, "not_requester");
    let l: Value = link(carol.clone()).await.json().await.expect("json");
    assert_eq!(
        reason(link(carol.clone()).await).await.2,
        "link_already_issued"
    );
    let url = l["url"].as_str().expect("url").to_string();
    let r = app
        .req(Method::GET, &url, None)
        .send()
        .await
        .expect("download");
    assert_eq!(r.status(), StatusCode::OK);
    let tar_bytes = r.bytes().await.expect("tar");
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    let names: Vec<String> = archive
        .entries()
        .expect("entries")
        .map(|e| {
            e.expect("entry")
                .path()
                .expect("path")
                .to_string_lossy()
                .to_string()
        })
        .collect();
    assert!(names.contains(&"w.txt".to_string()), "{names:?}");
    // single use
    assert_eq!(
        reason(
            app.req(Method::GET, &url, None)
                .send()
                .await
                .expect("again")
        )
        .await
        .2,
        "link_used"
    );
    assert_eq!(
        reason(
            app.req(
                Method::GET,
                &format!("/api/v1/exports/download/{}", "0".repeat(64)),
                None
            )
            .send()
            .await
            .expect("x")
        )
        .await
        .2,
        "link_unknown"
    );
    // an operator who requested cannot approve their own export
    let root_req = {
        set_level(&app, "rev1", IdentityLevel::Accredited, None).await;
        app.store
            .db
            .add_member(
                &Name::parse("lab").expect("n"),
                &Name::parse("rev1").expect("n"),
                "member",
            )
            .await
            .expect("member");
        let r = post(
            &app,
            "/api/v1/repos/acme/gated/exports",
            &rev1,
            json!({"org": "lab", "purpose": "own"}),
        )
        .await;
        r.json::<Value>().await.expect("json")["id"]
            .as_i64()
            .expect("id")
    };
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/exports/{root_req}/approve"),
            Some(&rev1),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(reason(r).await.2, "own_request");
    // An approved export with a link (token, expiry) set directly: the HTTP path is above.
    let approved_link = |purpose: &'static str, token: String, expires_at: i64| {
        let app = &app;
        let carol = carol.clone();
        async move {
            use sha2::Digest;
            let r = post(
                app,
                "/api/v1/repos/acme/gated/exports",
                &carol,
                json!({"org": "lab", "purpose": purpose}),
            )
            .await;
            let id = r.json::<Value>().await.expect("json")["id"]
                .as_i64()
                .expect("id");
            let ev = |action: &str| weir_core::Event {
                at: 0,
                actor: None,
                action: action.into(),
                repo: None,
                subject: None,
                decision: "change".into(),
                reason: "test".into(),
                request_id: None,
                user_agent: None,
                details: json!({}),
            };
            for reviewer in ["rev1", "rev2"] {
                app.store
                    .db
                    .approve_export_logged(id, reviewer, 0, |_, _| ev("export.approve"))
                    .await
                    .expect("approve");
            }
            app.store
                .db
                .set_export_link_logged(
                    id,
                    &hex::encode(sha2::Sha256::digest(token.as_bytes())),
                    expires_at,
                    &ev("export.link"),
                )
                .await
                .expect("link");
            format!("{}/api/v1/exports/download/{token}", app.url)
        }
    };
    // an expired link is refused
    let url = approved_link("second", "f".repeat(64), 1).await;
    let r = app.req(Method::GET, &url, None).send().await.expect("x");
    assert_eq!(reason(r).await.2, "link_expired");
    // A confirmed incident holding the revision stops custodial copies too.
    let url3 = approved_link("third", "e".repeat(64), i64::MAX / 2).await;
    let head = app.head_of("acme/gated", "main").await;
    let gated = app
        .store
        .db
        .repo(&weir_core::RepoId::parse("acme/gated").expect("id"))
        .await
        .expect("db")
        .expect("repo");
    let held = app
        .store
        .db
        .create_incident_logged(
            &weir_store::incidents::Incident::received(
                gated.id,
                weir_core::incident::Kind::Incident,
                weir_core::incident::Class::WeightsExfiltration,
                "leak",
                "{}".into(),
                vec![head],
                None,
                1,
            ),
            2026,
            |n| format!("x_T-2026-{n:04}"),
            &weir_core::Event {
                at: 1,
                actor: None,
                action: "incident.reported".into(),
                repo: None,
                subject: None,
                decision: "change".into(),
                reason: "t".into(),
                request_id: None,
                user_agent: None,
                details: json!({}),
            },
        )
        .await
        .expect("incident");
    let mut confirmed = held.clone();
    confirmed.state = weir_core::incident::State::Confirmed;
    confirmed.hold = true;
    app.store
        .db
        .update_incident_logged(
            &confirmed,
            weir_core::incident::State::Received,
            &weir_store::incidents::LogLine {
                kind: "transition".into(),
                from_state: None,
                to_state: None,
                actor: "op".into(),
                note: "hold".into(),
                at: 2,
            },
            &[],
            &[],
        )
        .await
        .expect("hold");
    let r = app.req(Method::GET, &url3, None).send().await.expect("x");
    assert_eq!(reason(r).await.2, "incident_hold");
    let events = app
        .store
        .db
        .events(Some("acme/gated"), 100)
        .await
        .expect("events");
    for action in [
        "export.request",
        "export.approve",
        "export.link",
        "export.download",
    ] {
        assert!(events.iter().any(|(_, e)| e.action == action), "{action}");
    }
}

/// Property: whatever the tier, identity level, terms, grant state and caller, the server sends
/// file bytes exactly when the authorization module allows, and every gated delivery has an
/// `allow` event recorded before it.
#[test]
fn no_weight_byte_without_an_allow_decision() {
    use proptest::prelude::*;
    use weir_authz::{AccessStanding, Action, RepoFacts, Subject, UserFacts, authorize};
    use weir_core::{GrantState, RequestState};

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (app, _alice, carol) = rt.block_on(setup(Tier::T0));
    let repo = rt
        .block_on(app.store.db.repo(&RepoId::parse("acme/gated").expect("id")))
        .expect("db")
        .expect("repo");
    let tiers = vec![Tier::T0, Tier::T1, Tier::T2, Tier::T3, Tier::T4];
    let states = vec![
        None,
        Some(RequestState::Pending),
        Some(RequestState::Approved),
        Some(RequestState::Rejected),
        Some(RequestState::Revoked),
        Some(RequestState::Reset),
    ];
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 64,
        ..ProptestConfig::default()
    });
    let strategy = (
        prop::sample::select(tiers),
        prop::sample::select(IdentityLevel::ALL[1..].to_vec()),
        prop::sample::select(states),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    );
    runner
        .run(
            &strategy,
            |(tier, level, state, terms, expired, anonymous)| {
                rt.block_on(async {
                    app.store.db.set_tier(&repo, tier).await.expect("tier");
                    set_level(&app, "carol", level, None).await;
                    if terms {
                        app.store
                            .db
                            .accept_terms(&repo, "carol")
                            .await
                            .expect("terms");
                    } else {
                        sqlx_free_terms_reset(&app, &repo).await;
                    }
                    let at = time::OffsetDateTime::now_utc().unix_timestamp();
                    let expires_at = expired.then_some(at - 10);
                    if let Some(s) = state {
                        let req = weir_store::AccessRequest {
                            account: "carol".into(),
                            state: s,
                            purpose: "p".into(),
                            fields: Default::default(),
                            requested_at: at,
                            due_at: at + 100,
                            decided_by: None,
                            decided_at: Some(at),
                            reason: Some("r".into()),
                            expires_at,
                        };
                        app.store
                            .db
                            .put_access_request(&repo, &req)
                            .await
                            .expect("request");
                    } else {
                        let mut req = app
                            .store
                            .db
                            .access_request(&repo, "carol")
                            .await
                            .expect("q");
                        if let Some(r) = req.as_mut() {
                            r.state = RequestState::Reset;
                            app.store
                                .db
                                .put_access_request(&repo, r)
                                .await
                                .expect("reset");
                        }
                    }
                    let before = app
                        .store
                        .db
                        .events(Some("acme/gated"), 1)
                        .await
                        .expect("events")
                        .first()
                        .map(|(id, _)| *id)
                        .unwrap_or(0);
                    let r = dl(&app, (!anonymous).then_some(carol.as_str())).await;
                    let status = r.status();
                    let body = r.bytes().await.expect("body");

                    let subject = if anonymous {
                        Subject::Anonymous
                    } else {
                        Subject::User(UserFacts {
                            name: Name::parse("carol").expect("n"),
                            orgs: vec![],
                            owner_of: vec![],
                            scope: Scope::Read,
                            level,
                            country: None,
                        })
                    };
                    let facts = RepoFacts {
                        namespace: Name::parse("acme").expect("n"),
                        private: false,
                        tier,
                        min_level: IdentityLevel::Identified,
                        blocked_countries: vec![],
                        held: false,
                    };
                    let grant = if anonymous {
                        GrantState::None
                    } else {
                        GrantState::of(state.filter(|s| *s != RequestState::Reset), expires_at, at)
                    };
                    let standing = AccessStanding {
                        terms_accepted: terms && !anonymous,
                        grant,
                    };
                    let expected = authorize(&subject, &Action::Download(&facts, standing));
                    prop_assert_eq!(
                        status == StatusCode::OK,
                        expected.allow,
                        "tier {:?} level {:?} state {:?} terms {} expired {} anon {}: {} vs {:?}",
                        tier,
                        level,
                        state,
                        terms,
                        expired,
                        anonymous,
                        status,
                        expected
                    );
                    if !expected.allow {
                        prop_assert!(&body[..] != b"weights\n");
                    } else if tier > Tier::T0 {
                        let events = app
                            .store
                            .db
                            .events(Some("acme/gated"), 1)
                            .await
                            .expect("events");
                        let (id, e) = events.first().expect("an event");
                        prop_assert!(*id > before);
                        prop_assert_eq!(e.decision.as_str(), "allow");
                    }
                    Ok(())
                })
            },
        )
        .expect("property holds");
}

/// Withdraws carol's terms acceptance (test-only helper through the public API surface).
async fn sqlx_free_terms_reset(app: &TestApp, repo: &weir_store::Repo) {
    app.store
        .db
        .withdraw_terms(repo, "carol")
        .await
        .expect("withdraw");
}
