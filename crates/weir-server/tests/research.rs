//! Research projects (`src/research.rs`): applied for by a namespace's member, decided by an
//! operator who is not on the team, on the log; and what an application must never allow (a
//! sealed model beyond black-box, a model the applicant cannot see, a decision by the team).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::{Scope, Tier};

use crate::access::set_tier;
use crate::common::TestApp;

struct World {
    app: TestApp,
    /// grace: a member of safetylab with a write token.
    grace: String,
    grace_read: String,
    /// dan: signed in, in no org.
    dan: String,
    /// alice: owner of acme (which holds acme/private).
    alice: String,
    op: String,
    op2: String,
}

/// acme/restricted (T3), acme/sealed (T4), acme/open (T0, a stand-in), acme/private (private,
/// T3); safetylab with grace in it.
async fn world() -> World {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let grace = app.user("grace", Scope::Write).await;
    let grace_read = app.user("grace", Scope::Read).await;
    let dan = app.user("dan", Scope::Write).await;
    let op = app.user("op", Scope::Admin).await;
    let op2 = app.user("op2", Scope::Admin).await;
    app.org_owned_by("acme", "alice").await;
    app.org("safetylab", &["grace"]).await;
    for (repo, private, tier) in [
        ("acme/restricted", false, Tier::T3),
        ("acme/sealed", false, Tier::T4),
        ("acme/open", false, Tier::T0),
        ("acme/private", true, Tier::T3),
    ] {
        app.repo(repo, private).await;
        assert!(
            app.commit(
                repo,
                "main",
                &alice,
                &[("config.json", b"{\"model_type\":\"llama\"}")]
            )
            .await
            .status()
            .is_success()
        );
        set_tier(&app, repo, tier).await;
    }
    World {
        app,
        grace,
        grace_read,
        dan,
        alice,
        op,
        op2,
    }
}

fn application(name: &str, models: Value) -> Value {
    json!({
        "name": name,
        "purpose": "Measure biology uplift of restricted models on WMDP-bio.",
        "models": models,
        "standin": "acme/open",
    })
}

async fn apply(app: &TestApp, token: Option<&str>, body: Value) -> (StatusCode, Value) {
    app.send_json(Method::POST, "/api/v1/projects", token, body)
        .await
}

async fn decide(app: &TestApp, project: &str, token: &str, body: Value) -> (StatusCode, Value) {
    app.send_json(
        Method::POST,
        &format!("/api/v1/projects/{project}/decision"),
        Some(token),
        body,
    )
    .await
}

fn code(v: &Value) -> &str {
    v["error"].as_str().unwrap_or("")
}

#[tokio::test]
async fn a_project_is_applied_for_approved_and_on_the_log() {
    let w = world().await;
    let (s, v) = apply(
        &w.app,
        Some(&w.grace),
        application(
            "safetylab/bio-uplift-study",
            json!([
                {"repo": "acme/restricted", "level": "AL1"},
                {"repo": "acme/sealed", "revision": "main", "level": "AL1"},
            ]),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["state"], "applied");
    assert_eq!(v["members"], json!(["grace"]));
    assert_eq!(v["standin"], "acme/open");
    assert_eq!(v["models"].as_array().expect("models").len(), 2);
    let head = w.app.head_of("acme/restricted", "main").await;
    assert!(
        v["models"]
            .as_array()
            .expect("models")
            .iter()
            .any(|m| m["repo"] == "acme/restricted" && m["revision"] == head.as_str()),
        "{v}"
    );
    // The public sees the project, its models and its state, not its team.
    let public = w
        .app
        .json("/api/v1/projects/safetylab/bio-uplift-study", None)
        .await;
    assert_eq!(public["members"], json!([]));
    assert_eq!(public["applied_by"], Value::Null);
    assert_eq!(public["models"].as_array().expect("models").len(), 2);
    let (s, v) = decide(
        &w.app,
        "safetylab/bio-uplift-study",
        &w.op,
        json!({"decision": "approve", "reason": "meets the policy", "expires_days": 30, "quota_cpu_seconds": 7200}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "active");
    assert_eq!(v["quota_cpu_seconds"], 7200);
    assert!(v["expires_at"].is_string());
    let listed = w.app.json("/api/v1/projects?state=approved", None).await;
    assert_eq!(listed["projects"][0]["name"], "safetylab/bio-uplift-study");
    let mine = w.app.json("/api/v1/projects?mine=true", Some(&w.dan)).await;
    assert_eq!(mine["projects"], json!([]));
    // On the log: the application, each model named, the decision; no one by name.
    w.app.settled_checkpoint().await;
    let entries = crate::log::log_text(&w.app).await;
    for action in ["project.apply", "project.model", "project.decide"] {
        assert!(
            entries
                .iter()
                .any(|e| e.contains(&format!("\"action\":\"{action}\""))
                    && e.contains("safetylab/bio-uplift-study")),
            "{action} missing from the log"
        );
    }
    assert!(entries.iter().all(|e| !e.contains("grace")));
    // Revoked: the project is no longer active.
    let (s, v) = decide(
        &w.app,
        "safetylab/bio-uplift-study",
        &w.op2,
        json!({"decision": "revoke", "reason": "misuse reported"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "revoked");
}

#[tokio::test]
async fn what_an_application_may_not_do() {
    let w = world().await;
    let one = |repo: &str, level: &str| json!([{"repo": repo, "level": level}]);
    let cases: Vec<(&str, Option<&str>, Value, StatusCode, &str)> = vec![
        (
            "anonymous",
            None,
            application("safetylab/a", one("acme/restricted", "AL1")),
            StatusCode::UNAUTHORIZED,
            "not_signed_in",
        ),
        (
            "a read token",
            Some(&w.grace_read),
            application("safetylab/a", one("acme/restricted", "AL1")),
            StatusCode::FORBIDDEN,
            "token_scope",
        ),
        (
            "someone else's namespace",
            Some(&w.dan),
            application("safetylab/a", one("acme/restricted", "AL1")),
            StatusCode::FORBIDDEN,
            "not_member",
        ),
        (
            "grey-box on a sealed model",
            Some(&w.grace),
            application("safetylab/a", one("acme/sealed", "AL2")),
            StatusCode::FORBIDDEN,
            "tier_caps_level",
        ),
        (
            "white-box on a sealed model",
            Some(&w.grace),
            application("safetylab/a", one("acme/sealed", "AL3")),
            StatusCode::FORBIDDEN,
            "tier_caps_level",
        ),
        (
            "an unknown level",
            Some(&w.grace),
            application("safetylab/a", one("acme/restricted", "AL4")),
            StatusCode::BAD_REQUEST,
            "invalid_level",
        ),
        (
            "no models",
            Some(&w.grace),
            application("safetylab/a", json!([])),
            StatusCode::BAD_REQUEST,
            "too_many_models",
        ),
        (
            "a revision that does not exist",
            Some(&w.grace),
            json!({"name": "safetylab/a", "purpose": "p", "models": [{"repo": "acme/restricted", "revision": "nope", "level": "AL1"}]}),
            StatusCode::NOT_FOUND,
            "revision_not_found",
        ),
        (
            "an empty purpose",
            Some(&w.grace),
            json!({"name": "safetylab/a", "purpose": " ", "models": one("acme/restricted", "AL1")}),
            StatusCode::BAD_REQUEST,
            "invalid_purpose",
        ),
        (
            "a restricted stand-in",
            Some(&w.grace),
            json!({"name": "safetylab/a", "purpose": "p", "models": one("acme/restricted", "AL1"), "standin": "acme/sealed"}),
            StatusCode::BAD_REQUEST,
            "invalid_standin",
        ),
        (
            "an unknown member",
            Some(&w.grace),
            json!({"name": "safetylab/a", "purpose": "p", "models": one("acme/restricted", "AL1"), "members": ["nobody"]}),
            StatusCode::NOT_FOUND,
            "user_not_found",
        ),
        (
            "an org as a member",
            Some(&w.grace),
            json!({"name": "safetylab/a", "purpose": "p", "models": one("acme/restricted", "AL1"), "members": ["acme"]}),
            StatusCode::BAD_REQUEST,
            "invalid_name",
        ),
        (
            "a quota beyond the cap",
            Some(&w.grace),
            json!({"name": "safetylab/a", "purpose": "p", "models": one("acme/restricted", "AL1"), "quota_cpu_seconds": i64::MAX}),
            StatusCode::BAD_REQUEST,
            "invalid_quota",
        ),
        (
            "a bad project name",
            Some(&w.grace),
            application("safetylab", one("acme/restricted", "AL1")),
            StatusCode::BAD_REQUEST,
            "invalid_name",
        ),
    ];
    for (what, token, body, status, want) in cases {
        let (s, v) = apply(&w.app, token, body).await;
        assert_eq!((s, code(&v)), (status, want), "{what}: {v}");
    }
    let many: Vec<Value> = (0..21)
        .map(|_| json!({"repo": "acme/restricted", "level": "AL1"}))
        .collect();
    let (s, v) = apply(
        &w.app,
        Some(&w.grace),
        application("safetylab/a", json!(many)),
    )
    .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "too_many_models"));
    // Nothing was created by any refusal.
    let all = w.app.json("/api/v1/projects", None).await;
    assert_eq!(all["projects"], json!([]));
    // A name is taken once.
    let body = application("safetylab/a", one("acme/restricted", "AL1"));
    assert_eq!(
        apply(&w.app, Some(&w.grace), body.clone()).await.0,
        StatusCode::CREATED
    );
    let (s, v) = apply(&w.app, Some(&w.grace), body).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "already_exists"));
}

/// A private model the applicant cannot see is refused exactly as a missing one, as a model or
/// as a stand-in; a private model its own org names stays off the public view and sealed on
/// the log.
#[tokio::test]
async fn private_models_stay_private() {
    let w = world().await;
    let ask = |repo: &str| json!({"name": "safetylab/b", "purpose": "p", "models": [{"repo": repo, "level": "AL1"}]});
    let hidden = apply(&w.app, Some(&w.grace), ask("acme/private")).await;
    let missing = apply(&w.app, Some(&w.grace), ask("acme/nothing-here")).await;
    assert_eq!(hidden.0, StatusCode::NOT_FOUND);
    assert_eq!(
        hidden.1.to_string().replace("acme/private", "X"),
        missing.1.to_string().replace("acme/nothing-here", "X")
    );
    let standin = |repo: &str| json!({"name": "safetylab/b", "purpose": "p", "models": [{"repo": "acme/restricted", "level": "AL1"}], "standin": repo});
    let hidden = apply(&w.app, Some(&w.grace), standin("acme/private")).await;
    let missing = apply(&w.app, Some(&w.grace), standin("acme/nothing-here")).await;
    assert_eq!(hidden.0, StatusCode::NOT_FOUND);
    assert_eq!(
        hidden.1.to_string().replace("acme/private", "X"),
        missing.1.to_string().replace("acme/nothing-here", "X")
    );
    // acme's own project on its private model.
    let (s, v) = apply(
        &w.app,
        Some(&w.alice),
        json!({"name": "acme/internal-study", "purpose": "p", "models": [
            {"repo": "acme/private", "level": "AL3"},
            {"repo": "acme/restricted", "level": "AL2"},
        ]}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let public = w
        .app
        .json("/api/v1/projects/acme/internal-study", Some(&w.dan))
        .await;
    assert_eq!(public["models"].as_array().expect("models").len(), 1);
    assert!(!public.to_string().contains("acme/private"));
    let own = w
        .app
        .json("/api/v1/projects/acme/internal-study", Some(&w.alice))
        .await;
    assert_eq!(own["models"].as_array().expect("models").len(), 2);
    w.app.settled_checkpoint().await;
    let entries = crate::log::log_text(&w.app).await;
    assert!(entries.iter().all(|e| !e.contains("acme/private")));
    assert!(
        entries
            .iter()
            .any(|e| e.contains("\"action\":\"project.model\"") && e.contains("\"private\":true"))
    );
}

#[tokio::test]
async fn only_an_operator_off_the_team_decides() {
    let w = world().await;
    let models = json!([{"repo": "acme/restricted", "level": "AL1"}]);
    assert_eq!(
        apply(
            &w.app,
            Some(&w.grace),
            application("safetylab/c", models.clone())
        )
        .await
        .0,
        StatusCode::CREATED
    );
    let approve = json!({"decision": "approve", "reason": "ok"});
    for (who, token, want) in [
        ("the applicant", &w.grace, "not_operator"),
        ("a stranger", &w.dan, "not_operator"),
    ] {
        let (s, v) = decide(&w.app, "safetylab/c", token, approve.clone()).await;
        assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, want), "{who}");
    }
    // An operator's own application, and one naming the operator on the team.
    let (s, v) = apply(&w.app, Some(&w.op), application("op/own", models.clone())).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = decide(&w.app, "op/own", &w.op, approve.clone()).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "own_request"));
    let mut with_op = application("safetylab/d", models.clone());
    with_op["members"] = json!(["op2"]);
    assert_eq!(
        apply(&w.app, Some(&w.grace), with_op).await.0,
        StatusCode::CREATED
    );
    let (s, v) = decide(&w.app, "safetylab/d", &w.op2, approve.clone()).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "own_request"));
    // Reasons and terms are checked; a decided project is not decided again.
    let (s, v) = decide(
        &w.app,
        "safetylab/c",
        &w.op,
        json!({"decision": "approve", "reason": ""}),
    )
    .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "missing_reason"));
    for days in [0, 5000] {
        let (s, v) = decide(
            &w.app,
            "safetylab/c",
            &w.op,
            json!({"decision": "approve", "reason": "ok", "expires_days": days}),
        )
        .await;
        assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_expiry"));
    }
    let (s, v) = decide(
        &w.app,
        "safetylab/c",
        &w.op,
        json!({"decision": "bless", "reason": "ok"}),
    )
    .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_decision"));
    let (s, _) = decide(
        &w.app,
        "safetylab/c",
        &w.op,
        json!({"decision": "reject", "reason": "out of scope"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    for verdict in ["approve", "reject", "revoke"] {
        let (s, v) = decide(
            &w.app,
            "safetylab/c",
            &w.op2,
            json!({"decision": verdict, "reason": "again"}),
        )
        .await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::CONFLICT, "invalid_transition"),
            "{verdict}"
        );
    }
    let (s, v) = decide(&w.app, "nobody/nothing", &w.op, approve).await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "project_not_found"));
}

/// The identity level a repo asks of research-project members: its owners set it, never below
/// `identified`; a stranger cannot.
#[tokio::test]
async fn a_repo_sets_the_level_its_researchers_need() {
    let w = world().await;
    async fn set(app: &TestApp, token: &str, level: &str) -> (StatusCode, Value) {
        app.send_json(
            Method::PUT,
            "/api/v1/repos/acme/restricted/gating",
            Some(token),
            json!({"research_level": level}),
        )
        .await
    }
    let (s, v) = set(&w.app, &w.alice, "account").await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_level"));
    let (s, v) = set(&w.app, &w.dan, "identified").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, v) = set(&w.app, &w.alice, "identified").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["research_level"], "identified");
    let repo = w
        .app
        .store
        .db
        .repo(&weir_core::RepoId::parse("acme/restricted").expect("id"))
        .await
        .expect("db")
        .expect("repo");
    assert_eq!(
        repo.gating.research_level,
        weir_core::IdentityLevel::Identified
    );
}
