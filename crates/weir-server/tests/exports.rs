//! Dual-control custodial export (`src/exports.rs`): the flow, and what it must never allow (T4 weights,
//! a requester who no longer qualifies, export ids telling outsiders anything).

use crate::access::set_tier;
use crate::access::*;
use crate::common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::{IdentityLevel, Name, Scope, Tier};

/// An export of acme/gated (T3) requested by carol (accredited, member of lab), with two
/// operators to approve it. Returns (app, carol's token, export id, the operators' tokens).
pub(crate) async fn requested_export() -> (TestApp, String, i64, String, String) {
    let (app, carol, rev1, rev2) = export_world().await;
    set_level(&app, "carol", IdentityLevel::Accredited, None).await;
    let r = request(&app, &carol, "lab").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.expect("json")["id"]
        .as_i64()
        .expect("id");
    (app, carol, id, rev1, rev2)
}

async fn export_step(app: &TestApp, id: i64, step: &str, token: &str) -> crate::common::Response {
    app.req(
        Method::POST,
        &format!("/api/v1/exports/{id}/{step}"),
        Some(token),
    )
    .send()
    .await
    .expect("send")
}

pub(crate) async fn approve_both(app: &TestApp, id: i64, rev1: &str, rev2: &str) {
    assert_eq!(
        export_step(app, id, "approve", rev1).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        export_step(app, id, "approve", rev2).await.status(),
        StatusCode::OK
    );
}

async fn issue_link(app: &TestApp, id: i64, carol: &str) -> String {
    let r = export_step(app, id, "link", carol).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.expect("json")["url"]
        .as_str()
        .expect("url")
        .to_string()
}

async fn error_code(r: crate::common::Response) -> (StatusCode, String) {
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    let code = v["reason"]
        .as_str()
        .or(v["error"].as_str())
        .unwrap_or("")
        .to_string();
    (status, code)
}

/// acme/gated (T3), carol an outsider in org lab, and two operators (rev1, rev2).
async fn export_world() -> (TestApp, String, String, String) {
    let (app, _, carol) = setup(Tier::T3).await;
    app.org("lab", &["carol"]).await;
    let mut ops = Vec::new();
    for n in ["rev1", "rev2"] {
        let n = Name::parse(n).expect("n");
        app.store
            .db
            .create_user(&n, None, true)
            .await
            .expect("user");
        ops.push(
            app.store
                .db
                .create_token(&n, Scope::Admin, "t")
                .await
                .expect("token"),
        );
    }
    let (rev2, rev1) = (ops.pop().expect("op"), ops.pop().expect("op"));
    (app, carol, rev1, rev2)
}

async fn request(app: &TestApp, token: &str, org: &str) -> crate::common::Response {
    post(
        app,
        "/api/v1/repos/acme/gated/exports",
        token,
        json!({"org": org, "purpose": "custody"}),
    )
    .await
}

#[tokio::test]
async fn only_accredited_members_of_the_org_named_may_request() {
    let (app, carol, _, _) = export_world().await;
    assert_eq!(
        reason(request(&app, &carol, "lab").await).await.2,
        "identity_level"
    );
    set_level(&app, "carol", IdentityLevel::Accredited, None).await;
    assert_eq!(
        reason(request(&app, &carol, "acme").await).await.2,
        "not_member"
    );
    let r = request(&app, &carol, "lab").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.expect("json");
    insta::assert_json_snapshot!(v, {
        ".id" => "[id]",
        ".commit" => "[commit]",
        ".created_at" => "[time]",
    }, @r#"
    {
      "approvals": [],
      "approvals_needed": 2,
      "commit": "[commit]",
      "created_at": "[time]",
      "downloaded_at": null,
      "id": "[id]",
      "link_expires_at": null,
      "link_issued": false,
      "org": "lab",
      "purpose": "custody",
      "repo": "acme/gated",
      "requester": "carol",
      "state": "pending"
    }
    "#);
}

#[tokio::test]
async fn two_distinct_operators_approve_and_never_the_requester() {
    let (app, carol, id, rev1, rev2) = requested_export().await;
    let step = |s: &'static str, token: String| {
        let app = &app;
        async move { reason(export_step(app, id, s, &token).await).await.2 }
    };
    assert_eq!(step("approve", carol.clone()).await, "not_operator");
    assert_eq!(step("link", carol.clone()).await, "export_not_approved");
    assert_eq!(
        export_step(&app, id, "approve", &rev1).await.status(),
        StatusCode::OK
    );
    // The same reviewer twice does not count.
    assert_eq!(step("approve", rev1.clone()).await, "already_approved");
    assert_eq!(step("link", carol.clone()).await, "export_not_approved");
    let v: Value = export_step(&app, id, "approve", &rev2)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(v["state"], "approved");
    assert_eq!(v["approvals"], json!(["rev1", "rev2"]));
}

#[tokio::test]
async fn an_operator_never_approves_their_own_export() {
    let (app, _, rev1, _) = export_world().await;
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
    let r = request(&app, &rev1, "lab").await;
    let id = r.json::<Value>().await.expect("json")["id"]
        .as_i64()
        .expect("id");
    let r = export_step(&app, id, "approve", &rev1).await;
    assert_eq!(reason(r).await.2, "own_request");
}

#[tokio::test]
async fn the_link_goes_to_the_requester_once_and_works_once() {
    let (app, carol, id, rev1, rev2) = requested_export().await;
    approve_both(&app, id, &rev1, &rev2).await;
    let r = export_step(&app, id, "link", &rev1).await;
    assert_eq!(reason(r).await.2, "not_requester");
    let url = issue_link(&app, id, &carol).await;
    let r = export_step(&app, id, "link", &carol).await;
    assert_eq!(reason(r).await.2, "link_already_issued");
    let get = |url: String| {
        let app = &app;
        async move { app.req(Method::GET, &url, None).send().await.expect("get") }
    };
    let r = get(url.clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let tar_bytes = r.bytes().await.expect("tar");
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    let names: Vec<String> = archive
        .entries()
        .expect("entries")
        .map(|e| {
            let e = e.expect("entry");
            e.path().expect("path").to_string_lossy().to_string()
        })
        .collect();
    assert!(names.contains(&"w.txt".to_string()), "{names:?}");
    assert_eq!(reason(get(url).await).await.2, "link_used");
    let unknown = format!("/api/v1/exports/download/{}", "0".repeat(64));
    assert_eq!(reason(get(unknown).await).await.2, "link_unknown");
    let events = app
        .store
        .db
        .events(Some("acme/gated"), 100)
        .await
        .expect("events");
    let actions: Vec<&str> = events
        .iter()
        .map(|(_, e)| e.action.as_str())
        .filter(|a| a.starts_with("export."))
        .collect();
    assert_eq!(
        actions,
        [
            "export.download",
            "export.link",
            "export.approve",
            "export.approve",
            "export.request"
        ]
    );
}

/// An approved export whose link (token, expiry) is set in the store: the HTTP path is tested
/// above; this reaches the states HTTP takes a day to reach.
async fn link_set_directly(app: &TestApp, id: i64, token: &str, expires_at: i64) -> String {
    use sha2::Digest;
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
    format!("/api/v1/exports/download/{token}")
}

#[tokio::test]
async fn an_expired_link_is_refused() {
    let (app, _, id, _, _) = requested_export().await;
    let url = link_set_directly(&app, id, &"f".repeat(64), 1).await;
    let r = app.req(Method::GET, &url, None).send().await.expect("x");
    assert_eq!(reason(r).await.2, "link_expired");
}

#[tokio::test]
async fn a_confirmed_incident_holding_the_revision_stops_the_copy() {
    let (app, _, id, _, _) = requested_export().await;
    let url = link_set_directly(&app, id, &"e".repeat(64), i64::MAX / 2).await;
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
            &crate::common::admin_event("incident.reported"),
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
    let r = app.req(Method::GET, &url, None).send().await.expect("x");
    assert_eq!(reason(r).await.2, "incident_hold");
}

/// F2: a repo raised to T4 after the request, after the approvals or after the link: no step
/// hands out its weights, and a spent link does not come back.
#[tokio::test]
async fn custodial_export_never_hands_out_t4() {
    // Raised after the request: approvals are refused.
    let (app, _carol, id, rev1, _rev2) = requested_export().await;
    set_tier(&app, "acme/gated", Tier::T4).await;
    let (status, code) = error_code(export_step(&app, id, "approve", &rev1).await).await;
    assert_eq!(
        (status.is_client_error(), code.as_str()),
        (true, "not_exportable")
    );

    // Raised after the approvals: no link.
    let (app, carol, id, rev1, rev2) = requested_export().await;
    approve_both(&app, id, &rev1, &rev2).await;
    set_tier(&app, "acme/gated", Tier::T4).await;
    let (_, code) = error_code(export_step(&app, id, "link", &carol).await).await;
    assert_eq!(code, "not_exportable");

    // Raised after the link was issued: the download is refused, logged, and the link is spent.
    let (app, carol, id, rev1, rev2) = requested_export().await;
    approve_both(&app, id, &rev1, &rev2).await;
    let url = issue_link(&app, id, &carol).await;
    set_tier(&app, "acme/gated", Tier::T4).await;
    let r = app
        .req(Method::GET, &url, None)
        .send()
        .await
        .expect("download");
    assert!(r.status().is_client_error());
    assert_eq!(error_code(r).await.1, "not_exportable");
    set_tier(&app, "acme/gated", Tier::T3).await;
    let r = app
        .req(Method::GET, &url, None)
        .send()
        .await
        .expect("again");
    assert_eq!(error_code(r).await.1, "link_used");
    let events = app.store.db.events(None, 1000).await.expect("events");
    assert!(
        events.iter().any(|(_, e)| e.action == "export.download"
            && e.decision == "deny"
            && e.reason == "not_exportable"),
        "the refused download is an audit event"
    );
}

/// F3: a requester demoted after the approvals (level lowered, attestation lapsed, left the
/// organization) receives nothing.
#[tokio::test]
async fn custodial_export_follows_the_requester_as_they_are_now() {
    use crate::access::set_level;
    use weir_core::{IdentityLevel, Name};
    // Level lowered after the link was issued.
    let (app, carol, id, rev1, rev2) = requested_export().await;
    approve_both(&app, id, &rev1, &rev2).await;
    let url = issue_link(&app, id, &carol).await;
    set_level(&app, "carol", IdentityLevel::Identified, None).await;
    let r = app
        .req(Method::GET, &url, None)
        .send()
        .await
        .expect("download");
    assert_eq!(error_code(r).await.1, "identity_level");

    // Left the organization after the approvals: no link; and before the approvals: none.
    let (app, carol, id, rev1, rev2) = requested_export().await;
    approve_both(&app, id, &rev1, &rev2).await;
    let lab = Name::parse("lab").expect("n");
    let carol_name = Name::parse("carol").expect("n");
    assert!(
        app.store
            .db
            .remove_member(&lab, &carol_name)
            .await
            .expect("db")
    );
    let (_, code) = error_code(export_step(&app, id, "link", &carol).await).await;
    assert_eq!(code, "not_member");

    let (app, _carol, id, rev1, _) = requested_export().await;
    set_level(&app, "carol", IdentityLevel::Account, None).await;
    let (_, code) = error_code(export_step(&app, id, "approve", &rev1).await).await;
    assert_eq!(code, "identity_level");

    // Left the organization after the link: the download is refused.
    let (app, carol, id, rev1, rev2) = requested_export().await;
    approve_both(&app, id, &rev1, &rev2).await;
    let url = issue_link(&app, id, &carol).await;
    assert!(
        app.store
            .db
            .remove_member(&lab, &carol_name)
            .await
            .expect("db")
    );
    let r = app
        .req(Method::GET, &url, None)
        .send()
        .await
        .expect("download");
    assert_eq!(error_code(r).await.1, "not_member");
}

/// Review follow-up: export ids do not reveal which repos (often private, always T3) have
/// exports: anyone but the requester and operators gets the same 404 for an existing id as for
/// a missing one, on every export route.
#[tokio::test]
async fn export_ids_reveal_nothing_to_others() {
    let (app, _carol, id, _rev1, _rev2) = requested_export().await;
    let outsider = app.user("oscar", Scope::Write).await;
    for step in ["approve", "link"] {
        for token in [None, Some(outsider.as_str())] {
            let real = app
                .req(Method::POST, &format!("/api/v1/exports/{id}/{step}"), token)
                .send()
                .await
                .expect("send");
            let ghost = app
                .req(
                    Method::POST,
                    &format!("/api/v1/exports/{}/{step}", id + 1000),
                    token,
                )
                .send()
                .await
                .expect("send");
            assert_eq!(real.status(), ghost.status(), "{step}");
            let (a, b): (Value, Value) = (
                real.json().await.expect("json"),
                ghost.json().await.expect("json"),
            );
            assert_eq!(a["error"], b["error"], "{step}: {a} vs {b}");
            assert!(!a.to_string().contains("acme"), "{a}");
        }
    }
}
