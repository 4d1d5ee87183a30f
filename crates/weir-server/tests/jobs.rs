//! Research-environment jobs (`src/jobs.rs`), each a real job in the real sandbox: the queue,
//! the weights of the exact revision, metering, the public job log, and the output checks (an
//! output holding weights is blocked; a clean one needs two distinct checkers and is then for
//! the project's members only). And what must never happen: a job by someone off the team, on a
//! revision the project does not name, beyond a sealed model's level, after a revocation or a
//! lapsed attestation, past the quota; outputs before the checks.

use std::time::Duration;

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::{IdentityLevel, Name, Scope, Tier};

use crate::access::{set_level, set_tier};
use crate::common::TestApp;

struct World {
    app: TestApp,
    grace: String,
    grace_read: String,
    dan: String,
    op: String,
    op2: String,
    _work: tempfile::TempDir,
}

const WEIGHTS: &[u8] = b"\x08\x00\x00\x00\x00\x00\x00\x00{\"a\":{}}RESTRICTED-WEIGHTS";

/// acme/restricted (T3) and acme/sealed (T4) with weights; safetylab/study approved with grace
/// (accredited) on the team: AL3 on acme/restricted, AL1 on acme/sealed.
async fn world(autostart: bool, quota_cpu_seconds: i64) -> Option<World> {
    let work = tempfile::tempdir().expect("tempdir");
    let app = TestApp::with_enclave(work.path(), autostart).await?;
    let alice = app.user("alice", Scope::Write).await;
    let grace = app.user("grace", Scope::Write).await;
    let grace_read = app.user("grace", Scope::Read).await;
    let dan = app.user("dan", Scope::Write).await;
    let op = app.user("op", Scope::Admin).await;
    let op2 = app.user("op2", Scope::Admin).await;
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
    app.org("safetylab", &["grace"]).await;
    for (repo, tier) in [("acme/restricted", Tier::T3), ("acme/sealed", Tier::T4)] {
        app.repo(repo, false).await;
        assert!(
            app.commit(
                repo,
                "main",
                &alice,
                &[("config.json", b"{}"), ("model.safetensors", WEIGHTS)]
            )
            .await
            .status()
            .is_success()
        );
        set_tier(&app, repo, tier).await;
    }
    set_level(&app, "grace", IdentityLevel::Accredited, Some("NL")).await;
    let (s, v) = app
        .send_json(
            Method::POST,
            "/api/v1/projects",
            Some(&grace),
            json!({"name": "safetylab/study", "purpose": "uplift study", "quota_cpu_seconds": quota_cpu_seconds, "models": [
                {"repo": "acme/restricted", "level": "AL3"},
                {"repo": "acme/sealed", "level": "AL1"},
            ]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = app
        .send_json(
            Method::POST,
            "/api/v1/projects/safetylab/study/decision",
            Some(&op),
            json!({"decision": "approve", "reason": "ok"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    Some(World {
        app,
        grace,
        grace_read,
        dan,
        op,
        op2,
        _work: work,
    })
}

fn command(repo: &str, script: &str) -> Value {
    json!({
        "project": "safetylab/study",
        "repo": repo,
        "kind": "command",
        "params": {"argv": ["/usr/bin/bash", "/job/main.sh"]},
        "inputs": [{"path": "main.sh", "content_base64": base64::engine::general_purpose::STANDARD.encode(script)}],
    })
}

async fn submit(w: &World, token: &str, body: Value) -> (StatusCode, Value) {
    w.app
        .send_json(Method::POST, "/api/v1/jobs", Some(token), body)
        .await
}

/// Waits until job `id` is finished; its state as the team sees it.
async fn finished(w: &World, id: i64) -> Value {
    for _ in 0..300 {
        let v = w
            .app
            .json(&format!("/api/v1/jobs/{id}"), Some(&w.grace))
            .await;
        if ["succeeded", "failed", "cancelled"].contains(&v["state"].as_str().unwrap_or("")) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("job {id} never finished");
}

fn code(v: &Value) -> &str {
    v["error"].as_str().unwrap_or("")
}

async fn get(w: &World, path: &str, token: Option<&str>) -> (StatusCode, Vec<u8>) {
    let r = w.app.get(path, token).await;
    let s = r.status();
    (s, r.bytes().await.expect("bytes").to_vec())
}

async fn review(w: &World, id: i64, token: &str, vote: &str) -> (StatusCode, Value) {
    let job = w.app.json(&format!("/api/v1/jobs/{id}"), Some(token)).await;
    let votes: Vec<Value> = job["outputs"]
        .as_array()
        .expect("outputs")
        .iter()
        .map(|o| json!({"path": o["path"], "vote": vote, "reason": "checked"}))
        .collect();
    w.app
        .send_json(
            Method::POST,
            &format!("/api/v1/jobs/{id}/review"),
            Some(token),
            json!({ "votes": votes }),
        )
        .await
}

#[tokio::test]
async fn a_job_runs_on_the_weights_and_its_outputs_need_two_checkers() {
    let Some(w) = world(true, 3600).await else {
        return;
    };
    let (s, v) = submit(
        &w,
        &w.grace,
        command(
            "acme/restricted",
            "ls /weights > /out/files.txt; wc -c < /weights/model.safetensors > /out/size.txt; echo scored",
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["state"], "queued");
    let id = v["id"].as_i64().expect("id");
    let v = finished(&w, id).await;
    assert_eq!(v["state"], "succeeded", "{v}");
    assert_eq!(v["ending"], "exit_0");
    assert!(v["wall_seconds"].as_f64().is_some());
    assert!(
        v["charged_seconds"].as_f64().is_some_and(|c| c > 0.0),
        "{v}"
    );
    assert_eq!(v["outputs_state"], "awaiting_review");
    let paths: Vec<&str> = v["outputs"]
        .as_array()
        .expect("outputs")
        .iter()
        .filter_map(|o| o["path"].as_str())
        .collect();
    assert_eq!(paths, vec!["_logs/stdout.txt", "files.txt", "size.txt"]);
    // Nothing leaves before the checks: not the outputs, not the logs.
    let (s, b) = get(
        &w,
        &format!("/api/v1/jobs/{id}/outputs/files.txt"),
        Some(&w.grace),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{}", String::from_utf8_lossy(&b));
    let (s, _) = get(&w, &format!("/api/v1/jobs/{id}/logs"), Some(&w.grace)).await;
    assert_eq!(s, StatusCode::CONFLICT);
    // The team does not check its own outputs; one checker is not enough; nobody votes twice.
    let (s, v) = review(&w, id, &w.grace, "approve").await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "not_operator"));
    let (s, v) = review(&w, id, &w.op, "approve").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["outputs_state"], "awaiting_review");
    let (s, v) = review(&w, id, &w.op, "approve").await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "already_reviewed"));
    // Blind: the second checker does not see the first one's votes.
    let seen = w
        .app
        .json(&format!("/api/v1/jobs/{id}"), Some(&w.op2))
        .await;
    assert_eq!(seen["votes"], json!([]));
    let (s, v) = review(&w, id, &w.op2, "approve").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["outputs_state"], "released");
    // Released: the team downloads; anyone else finds no job.
    let (s, b) = get(
        &w,
        &format!("/api/v1/jobs/{id}/outputs/files.txt"),
        Some(&w.grace),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(String::from_utf8_lossy(&b).contains("model.safetensors"));
    let (s, b) = get(
        &w,
        &format!("/api/v1/jobs/{id}/outputs/size.txt"),
        Some(&w.grace),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        String::from_utf8_lossy(&b).trim(),
        WEIGHTS.len().to_string()
    );
    let (s, b) = get(&w, &format!("/api/v1/jobs/{id}/logs"), Some(&w.grace)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(String::from_utf8_lossy(&b).contains("scored"));
    for token in [Some(w.dan.as_str()), None] {
        let (s, _) = get(&w, &format!("/api/v1/jobs/{id}/outputs/files.txt"), token).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{token:?}");
        let (s, _) = get(&w, &format!("/api/v1/jobs/{id}"), token).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{token:?}");
    }
    // The public job log shows the job and its metering, not its people or outputs.
    let log = w.app.json("/api/v1/jobs/log", None).await;
    let entry = &log["jobs"][0];
    assert_eq!(entry["id"], id);
    assert_eq!(entry["project"], "safetylab/study");
    assert_eq!(entry["outputs_state"], "released");
    assert!(entry.get("submitted_by").is_none() && entry["outputs"] == json!([]));
    // And on the transparency log: submission, finish with its metering, the output decision.
    w.app.settled_checkpoint().await;
    let entries = crate::log::log_text(&w.app).await;
    for action in ["job.submit", "job.finish", "job.outputs"] {
        assert!(
            entries
                .iter()
                .any(|e| e.contains(&format!("\"action\":\"{action}\""))),
            "{action} is not on the log"
        );
    }
    assert!(
        entries
            .iter()
            .any(|e| e.contains("\"action\":\"job.finish\"") && e.contains("cpu_seconds"))
    );
    assert!(entries.iter().all(|e| !e.contains("grace")));
}

#[tokio::test]
async fn an_output_holding_weights_is_blocked() {
    let Some(w) = world(true, 3600).await else {
        return;
    };
    let (s, v) = submit(
        &w,
        &w.grace,
        command(
            "acme/restricted",
            "cp /weights/model.safetensors /out/copy.bin; echo ok > /out/fine.txt",
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_i64().expect("id");
    let v = finished(&w, id).await;
    assert_eq!(v["outputs_state"], "blocked", "{v}");
    let copy = v["outputs"]
        .as_array()
        .expect("outputs")
        .iter()
        .find(|o| o["path"] == "copy.bin")
        .expect("copy.bin");
    assert_eq!(copy["findings"][0]["rule"], "format", "{copy}");
    // A blocked release is not reviewed and never leaves, not even its clean file.
    let (s, v) = review(&w, id, &w.op, "approve").await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "not_in_review"));
    for path in ["copy.bin", "fine.txt"] {
        let (s, _) = get(
            &w,
            &format!("/api/v1/jobs/{id}/outputs/{path}"),
            Some(&w.grace),
        )
        .await;
        assert_eq!(s, StatusCode::CONFLICT, "{path}");
    }
}

#[tokio::test]
async fn jobs_are_refused_to_whoever_may_not_run_them() {
    let Some(w) = world(true, 3600).await else {
        return;
    };
    let ok = command("acme/restricted", "true");
    let (s, v) = submit(&w, &w.dan, ok.clone()).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "not_member"), "{v}");
    let (s, v) = submit(&w, &w.grace_read, ok.clone()).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "token_scope"), "{v}");
    let (s, v) = submit(&w, &w.op, ok.clone()).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "not_member"), "{v}");
    // A sealed model runs black-box jobs only, whatever the project holds.
    let (s, v) = submit(&w, &w.grace, command("acme/sealed", "true")).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "tier_caps_level"),
        "{v}"
    );
    // A revision the project does not name.
    let alice = w.app.user("alice", Scope::Write).await;
    assert!(
        w.app
            .commit("acme/restricted", "main", &alice, &[("extra.txt", b"x")])
            .await
            .status()
            .is_success()
    );
    let (s, v) = submit(&w, &w.grace, ok.clone()).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "not_in_project"),
        "{v}"
    );
    let project = w
        .app
        .json("/api/v1/projects/safetylab/study", Some(&w.grace))
        .await;
    let named = project["models"]
        .as_array()
        .expect("models")
        .iter()
        .find(|m| m["repo"] == "acme/restricted")
        .expect("model")["revision"]
        .as_str()
        .expect("rev")
        .to_string();
    let mut pinned = ok.clone();
    pinned["revision"] = json!(named);
    // Bad parameters and inputs.
    for (params, what) in [
        (json!({"argv": []}), "empty argv"),
        (json!({"argv": ["bash", "-c", "x"]}), "a relative program"),
        (json!({}), "no argv"),
    ] {
        let mut b = pinned.clone();
        b["params"] = params;
        let (s, v) = submit(&w, &w.grace, b).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "invalid_params"),
            "{what}: {v}"
        );
    }
    let mut b = pinned.clone();
    b["inputs"] = json!([{"path": "../escape.sh", "content_base64": ""}]);
    let (s, v) = submit(&w, &w.grace, b).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_path"),
        "{v}"
    );
    // A lapsed attestation stops the member at once.
    set_level(&w.app, "grace", IdentityLevel::Identified, Some("NL")).await;
    let (s, v) = submit(&w, &w.grace, pinned.clone()).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "identity_level"),
        "{v}"
    );
    set_level(&w.app, "grace", IdentityLevel::Accredited, Some("NL")).await;
    let (s, v) = submit(&w, &w.grace, pinned).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_i64().expect("id");
    assert_eq!(finished(&w, id).await["state"], "succeeded");
}

/// Decided again when a job starts: a project revoked, a member's attestation lapsed, or the
/// quota spent while a job waited in the queue fails it without running it; a cancelled job
/// never runs.
#[tokio::test]
async fn queued_jobs_are_decided_again_when_they_start() {
    let Some(w) = world(false, 3600).await else {
        return;
    };
    let (_, a) = submit(
        &w,
        &w.grace,
        command("acme/restricted", "echo a > /out/a.txt"),
    )
    .await;
    let (_, b) = submit(
        &w,
        &w.grace,
        command("acme/restricted", "echo b > /out/b.txt"),
    )
    .await;
    let (_, c) = submit(
        &w,
        &w.grace,
        command("acme/restricted", "echo c > /out/c.txt"),
    )
    .await;
    let (a, b, c) = (
        a["id"].as_i64().expect("a"),
        b["id"].as_i64().expect("b"),
        c["id"].as_i64().expect("c"),
    );
    let (s, v) = w
        .app
        .send_json(
            Method::POST,
            &format!("/api/v1/jobs/{b}/cancel"),
            Some(&w.grace),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "cancelled");
    let (s, v) = w
        .app
        .send_json(
            Method::POST,
            &format!("/api/v1/jobs/{b}/cancel"),
            Some(&w.dan),
            json!({}),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "job_not_found"));
    let (s, _) = w
        .app
        .send_json(
            Method::POST,
            "/api/v1/projects/safetylab/study/decision",
            Some(&w.op2),
            json!({"decision": "revoke", "reason": "misuse"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let enclave = w.app_enclave();
    tokio::spawn(weir_registry::jobs::run_queue(
        w.app.store.clone(),
        enclave,
        std::future::pending::<()>(),
    ));
    for (id, state, ending) in [
        (a, "failed", "revoked"),
        (b, "cancelled", "cancelled"),
        (c, "failed", "revoked"),
    ] {
        let v = finished(&w, id).await;
        assert_eq!(
            (v["state"].as_str(), v["ending"].as_str()),
            (Some(state), Some(ending)),
            "{v}"
        );
        assert_eq!(v["outputs"], json!([]));
        assert_eq!(v["charged_seconds"], 0.0);
    }
}

#[tokio::test]
async fn a_job_stops_at_the_quota_and_the_next_one_is_refused() {
    let Some(w) = world(true, 1).await else {
        return;
    };
    let (s, v) = submit(
        &w,
        &w.grace,
        command("acme/restricted", "while :; do :; done"),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_i64().expect("id");
    let v = finished(&w, id).await;
    assert_eq!(v["ending"], "wall_clock", "{v}");
    assert!(v["wall_seconds"].as_f64().is_some_and(|s| s < 5.0), "{v}");
    let (s, v) = submit(&w, &w.grace, command("acme/restricted", "true")).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "quota_exhausted"),
        "{v}"
    );
}

/// A server killed with a job running fails it as interrupted at the next start (never loses
/// it); queued jobs stay queued and run.
#[tokio::test]
async fn a_restart_fails_running_jobs_and_runs_queued_ones() {
    let Some(w) = world(false, 3600).await else {
        return;
    };
    let (_, a) = submit(&w, &w.grace, command("acme/restricted", "true")).await;
    let (_, b) = submit(&w, &w.grace, command("acme/restricted", "true")).await;
    let (a, b) = (a["id"].as_i64().expect("a"), b["id"].as_i64().expect("b"));
    // As a killed server leaves it: the first job claimed, never finished.
    let claimed = w
        .app
        .store
        .db
        .claim_next_job(weir_registry::clock::now())
        .await
        .expect("claim")
        .expect("a job");
    assert_eq!(claimed.id, a);
    tokio::spawn(weir_registry::jobs::run_queue(
        w.app.store.clone(),
        w.app_enclave(),
        std::future::pending::<()>(),
    ));
    let va = finished(&w, a).await;
    assert_eq!(
        (va["state"].as_str(), va["ending"].as_str()),
        (Some("failed"), Some("interrupted"))
    );
    let vb = finished(&w, b).await;
    assert_eq!(vb["state"], "succeeded", "{vb}");
}

impl World {
    fn app_enclave(&self) -> std::sync::Arc<weir_registry::jobs::Enclave> {
        self.app.enclave.clone().expect("an enclave")
    }
}
