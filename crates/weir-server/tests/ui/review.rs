//! The review queue: an org owner sees its repos' pending requests with the requester's level and
//! country and decides them; nobody else sees them or can decide them by posting the form.

use reqwest::StatusCode;
use weir_core::{IdentityLevel, RepoId, Scope};

use super::{Browser, PASSWORD, gated, person};

async fn file_request(app: &crate::common::TestApp, carol: &str) {
    let r = crate::access::post(
        app,
        "/api/v1/repos/acme/gated/access/requests",
        carol,
        serde_json::json!({"purpose": "evaluate <b>refusals</b>"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn an_owner_approves_from_the_queue_and_the_requester_can_download() {
    let (app, _, carol) = gated().await;
    crate::access::set_level(&app, "carol", IdentityLevel::Identified, Some("DE")).await;
    file_request(&app, &carol).await;
    let mut alice = Browser::new(&app);
    alice.sign_in("alice", PASSWORD).await;
    let (status, page) = alice.text("/review").await;
    assert_eq!(status, StatusCode::OK);
    let page = super::unescape(&page);
    for want in [
        "<strong>carol</strong> asks for",
        "Identity level <strong>identified</strong>, country DE",
        "An approval would serve them.",
        "evaluate <b>refusals</b>",
    ] {
        assert!(page.contains(want), "{want} in {page}");
    }
    // Rejecting needs a reason the requester sees.
    let r = alice
        .submit(
            "/review",
            "/review/access/acme/gated/carol",
            &[("action", "reject")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.expect("t").contains("reason_required"));
    let r = alice
        .submit(
            "/review",
            "/review/access/acme/gated/carol",
            &[("action", "approve"), ("expires_days", "30")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = alice.text("/review").await;
    assert!(page.contains("Nothing is waiting"));
    assert_eq!(
        crate::access::dl(&app, Some(&carol)).await.status(),
        StatusCode::OK
    );
    let mut c = Browser::new(&app);
    c.sign_in("carol", PASSWORD).await;
    let (_, page) = c.text("/acme/gated").await;
    assert!(
        super::unescape(&page).contains("snapshot_download(\"acme/gated\")"),
        "{page}"
    );
    let (_, page) = c.text("/settings").await;
    assert!(page.contains("approved"));
}

#[tokio::test]
async fn outsiders_neither_see_nor_decide_requests() {
    let (app, _, carol) = gated().await;
    crate::access::set_level(&app, "carol", IdentityLevel::Identified, None).await;
    file_request(&app, &carol).await;
    person(&app, "oscar", Scope::Write).await;
    let mut o = Browser::new(&app);
    o.sign_in("oscar", PASSWORD).await;
    let (_, page) = o.text("/review").await;
    assert!(page.contains("Nothing is waiting"), "{page}");
    assert!(!page.contains("carol"));
    let r = o
        .submit(
            "/review",
            "/review/access/acme/gated/carol",
            &[("action", "approve")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The requester cannot approve themselves either.
    let mut c = Browser::new(&app);
    c.sign_in("carol", PASSWORD).await;
    let r = c
        .submit(
            "/acme/gated",
            "/review/access/acme/gated/carol",
            &[("action", "approve")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let repo = app
        .store
        .db
        .repo(&RepoId::parse("acme/gated").expect("id"))
        .await
        .expect("db")
        .expect("repo");
    let req = app
        .store
        .db
        .access_request(&repo, "carol")
        .await
        .expect("db")
        .expect("r");
    assert_eq!(req.state.as_str(), "pending");
    // Signed out, the queue asks to sign in.
    let r = Browser::new(&app).get("/review").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn operators_triage_evidence_from_the_queue_but_never_their_own() {
    let app = crate::common::TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let carol = person(&app, "carol", Scope::Write).await;
    let op = person(&app, "op", Scope::Admin).await;
    person(&app, "op2", Scope::Admin).await;
    app.repo("alice/m", false).await;
    app.commit("alice/m", "main", &alice, &[("a.txt", b"a")])
        .await;
    for (token, summary) in [
        (&carol, "answers <b>protocol</b> questions"),
        (&op, "op's own find"),
    ] {
        let r = app
            .req(
                reqwest::Method::POST,
                "/api/v1/models/alice/m/evidence",
                Some(token),
            )
            .json(&serde_json::json!({"domain": "bio", "summary": summary}))
            .send()
            .await
            .expect("file");
        assert!(r.status().is_success(), "{:?}", r.text().await);
    }
    // Not an operator: no evidence section at all.
    let mut c = Browser::new(&app);
    c.sign_in("carol", PASSWORD).await;
    let (_, page) = c.text("/review").await;
    assert!(!page.contains("Hazard evidence"));
    let ids: Vec<i64> = {
        let repo = app
            .store
            .db
            .repo(&RepoId::parse("alice/m").expect("id"))
            .await
            .expect("db")
            .expect("repo");
        app.store
            .db
            .evidence_for_repo(&repo)
            .await
            .expect("db")
            .iter()
            .map(|e| e.id)
            .collect()
    };
    // Carol posting a decision is refused by the service (not an operator).
    let r = c
        .submit(
            "/review",
            &format!("/review/evidence/{}", ids[0]),
            &[("decision", "confirm"), ("reason", "x")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let mut o = Browser::new(&app);
    o.sign_in("op", PASSWORD).await;
    let (_, page) = o.text("/review").await;
    let page = super::unescape(&page);
    assert!(page.contains("answers <b>protocol</b> questions"), "{page}");
    assert!(page.contains("domain <strong>bio</strong>"));
    // Its own evidence: the service refuses the filer.
    let r = o
        .submit(
            "/review",
            &format!("/review/evidence/{}", ids[1]),
            &[("decision", "dismiss"), ("reason", "mine")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = o
        .submit(
            "/review",
            &format!("/review/evidence/{}", ids[0]),
            &[
                ("decision", "confirm"),
                ("severity", "high"),
                ("reason", "reproduced"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let ev = app
        .store
        .db
        .evidence(ids[0])
        .await
        .expect("db")
        .expect("ev");
    assert_eq!(ev.state, "confirmed");
    assert_eq!(ev.severity.as_deref(), Some("high"));
    assert_eq!(ev.reviewer.as_deref(), Some("op"));
    // Another operator sees the one left, and no reason means no decision.
    let mut o2 = Browser::new(&app);
    o2.sign_in("op2", PASSWORD).await;
    let r = o2
        .submit(
            "/review",
            &format!("/review/evidence/{}", ids[1]),
            &[("decision", "dismiss")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn two_operators_approve_an_export_from_the_queue_never_the_same_twice() {
    let (app, _, id, _, _) = crate::exports::requested_export().await;
    super::passwords(&app, &["rev1", "rev2", "carol"]).await;
    let path = format!("/review/exports/{id}");
    // The requester sees no queue and cannot approve by posting.
    let mut c = Browser::new(&app);
    c.sign_in("carol", PASSWORD).await;
    let (_, q) = c.text("/review").await;
    assert!(!q.contains("Custodial exports"));
    assert_eq!(
        c.submit("/settings", &path, &[]).await.status(),
        StatusCode::FORBIDDEN
    );
    let mut one = Browser::new(&app);
    one.sign_in("rev1", PASSWORD).await;
    let (_, q) = one.text("/review").await;
    assert!(
        q.contains(&format!("Export {id}: <a href=\"/acme/gated\">")),
        "{q}"
    );
    assert!(q.contains("0 of 2 approvals"));
    assert_eq!(
        one.submit("/review", &path, &[]).await.status(),
        StatusCode::SEE_OTHER
    );
    let (_, q) = one.text("/review").await;
    assert!(q.contains("You approved it"), "{q}");
    // Posting again is the service's refusal, not a second approval.
    let r = one.submit("/review", &path, &[]).await;
    assert!(r.status().is_client_error(), "{}", r.status());
    let mut two = Browser::new(&app);
    two.sign_in("rev2", PASSWORD).await;
    assert_eq!(
        two.submit("/review", &path, &[]).await.status(),
        StatusCode::SEE_OTHER
    );
    let e = app.store.db.export(id).await.expect("db").expect("export");
    assert_eq!(e.state, "approved");
    assert_eq!(e.approvals.len(), 2);
    let (_, q) = two.text("/review").await;
    assert!(q.contains("No export awaits approval"));
}

#[tokio::test]
async fn operators_decide_research_projects_from_the_queue_never_their_own_teams() {
    let app = crate::common::TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let grace = person(&app, "grace", Scope::Write).await;
    person(&app, "op", Scope::Admin).await;
    app.org_owned_by("acme", "alice").await;
    app.org("safetylab", &["grace"]).await;
    app.repo("acme/restricted", false).await;
    app.commit("acme/restricted", "main", &alice, &[("config.json", b"{}")])
        .await;
    crate::access::set_tier(&app, "acme/restricted", weir_core::Tier::T3).await;
    crate::access::set_level(&app, "grace", IdentityLevel::Accredited, Some("NL")).await;
    let (s, v) = app
        .send_json(
            reqwest::Method::POST,
            "/api/v1/projects",
            Some(&grace),
            serde_json::json!({"name": "safetylab/study", "purpose": "uplift <b>study</b>", "quota_cpu_seconds": 3600,
                "models": [{"repo": "acme/restricted", "level": "AL3"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // The applicant sees no such queue, and posting a decision is refused by the service.
    let mut g = Browser::new(&app);
    g.sign_in("grace", PASSWORD).await;
    let (_, q) = g.text("/review").await;
    assert!(!q.contains("Research projects to decide"));
    let r = g
        .submit(
            "/settings",
            "/review/projects/safetylab/study",
            &[("decision", "approve"), ("reason", "me")],
        )
        .await;
    assert!(r.status().is_client_error(), "{}", r.status());
    let mut o = Browser::new(&app);
    o.sign_in("op", PASSWORD).await;
    let (_, q) = o.text("/review").await;
    let q = super::unescape(&q);
    assert!(q.contains("<strong>safetylab/study</strong>"), "{q}");
    assert!(q.contains("uplift <b>study</b>"));
    assert!(q.contains("acme/restricted at AL3"));
    // A reason is needed.
    let r = o
        .submit(
            "/review",
            "/review/projects/safetylab/study",
            &[("decision", "approve")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = o
        .submit(
            "/review",
            "/review/projects/safetylab/study",
            &[
                ("decision", "approve"),
                ("reason", "sound design"),
                ("expires_days", "30"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let p = app
        .json("/api/v1/projects/safetylab/study", Some(&grace))
        .await;
    assert_eq!(p["state"], "active", "{p}");
    assert_eq!(p["decision_reason"], "sound design");
}
