//! Incidents over HTTP: anonymous reports with follow-up tokens, hostile input kept inert, the
//! lifecycle with roles, holds refusing downloads, notifications to recipients and a signed
//! webhook, embargoes, the OSV feed showing only disclosed records, attachments served only as
//! downloads, and publisher standing gating releases.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::{RepoId, Scope, Tier};

use crate::common::TestApp;

async fn post(app: &TestApp, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
    let r = app
        .req(Method::POST, path, token)
        .json(&body)
        .send()
        .await
        .expect("send");
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

fn report(repo: &str) -> Value {
    json!({
        "repo": repo,
        "kind": "incident",
        "class": "cyber",
        "summary": "Model writes <script>alert('x')</script> exploit chains",
        "details": {
            "start_date": "2026-11-01",
            "harm": "<img src=x onerror=alert(1)> servers compromised",
            "chain_of_events": "step 1\nstep 2",
            "near_misses": "two",
        },
        "domain": "cyber",
        "aliases": ["AVID-2026-R0001"],
    })
}

/// A receiver for webhooks: records (signature header, body) pairs.
async fn webhook_sink() -> (
    String,
    std::sync::Arc<tokio::sync::Mutex<Vec<(String, String)>>>,
) {
    use axum::routing::post as axum_post;
    let got = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let g = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum_post(move |headers: axum::http::HeaderMap, body: String| {
            let g = g.clone();
            async move {
                let sig = headers
                    .get("x-weir-signature-256")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                g.lock().await.push((sig, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, got)
}

#[tokio::test]
async fn hostile_reports_get_clear_errors_and_text_stays_inert() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/m", false).await;
    app.commit("alice/m", "main", &alice, &[("config.json", b"{}")])
        .await;
    let cases = [
        (json!({"class": "nuclear"}), "invalid_class"),
        (json!({"kind": "rumour"}), "invalid_kind"),
        (json!({"summary": "x".repeat(301)}), "field_too_long"),
        (json!({"summary": "two\nlines"}), "invalid_text"),
        (
            json!({"details": {"start_date": "31/12/2026"}}),
            "invalid_date",
        ),
        (
            json!({"details": {"harm": "x".repeat(70_000)}}),
            "field_too_long",
        ),
        (json!({"details": {"payload": "x"}}), "unknown_field"),
        (json!({"details": {"harm": 5}}), "invalid_field"),
        (json!({"aliases": ["<b>CVE</b>"]}), "invalid_alias"),
        (json!({"domain": "astrology"}), "invalid_domain"),
        (
            json!({"revisions": ["no-such-branch"]}),
            "revision_not_found",
        ),
    ];
    for (patch, code) in cases {
        let mut body = report("alice/m");
        for (k, v) in patch.as_object().expect("obj") {
            body[k] = v.clone();
        }
        let (s, v) = post(&app, "/api/v1/incidents", None, body).await;
        assert!(s.is_client_error(), "{code}: {s} {v}");
        assert_eq!(v["error"], code, "{v}");
    }
    let (s, v) = post(
        &app,
        "/api/v1/incidents",
        None,
        json!({"repo": "alice/m", "x": 1}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        app.store.db.incidents(None).await.expect("db").is_empty(),
        "nothing stored"
    );

    // Anonymous report: a follow-up token, shown once; the text comes back exactly as sent,
    // as JSON strings.
    let (s, v) = post(&app, "/api/v1/incidents", None, report("alice/m")).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().expect("id").to_string();
    assert!(id.starts_with("x_WEIR-20") && id.ends_with("-0001"), "{id}");
    let token = v["followup_token"].as_str().expect("token").to_string();
    assert_eq!(v["summary"], report("alice/m")["summary"]);
    let path = format!("/api/v1/incidents/{id}");
    assert_eq!(app.get(&path, None).await.status(), StatusCode::NOT_FOUND);
    let forged = app
        .req(Method::GET, &path, None)
        .header("x-weir-followup", format!("{token}x"))
        .send()
        .await
        .expect("send");
    assert_eq!(forged.status(), StatusCode::NOT_FOUND);
    let mine = app
        .req(Method::GET, &path, None)
        .header("x-weir-followup", &token)
        .send()
        .await
        .expect("send");
    assert_eq!(mine.status(), StatusCode::OK);
    let v: Value = mine.json().await.expect("json");
    assert_eq!(v["your_role"], "reporter");
    assert_eq!(v["details"]["harm"], report("alice/m")["details"]["harm"]);
    // Attachments are stored and only ever served as downloads.
    let r = app
        .req(
            Method::POST,
            &format!("{path}/attachments?name=poc.html"),
            None,
        )
        .header("x-weir-followup", &token)
        .body("<html><script>alert(1)</script></html>")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::CREATED);
    let sha = r.json::<Value>().await.expect("json")["sha256"]
        .as_str()
        .expect("sha")
        .to_string();
    let r = app
        .req(Method::GET, &format!("{path}/attachments/{sha}"), None)
        .header("x-weir-followup", &token)
        .send()
        .await
        .expect("send");
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .expect("cd")
            .starts_with("attachment")
    );
    // The reporter can withdraw; the record never reaches the feed.
    let (s, v) = app_transition(
        &app,
        &id,
        None,
        Some(&token),
        json!({"to": "withdrawn", "reason": "duplicate"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(app.json("/osv/all.json", None).await, json!([]));
}

async fn app_transition(
    app: &TestApp,
    id: &str,
    token: Option<&str>,
    followup: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut rb = app
        .req(
            Method::POST,
            &format!("/api/v1/incidents/{id}/transition"),
            token,
        )
        .json(&body);
    if let Some(f) = followup {
        rb = rb.header("x-weir-followup", f);
    }
    let r = rb.send().await.expect("send");
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn confirming_holds_deliveries_notifies_recipients_and_changes_standing() {
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
    let (s, v) = app_transition(
        &app,
        &id,
        Some(&op),
        None,
        json!({"to": "confirmed", "reason": "confirmed by red team", "hold": true, "raise_domain": "cyber", "embargo_until": "2020-01-01"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["notified"], 2);

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

    // Mitigate, then disclose (the embargo is already over): the feed shows it.
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

async fn events_now(app: &TestApp) -> Vec<(String, String)> {
    app.store
        .db
        .events(None, 1000)
        .await
        .expect("events")
        .into_iter()
        .map(|(_, e)| {
            (
                e.action,
                e.details["public"]["to"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn embargo_overdue_and_undisclosed_records_stay_private() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let op = app.user("op", Scope::Admin).await;
    app.repo("alice/m", false).await;
    app.commit("alice/m", "main", &alice, &[("config.json", b"{}")])
        .await;
    let mut body = report("alice/m");
    body["class"] = json!("minor");
    body["kind"] = json!("vulnerability");
    let (_, v) = post(&app, "/api/v1/incidents", Some(&alice), body).await;
    let id = v["id"].as_str().expect("id").to_string();
    let steps = [
        json!({"to": "triaged", "severity": "low", "reason": "t"}),
        json!({"to": "confirmed", "reason": "c", "embargo_until": "2099-01-01"}),
    ];
    for b in steps {
        let (s, v) = app_transition(&app, &id, Some(&op), None, b).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let (s, v) = app_transition(
        &app,
        &id,
        Some(&op),
        None,
        json!({"to": "disclosed", "reason": "early"}),
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("embargoed"))
    );
    assert!(v["message"].as_str().expect("m").contains("2099-01-01"));
    assert_eq!(
        app.get(&format!("/osv/{id}.json"), None).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.json("/osv/all.json", None).await, json!([]));
    // Invalid embargo dates are refused; only operators set embargoes.
    let (s, v) = app_transition(&app, &id, Some(&op), None, json!({"to": "mitigated", "reason": "m", "fixed_revision": "main", "embargo_until": "soon"})).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_date")),
        "{v}"
    );
    // A class with a regulatory clock shows up as overdue only when late: a fresh cyber report
    // is not overdue.
    let (_, v) = post(&app, "/api/v1/incidents", None, report("alice/m")).await;
    assert_eq!(v["overdue"], false);
    let overdue = app.json("/api/v1/incidents?overdue=true", Some(&op)).await;
    assert_eq!(overdue["incidents"], json!([]));
    let all = app.json("/api/v1/incidents", Some(&op)).await;
    assert_eq!(all["incidents"].as_array().expect("list").len(), 2);
    assert_eq!(
        app.json("/api/v1/incidents", None).await["incidents"],
        json!([])
    );
}

fn lm_eval_log(task: &str, n: i64) -> Vec<u8> {
    json!({
        "results": {task: {"acc,none": 0.26, "acc_stderr,none": 0.01}},
        "n-samples": {task: {"original": n, "effective": n}},
        "config": {"model": "hf", "limit": null},
        "lm_eval_version": "0.4.13",
    })
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn standing_gates_releases_probation_needs_evaluations_and_a_signoff_suspended_never() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let op = app.user("op", Scope::Admin).await;
    let op2 = app.user("op2", Scope::Admin).await;
    let (secret, public) = weir_signing::generate_key();
    app.store
        .db
        .add_evaluator_logged("lab", &public, &crate::common::admin_event("add_evaluator"))
        .await
        .expect("accredit");
    app.repo("alice/m", false).await;
    app.commit("alice/m", "main", &alice, &[("w.bin", b"weights")])
        .await;
    let release = |rev: &'static str| {
        let app = &app;
        let alice = alice.clone();
        async move {
            let r = app
                .req(Method::POST, "/api/v1/repos/alice/m/releases", Some(&alice))
                .json(&json!({"revision": rev}))
                .send()
                .await
                .expect("send");
            let s = r.status();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // A high-severity confirmed incident puts alice on probation.
    let (_, v) = post(&app, "/api/v1/incidents", Some(&op), report("alice/m")).await;
    let id = v["id"].as_str().expect("id").to_string();
    for b in [
        json!({"to": "triaged", "severity": "high", "reason": "t"}),
        json!({"to": "confirmed", "reason": "c"}),
    ] {
        let (s, v) = app_transition(&app, &id, Some(&op2), None, b).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let (s, v) = release("main").await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("evaluations_required")),
        "{v}"
    );
    // Accredited evaluations of every evaluable domain on this revision…
    for (suite, task, n) in [
        ("wmdp-bio", "wmdp_bio", 1273),
        ("wmdp-chem", "wmdp_chem", 408),
        ("wmdp-cyber", "wmdp_cyber", 1987),
    ] {
        let r = app
            .req(
                Method::POST,
                &format!("/api/v1/models/alice/m/evaluations?suite={suite}"),
                Some(&alice),
            )
            .body(lm_eval_log(task, n))
            .send()
            .await
            .expect("send");
        let v: Value = r.json().await.expect("json");
        let sig = weir_signing::sign_result(v["payload"].as_str().expect("payload"), &secret)
            .expect("sign");
        let (s, _) = post(
            &app,
            &format!(
                "/api/v1/evaluations/{}/signature",
                v["id"].as_str().expect("id")
            ),
            None,
            json!({"evaluator": "lab", "signature": sig}),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
    }
    // …are not enough on probation: an operator signs off too (not the publisher).
    let (s, v) = release("main").await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("signoff_required")),
        "{v}"
    );
    let (s, _) = post(
        &app,
        "/api/v1/repos/alice/m/releases/main/signoff",
        Some(&alice),
        json!({"reason": "mine"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = post(
        &app,
        "/api/v1/repos/alice/m/releases/main/signoff",
        Some(&op),
        json!({"reason": "evaluations reviewed"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = release("main").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let rec = app.json("/api/v1/publishers/alice/record", None).await;
    assert_eq!(rec["releases"]["with_pre_release_evaluations"], 1, "{rec}");
    assert_eq!(rec["incidents"]["median_hours_to_triage"], 0.0);

    // A critical confirmed incident suspends: no release at all.
    let (_, v) = post(&app, "/api/v1/incidents", Some(&op), report("alice/m")).await;
    let id = v["id"].as_str().expect("id").to_string();
    for b in [
        json!({"to": "triaged", "severity": "critical", "reason": "t"}),
        json!({"to": "confirmed", "reason": "c"}),
    ] {
        app_transition(&app, &id, Some(&op2), None, b).await;
    }
    app.commit("alice/m", "main", &alice, &[("w.bin", b"weights v2")])
        .await;
    let (s, v) = release("main").await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("publisher_suspended")),
        "{v}"
    );
    assert!(
        v["message"]
            .as_str()
            .expect("m")
            .contains("suspend_critical_incidents")
    );
    let rec = app.json("/api/v1/publishers/alice/record", None).await;
    assert_eq!(rec["standing"], "suspended");
    assert_eq!(
        rec["incidents"]["confirmed_by_kind_and_severity"]["incident"],
        json!({"critical": 1, "high": 1})
    );
}

#[tokio::test]
async fn webhooks_may_not_point_inside_the_registry_network_unless_allowed() {
    let app = TestApp::with(|c| c.allow_private_webhooks = false).await;
    let bob = app.user("bob", Scope::Read).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/",
        "http://localhost:8080/x",
        // F15: the gaps of the first filter, each a way back into the registry's network.
        "http://[64:ff9b::7f00:1]/hook",
        "http://[::127.0.0.1]/hook",
        "http://[2002:7f00:1::1]/hook",
        "http://[fec0::1]/hook",
        "http://198.18.0.1/hook",
        "http://0.0.0.0:8080/hook",
        "http://0.1.2.3/hook",
        "http://240.0.0.1/hook",
        "http://192.0.0.170/hook",
    ] {
        let r = app
            .req(Method::PUT, "/api/v1/notifications/webhook", Some(&bob))
            .json(&json!({ "url": url }))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{url}");
        let v: Value = r.json().await.expect("json");
        assert_eq!(v["error"], "webhook_private_address", "{url}: {v}");
    }
    let r = app
        .req(Method::PUT, "/api/v1/notifications/webhook", Some(&bob))
        .json(&json!({ "url": "ftp://example.org/" }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        app.json("/api/v1/notifications/webhook", Some(&bob)).await,
        Value::Null
    );
}
