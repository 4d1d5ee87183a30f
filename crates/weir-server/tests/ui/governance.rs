//! The governance queues (`src/ui/governance.rs`): grant applications, progress reports,
//! payouts and board proposals decided from `/review` through the API's own services. And what
//! must never happen: a decision by the applicant, the team, the beneficiary or a non-member; a
//! panel reviewer shown the others' votes before voting; a report accepted that was replaced
//! after it was read; a payout reversed from a page; a signature over another digest.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::Scope;

use super::{Browser, PASSWORD, passwords};
use crate::common::TestApp;

async fn signed_in<'a>(app: &'a TestApp, name: &str) -> Browser<'a> {
    let mut b = Browser::new(app);
    assert_eq!(
        b.sign_in(name, PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    b
}

async fn application(w: &crate::grants::Grants, project: &str, route: &str) -> i64 {
    let (s, v) = w
        .app
        .send_json(
            Method::POST,
            "/api/v1/grants/applications",
            Some(&w.grace),
            crate::grants::application(project, route, 100.0),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_i64().expect("id")
}

async fn grant(w: &crate::grants::Grants, id: i64) -> Value {
    w.app
        .json(
            &format!("/api/v1/grants/applications/{id}"),
            Some(&w.ops[0]),
        )
        .await
}

#[tokio::test]
async fn a_panel_reviews_a_grant_from_the_queue_blind_to_each_others_votes() {
    let w = crate::grants::grants_world(&["big"]).await;
    crate::grants::open_call(&w, "airr").await;
    passwords(&w.app, &["op1", "op2", "op3", "op4", "grace"]).await;
    let id = application(&w, "big", "open").await;
    let path = format!("/review/grants/{id}");

    // The applicant has no grant queue, and a post is the service's refusal.
    let mut g = signed_in(&w.app, "grace").await;
    let (_, q) = g.text("/review").await;
    assert!(!q.contains("Grant applications to review"), "{q}");
    let r = g
        .submit("/settings", &path, &[("vote", "award"), ("reason", "mine")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let mut o1 = signed_in(&w.app, "op1").await;
    let (_, q) = o1.text("/review").await;
    assert!(
        q.contains(&format!(
            "Application {id} to <strong>airr</strong> (route open) for project <strong>safetylab/big</strong>"
        )),
        "{q}"
    );
    assert!(q.contains("0 vote(s) so far"), "{q}");
    assert!(
        q.contains("score the model on WMDP-bio"),
        "the plan is shown"
    );
    // No reason, no vote; an unknown vote is refused.
    let r = o1.submit("/review", &path, &[("vote", "award")]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = o1
        .submit("/review", &path, &[("vote", "maybe"), ("reason", "r")])
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = o1
        .submit(
            "/review",
            &path,
            &[("vote", "award"), ("reason", "op1-private-reasoning")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, q) = o1.text("/review").await;
    assert!(q.contains("You voted: award."), "{q}");
    let r = o1
        .submit("/review", &path, &[("vote", "reject"), ("reason", "again")])
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT, "one vote each");

    // The next reviewer sees that one vote was cast, not what or why.
    let mut o2 = signed_in(&w.app, "op2").await;
    let (_, q) = o2.text("/review").await;
    assert!(q.contains("1 vote(s) so far"), "{q}");
    assert!(!q.contains("op1-private-reasoning"), "{q}");
    assert!(!q.contains("You voted"), "{q}");
    let r = o2
        .submit(
            "/review",
            &path,
            &[("vote", "conflict"), ("reason", "I advise the lab")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = o2
        .submit("/review", &path, &[("vote", "award"), ("reason", "r")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "recused");
    let mut o3 = signed_in(&w.app, "op3").await;
    let r = o3
        .submit("/review", &path, &[("vote", "reject"), ("reason", "thin")])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(grant(&w, id).await["state"], "submitted", "one each");
    let mut o4 = signed_in(&w.app, "op4").await;
    let r = o4
        .submit("/review", &path, &[("vote", "award"), ("reason", "sound")])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(grant(&w, id).await["state"], "awarded");
    let (_, q) = o4.text("/review").await;
    assert!(q.contains("No application awaits a review"), "{q}");
}

#[tokio::test]
async fn a_report_is_accepted_by_what_was_read_never_by_its_team() {
    let w = crate::grants::grants_world(&["mid"]).await;
    crate::grants::open_call(&w, "airr").await;
    passwords(&w.app, &["op1", "op2", "grace"]).await;
    let id = application(&w, "mid", "rapid").await;
    let mut o1 = signed_in(&w.app, "op1").await;
    let r = o1
        .submit(
            "/review",
            &format!("/review/grants/{id}"),
            &[("vote", "award"), ("reason", "fine")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let award = grant(&w, id).await["award"]["id"].as_i64().expect("award");
    let report = |text: &str| {
        let app = &w.app;
        let grace = w.grace.clone();
        let text = text.to_string();
        async move {
            let (s, v) = app
                .send_json(
                    Method::POST,
                    &format!("/api/v1/grants/awards/{award}/report"),
                    Some(&grace),
                    json!({ "report": text }),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{v}");
        }
    };
    report("half scored <script>alert(1)</script>").await;
    let (_, q) = o1.text("/review").await;
    assert!(
        q.contains(&format!("Award {award} (application {id})")),
        "{q}"
    );
    assert!(!q.contains("<script>alert"), "the report is inert");
    let sha = weir_registry::grants::report_sha256("half scored <script>alert(1)</script>");
    assert!(q.contains(&sha), "{q}");
    let path = format!("/review/awards/{award}/report");
    // The team cannot accept its own report.
    let mut g = signed_in(&w.app, "grace").await;
    let r = g
        .submit(
            "/settings",
            &path,
            &[("report_sha256", sha.as_str()), ("reason", "ours")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Replaced after the page was read: the shown text's hash no longer names it.
    report("all done, trust us").await;
    let r = o1
        .submit(
            "/review",
            &path,
            &[("report_sha256", sha.as_str()), ("reason", "read it")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let (_, q) = o1.text("/review").await;
    assert!(q.contains("all done, trust us"), "{q}");
    let now_sha = weir_registry::grants::report_sha256("all done, trust us");
    let r = o1
        .submit("/review", &path, &[("report_sha256", now_sha.as_str())])
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "a reason is needed");
    let r = o1
        .submit(
            "/review",
            &path,
            &[("report_sha256", now_sha.as_str()), ("reason", "checked")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let a = w
        .app
        .json(&format!("/api/v1/grants/awards/{award}"), None)
        .await;
    assert_eq!(a["released_cpu_hours"], a["cpu_hours"], "{a}");
    let (_, q) = o1.text("/review").await;
    assert!(q.contains("No report awaits acceptance"), "{q}");
}

#[tokio::test]
async fn payouts_are_decided_from_the_queue_never_by_their_beneficiary() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let op = app.user("op", Scope::Admin).await;
    let op2 = app.user("op2", Scope::Admin).await;
    let fred = app.user("fred", Scope::Write).await;
    let rita = app.user("rita", Scope::Write).await;
    passwords(&app, &["op", "op2", "rita"]).await;
    app.repo("alice/m", false).await;
    assert!(
        app.commit("alice/m", "main", &alice, &[("config.json", b"{}")])
            .await
            .status()
            .is_success()
    );
    let pool = json!({"name": "vulns", "title": "Vulnerability bounties", "purpose": "bounty",
        "rules": {"pays": [
            {"kind": "incident", "min_severity": "high", "amount": "250.00"},
            {"kind": "vulnerability", "amount": "100"}],
            "cap_per_report": "200.00", "cap_per_pool": "300.00"}});
    let (s, v) = app
        .send_json(Method::POST, "/api/v1/funding/pools", Some(&op), pool)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = app
        .send_json(
            Method::POST,
            "/api/v1/funding/pools/vulns/pledges",
            Some(&fred),
            json!({"amount": "300.00"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    crate::funding::confirmed(&app, &rita, &op, "incident", "high").await;
    crate::funding::confirmed(&app, &op2, &op, "vulnerability", "low").await;
    let all = app.json("/api/v1/funding/payouts", Some(&op)).await;
    let id_of = |who: &str| {
        all["payouts"]
            .as_array()
            .expect("payouts")
            .iter()
            .find(|p| p["beneficiary"] == who)
            .and_then(|p| p["id"].as_i64())
            .unwrap_or_else(|| panic!("no payout to {who}: {all}"))
    };
    let (to_rita, to_op2) = (id_of("rita"), id_of("op2"));

    // The beneficiary who is not an operator has no payout queue and cannot decide.
    let mut r = signed_in(&app, "rita").await;
    let (_, q) = r.text("/review").await;
    assert!(!q.contains("Payouts to decide"), "{q}");
    let resp = r
        .submit(
            "/settings",
            &format!("/review/payouts/{to_rita}"),
            &[("decision", "pay"), ("reason", "mine")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // An operator who is the beneficiary is told so, and refused if they post.
    let mut o2 = signed_in(&app, "op2").await;
    let (_, q) = o2.text("/review").await;
    assert!(
        q.contains(&format!(
            "Payout {to_op2} of <strong>100.00 EUR</strong> from pool vulns to <strong>op2</strong>"
        )),
        "{q}"
    );
    assert!(
        q.contains("It is yours: another operator decides it."),
        "{q}"
    );
    let resp = o2
        .submit(
            "/review",
            &format!("/review/payouts/{to_op2}"),
            &[("decision", "pay"), ("reason", "mine")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    let mut o = signed_in(&app, "op").await;
    let path = format!("/review/payouts/{to_rita}");
    for (fields, status) in [
        (vec![("decision", "pay")], StatusCode::BAD_REQUEST),
        (
            vec![("decision", "reverse"), ("reason", "r")],
            StatusCode::BAD_REQUEST,
        ),
        (
            vec![("decision", "pay"), ("reason", "confirmed and reproduced")],
            StatusCode::SEE_OTHER,
        ),
        (
            vec![("decision", "pay"), ("reason", "twice")],
            StatusCode::CONFLICT,
        ),
    ] {
        let resp = o.submit("/review", &path, &fields).await;
        assert_eq!(resp.status(), status, "{fields:?}");
    }
    let p = app
        .store
        .db
        .payout(to_rita)
        .await
        .expect("db")
        .expect("payout");
    assert_eq!(
        (p.state.as_str(), p.decided_by.as_deref()),
        ("paid", Some("op"))
    );
    let resp = o
        .submit(
            "/review",
            &format!("/review/payouts/{to_op2}"),
            &[("decision", "reject"), ("reason", "a duplicate")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let (_, q) = o.text("/review").await;
    assert!(q.contains("No payout is proposed"), "{q}");
}

#[tokio::test]
async fn board_members_sign_from_the_queue_with_a_signature_made_off_the_page() {
    let b = crate::board::board_world().await;
    crate::board::init(&b, 2).await;
    passwords(&b.app, &["m1", "m2", "op", "dan"]).await;
    let text = weir_core::policy::DEFAULT_POLICY.replace(
        "version = \"weir-default-2026.11\"",
        "version = \"board-2026.12\"",
    );
    let (s, p) =
        crate::board::propose(&b, &b.op, json!({"kind": "policy_set", "text": text})).await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let id = p["id"].as_i64().expect("id");
    let digest = p["digest"].as_str().expect("digest").to_string();
    let path = format!("/review/board/{id}");

    // A member who reviews nothing else finds the queue in the frame, with the proposal.
    let mut m1 = signed_in(&b.app, "m1").await;
    let (_, home) = m1.text("/").await;
    assert!(home.contains("href=\"/review\""), "{home}");
    let (_, q) = m1.text("/review").await;
    assert!(
        q.contains(&format!(
            "Proposal {id} (<strong>policy_set</strong>) by op"
        )),
        "{q}"
    );
    assert!(q.contains(&digest), "{q}");
    assert!(q.contains("signed by 0 of the 2 needed"), "{q}");
    assert!(q.contains(&format!("weir board sign {id} --offline --digest {digest}")));
    // A signature over another digest, or by someone else's key, is refused.
    let forged = weir_signing::sign_board(&"0".repeat(64), &b.members[0].2).expect("sign");
    let theirs = weir_signing::sign_board(&digest, &b.members[2].2).expect("sign");
    for sig in [forged.as_str(), theirs.as_str(), "not base64"] {
        let r = m1.submit("/review", &path, &[("signature", sig)]).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{sig}");
    }
    let mine = weir_signing::sign_board(&digest, &b.members[0].2).expect("sign");
    let r = m1.submit("/review", &path, &[("signature", &mine)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, q) = m1.text("/review").await;
    assert!(q.contains("You signed it."), "{q}");
    assert!(q.contains("signed by 1 of the 2 needed (m1)"), "{q}");
    let r = m1.submit("/review", &path, &[("signature", &mine)]).await;
    assert!(r.status().is_client_error(), "{}", r.status());

    // Neither an outsider nor an operator who is not a member signs; the outsider sees no
    // board queue, the operator sees it read-only.
    let mut d = signed_in(&b.app, "dan").await;
    let (_, q) = d.text("/review").await;
    assert!(!q.contains("Board proposals"), "{q}");
    let r = d.submit("/settings", &path, &[("signature", &mine)]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let mut o = signed_in(&b.app, "op").await;
    let (_, q) = o.text("/review").await;
    assert!(q.contains("Board members sign it."), "{q}");
    assert!(!q.contains(&format!("action=\"{path}\"")), "{q}");
    let r = o.submit("/review", &path, &[("signature", &mine)]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // The second member's signature applies it.
    let mut m2 = signed_in(&b.app, "m2").await;
    let sig = weir_signing::sign_board(&digest, &b.members[1].2).expect("sign");
    let r = m2.submit("/review", &path, &[("signature", &sig)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let shown = b
        .app
        .json(&format!("/api/v1/board/proposals/{id}"), None)
        .await;
    assert_eq!(shown["state"], "applied", "{shown}");
    let (_, q) = m2.text("/review").await;
    assert!(q.contains("No proposal awaits signatures"), "{q}");
}
