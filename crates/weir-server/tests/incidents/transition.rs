//! Incident transitions (`src/incidents/transition.rs`): roles, holds, notifications, standing.

use super::*;
use crate::common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::{RepoId, Scope, Tier};

/// alice/m (alice's), downloaded at v1 by bob (who has a webhook) and carol; dave reports an
/// incident about it; op is an operator.
struct Reported {
    app: TestApp,
    alice: String,
    bob: String,
    carol: String,
    dave: String,
    op: String,
    v1: String,
    id: String,
    secret: String,
    got: std::sync::Arc<tokio::sync::Mutex<Vec<(String, String)>>>,
}

async fn reported() -> Reported {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let bob = app.user("bob", Scope::Read).await;
    let carol = app.user("carol", Scope::Read).await;
    let dave = app.user("dave", Scope::Read).await;
    let op = app.user("op", Scope::Admin).await;
    app.repo("alice/m", false).await;
    app.commit("alice/m", "main", &alice, &[("w.bin", b"v1 weights")])
        .await;
    let v1 = app.head_of("alice/m", "main").await;
    // bob and carol download v1; dave downloads nothing.
    for t in [&bob, &carol] {
        let r = app
            .get(&format!("/alice/m/resolve/{v1}/w.bin"), Some(t))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    let (hook, got) = webhook_sink().await;
    let r = app
        .req(Method::PUT, "/api/v1/notifications/webhook", Some(&bob))
        .json(&json!({"url": hook}))
        .send()
        .await
        .expect("send");
    let secret = r.json::<Value>().await.expect("json")["secret"]
        .as_str()
        .expect("secret")
        .to_string();

    let (_, v) = post(&app, "/api/v1/incidents", Some(&dave), report("alice/m")).await;
    let id = v["id"].as_str().expect("id").to_string();
    assert!(
        v.get("followup_token").is_none(),
        "signed-in reporters need none"
    );
    Reported {
        app,
        alice,
        bob,
        carol,
        dave,
        op,
        v1: v1.to_string(),
        id,
        secret,
        got,
    }
}

/// The same, triaged by the publisher and confirmed by the operator with a delivery hold, a
/// raised domain and an embargo that is already over.
async fn confirmed() -> Reported {
    let w = reported().await;
    let triage = json!({"to": "triaged", "severity": "high", "reason": "reproduced"});
    let (s, _) = app_transition(&w.app, &w.id, Some(&w.alice), None, triage).await;
    assert_eq!(s, StatusCode::OK, "the publisher triages");
    let (app, id, op) = (&w.app, &w.id, &w.op);
    let (s, v) = app_transition(
        app,
        id,
        Some(op),
        None,
        json!({"to": "confirmed", "reason": "confirmed by red team", "hold": true, "raise_domain": "cyber", "embargo_until": "2020-01-01"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["notified"], 2);

    w
}

#[tokio::test]
async fn only_the_right_roles_move_an_incident_and_the_role_is_decided_first() {
    let Reported {
        app,
        alice,
        carol,
        dave,
        op,
        id,
        ..
    } = reported().await;
    // Outsiders cannot act; the reporter cannot triage.
    let triage = json!({"to": "triaged", "severity": "high", "reason": "reproduced"});
    let (s, _) = app_transition(&app, &id, Some(&carol), None, triage.clone()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app_transition(&app, &id, Some(&dave), None, triage.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // The role is decided before any field is read or revision resolved: a reporter naming a
    // revision that does not exist, or an embargo, learns only that the move is not theirs.
    let (s, v) = app_transition(
        &app,
        &id,
        Some(&dave),
        None,
        json!({"to": "mitigated", "fixed_revision": "no-such-branch", "reason": "x"}),
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("invalid_transition")),
        "{v}"
    );
    let (s, v) = app_transition(
        &app,
        &id,
        Some(&dave),
        None,
        json!({"to": "withdrawn", "embargo_until": "not a date", "reason": "x"}),
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_operator")),
        "{v}"
    );
    let (s, v) = app_transition(
        &app,
        &id,
        Some(&op),
        None,
        json!({"to": "confirmed", "reason": "x"}),
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("invalid_transition"))
    );
    let (s, v) = app_transition(
        &app,
        &id,
        Some(&op),
        None,
        json!({"to": "triaged", "reason": "x"}),
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("missing_severity"))
    );
    let (s, _) = app_transition(&app, &id, Some(&alice), None, triage).await;
    assert_eq!(s, StatusCode::OK, "the publisher triages");
}

#[tokio::test]
async fn a_hold_refuses_the_revision_to_everyone_and_the_tier_rises() {
    let Reported {
        app,
        alice,
        bob,
        v1,
        ..
    } = confirmed().await;
    // New downloads of the held revision are refused with incident_hold, for everyone.
    for t in [Some(bob.as_str()), Some(alice.as_str()), None] {
        let r = app.get(&format!("/alice/m/resolve/{v1}/w.bin"), t).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(r.headers()["x-error-code"], "GatedRepo");
        assert!(r.text().await.expect("body").contains("incident_hold"));
    }
    // The classification rose (cyber ambiguous → T3).
    let tier = app
        .store
        .db
        .repo(&RepoId::parse("alice/m").expect("id"))
        .await
        .expect("db")
        .expect("repo")
        .tier;
    assert_eq!(tier, Tier::T3);
}

#[tokio::test]
async fn recipients_are_notified_in_app_and_by_a_signed_webhook() {
    let Reported {
        app,
        bob,
        carol,
        dave,
        id,
        secret,
        got,
        ..
    } = confirmed().await;
    // Both recipients are notified in-app; dave (the reporter, no download) is not.
    for (t, n) in [(&bob, 1), (&carol, 1), (&dave, 0)] {
        let v = app.json("/api/v1/notifications", Some(t)).await;
        assert_eq!(v["notifications"].as_array().expect("list").len(), n, "{v}");
    }
    // bob's webhook got a body signed with his secret.
    let mut tries = 0;
    while got.lock().await.is_empty() && tries < 50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        tries += 1;
    }
    let (sig, body) = got
        .lock()
        .await
        .first()
        .cloned()
        .expect("webhook delivered");
    assert_eq!(
        sig,
        weir_server::webhook::webhook_signature(&secret, body.as_bytes())
    );
    assert!(body.contains(&id));
}

#[tokio::test]
async fn a_high_incident_puts_the_publisher_on_probation_and_gates_releases() {
    let Reported { app, alice, .. } = confirmed().await;
    // The publisher's standing changed by the documented rule, and releases are gated by it.
    let rec = app.json("/api/v1/publishers/alice/record", None).await;
    assert_eq!(rec["standing"], "probation", "{rec}");
    assert_eq!(rec["rule"], "probation_high_incidents");
    let events = app.store.db.events(None, 1000).await.expect("events");
    assert!(events.iter().any(|(_, e)| e.action == "standing.changed"
        && e.details["public"]["rule"] == "probation_high_incidents"));
    app.commit("alice/m", "main", &alice, &[("w.bin", b"v2 weights")])
        .await;
    let r = app
        .req(Method::POST, "/api/v1/repos/alice/m/releases", Some(&alice))
        .json(&json!({"revision": "main"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"], "evaluations_required", "{v}");
    assert!(v["message"].as_str().expect("m").contains("on probation"));
}

#[tokio::test]
async fn a_disclosed_incident_is_in_the_feed_without_its_reporter() {
    let Reported {
        app,
        alice,
        op,
        v1,
        id,
        ..
    } = confirmed().await;
    app.commit("alice/m", "main", &alice, &[("w.bin", b"v2 weights")])
        .await;
    // Mitigate on the fixed revision, then disclose (the embargo is already over).
    let (s, v) = app_transition(
        &app,
        &id,
        Some(&alice),
        None,
        json!({"to": "mitigated", "reason": "fixed", "fixed_revision": "main"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        app.json("/osv/all.json", None).await,
        json!([]),
        "not yet disclosed"
    );
    let (s, _) = app_transition(
        &app,
        &id,
        Some(&op),
        None,
        json!({"to": "disclosed", "reason": "coordinated"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let feed = app.json("/osv/all.json", None).await;
    let rec = &feed[0];
    assert_eq!(rec["id"], id.as_str());
    assert_eq!(rec["affected"][0]["ranges"][0]["type"], "GIT");
    assert_eq!(
        rec["affected"][0]["ranges"][0]["events"][0]["introduced"],
        v1.as_str()
    );
    assert!(
        rec["affected"][0]["database_specific"]["purl"]
            .as_str()
            .expect("purl")
            .starts_with(&format!("pkg:huggingface/alice/m@{v1}?repository_url="))
    );
    assert_eq!(rec["aliases"], json!(["AVID-2026-R0001"]));
    assert_eq!(app.json(&format!("/osv/{id}.json"), None).await, *rec);
    // Once disclosed, anyone reads the record, but not who reported it.
    let public = app.json(&format!("/api/v1/incidents/{id}"), None).await;
    assert_eq!(public["state"], "disclosed");
    assert!(
        public.get("reporter").is_none() && public.get("history").is_none(),
        "{public}"
    );
    let details = rec["details"].as_str().expect("details");
    assert!(details.contains("&lt;img src=x onerror=alert(1)&gt;") && !details.contains("<img"));
    // The record's exact shape is the contract (ids, commits, times and URLs redacted).
    insta::assert_json_snapshot!("osv_record", rec, {
        ".id" => "[id]",
        ".modified" => "[time]",
        ".published" => "[time]",
        ".affected[].versions[]" => "[commit]",
        ".affected[].ranges[].repo" => "[url]",
        ".affected[].ranges[].events[].introduced" => "[commit]",
        ".affected[].ranges[].events[].fixed" => "[commit]",
        ".affected[].database_specific.purl" => "[purl]",
        ".affected[].database_specific.purls[]" => "[purl]",
        ".references[].url" => "[url]",
        ".database_specific.reported_at" => "[time]",
        ".database_specific.clocks[].due" => "[time]",
        ".database_specific.clocks[].met_at" => insta::dynamic_redaction(|v, _| {
            if v.is_nil() { v } else { "[time]".into() }
        }),
        ".database_specific.disclosure.due" => "[time]",
        ".database_specific.disclosure.embargo_until" => "[time]",
    });
    // Every transition is on the log, summary-level.
    let on_log: Vec<String> = events_now(&app)
        .await
        .into_iter()
        .filter(|(a, _)| a == "incident.transition")
        .map(|(_, to)| to)
        .collect();
    for s in ["triaged", "confirmed", "mitigated", "disclosed"] {
        assert!(on_log.iter().any(|t| t == s), "{s} missing from {on_log:?}");
    }
}

/// F6: once an operator confirmed an incident (and held deliveries), the reporter's follow-up
/// token cannot withdraw it; only an operator closes it, as rejected with a reason. The reporter
/// may still add notes.
#[tokio::test]
async fn a_reporter_cannot_lift_an_operators_hold() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let op = app.user("op", Scope::Admin).await;
    app.repo("alice/m", false).await;
    app.commit("alice/m", "main", &alice, &[("w.bin", b"weights")])
        .await;
    let v1 = app.head_of("alice/m", "main").await;
    let (s, v) = incident_post(&app, "/api/v1/incidents", None, None, a_report(json!({}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().expect("id").to_string();
    let token = v["followup_token"].as_str().expect("token").to_string();
    let path = format!("/api/v1/incidents/{id}/transition");
    let (s, _) = incident_post(
        &app,
        &path,
        Some(&op),
        None,
        json!({"to": "triaged", "severity": "high", "reason": "reproduced"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = incident_post(
        &app,
        &path,
        Some(&op),
        None,
        json!({"to": "confirmed", "reason": "confirmed", "hold": true}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let held = app.get(&format!("/alice/m/resolve/{v1}/w.bin"), None).await;
    assert_eq!(held.status(), StatusCode::FORBIDDEN);

    // The follow-up token alone cannot withdraw it.
    let (s, v) = incident_post(
        &app,
        &path,
        None,
        Some(&token),
        json!({"to": "withdrawn", "reason": "never mind"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let still = app.get(&format!("/alice/m/resolve/{v1}/w.bin"), None).await;
    assert_eq!(still.status(), StatusCode::FORBIDDEN, "the hold must stay");
    // Nor can the publisher reject it or close it.
    for to in ["rejected", "withdrawn"] {
        let (s, _) = incident_post(
            &app,
            &path,
            Some(&alice),
            None,
            json!({"to": to, "reason": "not a bug"}),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "publisher → {to}");
    }
    // The reporter may add a note.
    let (s, v) = incident_post(
        &app,
        &format!("/api/v1/incidents/{id}/updates"),
        None,
        Some(&token),
        json!({"note": "more details: it also works on v2"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // An operator closes it, as rejected with a reason: the hold lifts.
    let (s, v) = incident_post(
        &app,
        &path,
        Some(&op),
        None,
        json!({"to": "rejected", "reason": "could not reproduce on re-test"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let open = app.get(&format!("/alice/m/resolve/{v1}/w.bin"), None).await;
    assert_eq!(open.status(), StatusCode::OK);
}

/// F9: the publisher handles reports about its own models but does not decide disclosure facts
/// (in the wild, embargo) nor learn who reported unless the reporter agreed.
#[tokio::test]
async fn publishers_do_not_judge_their_own_incidents() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let dave = app.user("dave", Scope::Read).await;
    let erin = app.user("erin", Scope::Read).await;
    let op = app.user("op", Scope::Admin).await;
    app.repo("alice/m", false).await;
    app.commit("alice/m", "main", &alice, &[("w.bin", b"weights")])
        .await;
    // A signed-in reporter claiming exploitation in the wild: recorded, not decided.
    let (s, v) = incident_post(
        &app,
        "/api/v1/incidents",
        Some(&dave),
        None,
        a_report(json!({"in_the_wild": true})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().expect("id").to_string();
    let show = |token: String| {
        let app = &app;
        let id = id.clone();
        async move {
            app.json(&format!("/api/v1/incidents/{id}"), Some(&token))
                .await
        }
    };
    let as_publisher = show(alice.clone()).await;
    assert_eq!(as_publisher["in_the_wild"], false);
    assert_eq!(as_publisher["details"]["reported_in_the_wild"], true);
    // The reporter's identity is withheld from the publisher, everywhere in the record.
    assert_eq!(as_publisher["reporter"], "withheld");
    assert!(!as_publisher.to_string().contains("dave"), "{as_publisher}");
    assert_eq!(show(op.clone()).await["reporter"], "dave");
    // Disclosure facts are the operators'.
    let path = format!("/api/v1/incidents/{id}/transition");
    let (s, _) = incident_post(
        &app,
        &path,
        Some(&alice),
        None,
        json!({"to": "triaged", "severity": "high", "reason": "looking", "in_the_wild": false}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = incident_post(&app, &path, Some(&alice), None,
        json!({"to": "triaged", "severity": "high", "reason": "looking", "embargo_until": "2030-01-01"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = incident_post(
        &app,
        &path,
        Some(&alice),
        None,
        json!({"to": "rejected", "reason": "not ours"}),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "publishers do not reject reports about their models"
    );
    let (s, v) = incident_post(
        &app,
        &path,
        Some(&alice),
        None,
        json!({"to": "triaged", "severity": "high", "reason": "looking"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "the publisher triages: {v}");
    let (s, _) = incident_post(
        &app,
        &path,
        Some(&op),
        None,
        json!({"to": "confirmed", "reason": "real", "in_the_wild": true}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(show(alice.clone()).await["in_the_wild"], true);
    assert!(!show(alice.clone()).await.to_string().contains("dave"));

    // A reporter who agrees is named to the publisher.
    let (_, v) = incident_post(
        &app,
        "/api/v1/incidents",
        Some(&erin),
        None,
        a_report(json!({"share_identity": true})),
    )
    .await;
    let id2 = v["id"].as_str().expect("id").to_string();
    let v = app
        .json(&format!("/api/v1/incidents/{id2}"), Some(&alice))
        .await;
    assert_eq!(v["reporter"], "erin");
}

/// An operator who reported an incident acts on it only as its reporter: they do not triage,
/// confirm or reject their own report (confirming it can pay them a bounty); another operator
/// does. A publisher reporting its own model stays its publisher (and cannot withdraw it).
#[tokio::test]
async fn nobody_judges_an_incident_they_reported() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let op = app.user("op", Scope::Admin).await;
    let op2 = app.user("op2", Scope::Admin).await;
    app.repo("alice/m", false).await;
    app.commit("alice/m", "main", &alice, &[("w.bin", b"weights")])
        .await;
    let (s, v) = post(&app, "/api/v1/incidents", Some(&alice), report("alice/m")).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let own = v["id"].as_str().expect("id").to_string();
    let withdraw = json!({"to": "withdrawn", "reason": "never mind"});
    let (s, v) = app_transition(&app, &own, Some(&alice), None, withdraw).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a publisher does not withdraw: {v}"
    );
    let triage = json!({"to": "triaged", "severity": "low", "reason": "ours, reproduced"});
    let (s, v) = app_transition(&app, &own, Some(&alice), None, triage).await;
    assert_eq!(
        s,
        StatusCode::OK,
        "the publisher triages its own report: {v}"
    );
    {
        let reporter = &op;
        let (s, v) = post(&app, "/api/v1/incidents", Some(reporter), report("alice/m")).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let id = v["id"].as_str().expect("id").to_string();
        for to in [
            json!({"to": "triaged", "severity": "critical", "reason": "mine"}),
            json!({"to": "rejected", "reason": "mine"}),
        ] {
            let (s, v) = app_transition(&app, &id, Some(reporter), None, to).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
            assert_eq!(v["error"], "not_allowed", "{v}");
        }
        let embargo = json!({"to": "withdrawn", "reason": "x", "embargo_until": "2030-01-01"});
        let (s, v) = app_transition(&app, &id, Some(reporter), None, embargo).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
        // The reporter still reads their report.
        let v = app
            .json(&format!("/api/v1/incidents/{id}"), Some(reporter))
            .await;
        assert_eq!(v["state"], "received", "{v}");
        let triage = json!({"to": "triaged", "severity": "high", "reason": "reproduced"});
        let (s, v) = app_transition(&app, &id, Some(&op2), None, triage).await;
        assert_eq!(s, StatusCode::OK, "another operator triages: {v}");
        let confirm = json!({"to": "confirmed", "reason": "confirmed"});
        let (s, v) = app_transition(&app, &id, Some(reporter), None, confirm.clone()).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
        let (s, v) = app_transition(&app, &id, Some(&op2), None, confirm).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
}
