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
use weir_core::{IdentityLevel, Scope, Tier};

use crate::access::{set_level, set_tier};
use crate::common::TestApp;

pub(crate) struct World {
    pub(crate) app: TestApp,
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
pub(crate) async fn world(autostart: bool, quota_cpu_seconds: i64) -> Option<World> {
    let work = tempfile::tempdir().expect("tempdir");
    let app = TestApp::with_enclave(work.path(), autostart).await?;
    let alice = app.user("alice", Scope::Write).await;
    let grace = app.user("grace", Scope::Write).await;
    let grace_read = app.user("grace", Scope::Read).await;
    let dan = app.user("dan", Scope::Write).await;
    let op = app.user("op", Scope::Admin).await;
    let op2 = app.user("op2", Scope::Admin).await;
    app.org_owned_by("acme", "alice").await;
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

pub(crate) fn command(repo: &str, script: &str) -> Value {
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
pub(crate) async fn finished(w: &World, id: i64) -> Value {
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

/// Submits `body` as grace; the new job's id.
pub(crate) async fn queued(w: &World, body: Value) -> i64 {
    let (s, v) = submit(w, &w.grace, body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_i64().expect("id")
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
    // Metered and charged (shown to a tenth of a second: exact figures would be a channel).
    assert!(
        v["cpu_seconds"].as_f64().is_some() && v["charged_seconds"].as_f64().is_some(),
        "{v}"
    );
    let row = w.app.store.db.job(id).await.expect("db").expect("job");
    assert!(
        row.charged_ms > 0 && row.cpu_ms.is_some_and(|c| c > 0),
        "{row:?}"
    );
    assert_eq!(v["outputs_state"], "awaiting_review");
    assert_eq!(v["output_rules"], weir_core::outputs::RULES_VERSION, "{v}");
    // Held: the team sees how many files, not their names, sizes or digests (a channel too).
    assert_eq!(v["held_files"], 3, "{v}");
    assert_eq!(v["outputs"], json!([]), "{v}");
    let v = w.app.json(&format!("/api/v1/jobs/{id}"), Some(&w.op)).await;
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
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "own_request"));
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
    let id = queued(
        &w,
        command(
            "acme/restricted",
            "cp /weights/model.safetensors /out/copy.bin; echo ok > /out/fine.txt",
        ),
    )
    .await;
    let v = finished(&w, id).await;
    assert_eq!(v["outputs_state"], "blocked", "{v}");
    assert_eq!(v["blocked_by"], json!(["format"]), "{v}");
    let v = w.app.json(&format!("/api/v1/jobs/{id}"), Some(&w.op)).await;
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
    // Names are a channel: a release with names that are not plain, or with too many files,
    // keeps none of them (nor can a job pass its files off as the logs).
    for script in [
        "mkdir -p /out/_logs; echo x > /out/_logs/stdout.txt; echo printed",
        "for i in $(seq 1 150); do : > /out/f$i; done",
        "echo x > '/out/QUFBQUFB=='",
    ] {
        let (s, v) = submit(&w, &w.grace, command("acme/restricted", script)).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let id = v["id"].as_i64().expect("id");
        let v = finished(&w, id).await;
        assert_eq!(v["state"], "succeeded", "{script}: {v}");
        assert_eq!(v["outputs_state"], "blocked", "{script}: {v}");
        assert_eq!(v["blocked_by"], json!(["names"]), "{script}: {v}");
        let v = w.app.json(&format!("/api/v1/jobs/{id}"), Some(&w.op)).await;
        let paths: Vec<&str> = v["outputs"]
            .as_array()
            .expect("outputs")
            .iter()
            .filter_map(|o| o["path"].as_str())
            .filter(|p| !p.starts_with("_logs/"))
            .collect();
        assert_eq!(paths, vec!["_blocked"], "{script}: {v}");
    }
}

/// An operator designates output checkers: they see the review queue and the held files and
/// vote like an operator, never on their own team's jobs, only with a write token, and not
/// once the designation is withdrawn.
#[tokio::test]
async fn designated_output_checkers_vote_beside_an_operator() {
    let Some(w) = world(true, 3600).await else {
        return;
    };
    let dana = w.app.user("dana", Scope::Write).await;
    let dana_read = w.app.user("dana", Scope::Read).await;
    let id = queued(&w, command("acme/restricted", "echo 0.31 > /out/score.txt")).await;
    assert_eq!(finished(&w, id).await["outputs_state"], "awaiting_review");
    // Not designated: no queue, no job.
    let (s, b) = get(&w, "/api/v1/jobs/review", Some(&dana)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{}", String::from_utf8_lossy(&b));
    let (s, _) = get(&w, &format!("/api/v1/jobs/{id}"), Some(&dana)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let ctx = weir_registry::Context::default();
    let now = weir_registry::clock::now();
    for (who, reason) in [("nobody", "x"), ("acme", "x"), ("dana", " ")] {
        assert!(
            weir_registry::jobs::add_checker(&w.app.store, who, reason, &ctx, now)
                .await
                .is_err(),
            "{who}"
        );
    }
    weir_registry::jobs::add_checker(&w.app.store, "dana", "trained checker", &ctx, now)
        .await
        .expect("designate");
    let queue = w.app.json("/api/v1/jobs/review", Some(&dana)).await;
    assert_eq!(queue["jobs"][0]["id"], id, "{queue}");
    // The checker sees the held files and reads them, as an operator does.
    let (s, b) = get(&w, &format!("/api/v1/jobs/{id}"), Some(&dana)).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let v: Value = serde_json::from_slice(&b).expect("json");
    assert!(
        v["outputs"]
            .as_array()
            .is_some_and(|o| o.iter().any(|f| f["path"] == "score.txt")),
        "{v}"
    );
    let (s, b) = get(
        &w,
        &format!("/api/v1/jobs/{id}/outputs/score.txt"),
        Some(&dana),
    )
    .await;
    assert_eq!((s, b.as_slice()), (StatusCode::OK, &b"0.31\n"[..]));
    // With a read token the designation does not apply: the job is not there to vote on.
    let (s, _) = get(&w, &format!("/api/v1/jobs/{id}"), Some(&dana_read)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = w
        .app
        .send_json(
            Method::POST,
            &format!("/api/v1/jobs/{id}/review"),
            Some(&dana_read),
            json!({"votes": [{"path": "score.txt", "vote": "approve", "reason": "ok"}]}),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "job_not_found"));
    // A designation never makes the team its own checker.
    weir_registry::jobs::add_checker(&w.app.store, "grace", "also a checker", &ctx, now)
        .await
        .expect("designate");
    let mine = w.app.json("/api/v1/jobs/review", Some(&w.grace)).await;
    assert_eq!(mine["jobs"], json!([]), "{mine}");
    let (s, v) = review(&w, id, &w.grace, "approve").await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "own_request"));
    let (s, v) = review(&w, id, &dana, "approve").await;
    assert_eq!(
        (s, v["outputs_state"].as_str()),
        (StatusCode::OK, Some("awaiting_review"))
    );
    let (s, v) = review(&w, id, &w.op, "approve").await;
    assert_eq!(
        (s, v["outputs_state"].as_str()),
        (StatusCode::OK, Some("released"))
    );
    // Released outputs are the team's: the checker no longer reads them.
    let (s, _) = get(
        &w,
        &format!("/api/v1/jobs/{id}/outputs/score.txt"),
        Some(&dana),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    // Withdrawn: the queue and the job are gone for them at once.
    weir_registry::jobs::revoke_checker(&w.app.store, "dana", "left", &ctx, now)
        .await
        .expect("revoke");
    assert!(
        weir_registry::jobs::revoke_checker(&w.app.store, "dana", "again", &ctx, now)
            .await
            .is_err()
    );
    let (s, _) = get(&w, "/api/v1/jobs/review", Some(&dana)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = get(&w, &format!("/api/v1/jobs/{id}"), Some(&dana)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let actions: Vec<String> = w
        .app
        .store
        .db
        .events(None, 50)
        .await
        .expect("events")
        .into_iter()
        .map(|(_, e)| e.action)
        .collect();
    assert!(actions.iter().any(|a| a == "checker.add"), "{actions:?}");
    assert!(actions.iter().any(|a| a == "checker.revoke"), "{actions:?}");
}

/// Returned outputs tell the team each checker's verdict and reasons, never the held files'
/// names (a channel out of the sandbox), until they are released.
#[tokio::test]
async fn returned_outputs_show_the_team_no_file_names() {
    let Some(w) = world(true, 3600).await else {
        return;
    };
    let id = queued(
        &w,
        command("acme/restricted", "echo 1 > /out/QUFBQUFBQUFBQUFB.txt"),
    )
    .await;
    assert_eq!(finished(&w, id).await["outputs_state"], "awaiting_review");
    let (s, _) = review(&w, id, &w.op, "request_changes").await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = review(&w, id, &w.op2, "approve").await;
    assert_eq!(
        (s, v["outputs_state"].as_str()),
        (StatusCode::OK, Some("returned"))
    );
    let team = w
        .app
        .json(&format!("/api/v1/jobs/{id}"), Some(&w.grace))
        .await;
    assert!(!team.to_string().contains("QUFBQUFB"), "{team}");
    let votes = team["votes"].as_array().expect("votes");
    assert_eq!(votes.len(), 2, "one verdict per checker: {team}");
    assert!(
        votes.iter().any(|v| v["vote"] == "request_changes"),
        "{team}"
    );
    // The checkers still see what they voted on.
    let op = w.app.json(&format!("/api/v1/jobs/{id}"), Some(&w.op)).await;
    assert!(op.to_string().contains("QUFBQUFB"), "{op}");
}

/// The automatic output rules are the policy's `[outputs]` section: a signed, logged policy
/// change tightens them for the next job, which records the version it was checked under.
#[tokio::test]
async fn the_policy_sets_the_output_rules_and_each_job_records_their_version() {
    let Some(w) = world(true, 3600).await else {
        return;
    };
    let script = "head -c 200 /dev/zero | tr '\\0' x > /out/notes.txt";
    let before = queued(&w, command("acme/restricted", script)).await;
    let v = finished(&w, before).await;
    assert_eq!(v["outputs_state"], "awaiting_review", "{v}");
    assert_eq!(v["output_rules"], "outputs-v1");
    let text = weir_core::policy::DEFAULT_POLICY
        .replace("version = \"outputs-v1\"", "version = \"outputs-strict-1\"")
        .replace("max_file_bytes = 1048576", "max_file_bytes = 100");
    let signer = weir_tlog::note::Signer::from_seed("weir.test/log", [9; 32]).expect("signer");
    weir_registry::policy::set(
        &w.app.store,
        &signer,
        &text,
        &weir_registry::Context::default(),
        weir_registry::clock::now(),
    )
    .await
    .expect("policy");
    let after = queued(&w, command("acme/restricted", script)).await;
    let v = finished(&w, after).await;
    assert_eq!(v["outputs_state"], "blocked", "{v}");
    assert_eq!(v["blocked_by"], json!(["file_too_large"]), "{v}");
    assert_eq!(v["output_rules"], "outputs-strict-1", "{v}");
    // The earlier job keeps the version it was checked under.
    let v = w
        .app
        .json(&format!("/api/v1/jobs/{before}"), Some(&w.grace))
        .await;
    assert_eq!(v["output_rules"], "outputs-v1");
    // And the public job log says which rules each job's outputs met.
    let log = w.app.json("/api/v1/jobs/log", None).await;
    assert_eq!(log["jobs"][0]["output_rules"], "outputs-strict-1", "{log}");
}

/// Cancelling a running job kills it, and what it used is still charged and logged.
#[tokio::test]
async fn a_cancelled_running_job_is_charged() {
    let Some(w) = world(true, 3600).await else {
        return;
    };
    let id = queued(&w, command("acme/restricted", "while :; do :; done")).await;
    for _ in 0..100 {
        let v = w
            .app
            .json(&format!("/api/v1/jobs/{id}"), Some(&w.grace))
            .await;
        if v["state"] == "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (s, v) = w
        .app
        .send_json(
            Method::POST,
            &format!("/api/v1/jobs/{id}/cancel"),
            Some(&w.grace),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let mut charged = 0.0;
    for _ in 0..100 {
        let v = w
            .app
            .json(&format!("/api/v1/jobs/{id}"), Some(&w.grace))
            .await;
        charged = v["charged_seconds"].as_f64().unwrap_or(0.0);
        if charged > 0.0 {
            assert_eq!(v["state"], "cancelled");
            assert_eq!(v["outputs"], json!([]));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(charged > 0.2, "a cancelled job ran for free: {charged}");
    assert!(w.app.has_event("acme/restricted", "job.finish").await);
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
    let id = queued(&w, pinned).await;
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
    let id = queued(&w, command("acme/restricted", "while :; do :; done")).await;
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

/// With a compute award, jobs are metered against it: the first job runs until the released
/// tranche is spent, the job queued behind it does not start, the usage statement adds up to
/// the metered job, and once the award is revoked no job is taken.
#[tokio::test]
async fn jobs_are_metered_against_the_award_and_stop_with_it() {
    let Some(w) = world(false, 3600).await else {
        return;
    };
    let closes = (time::OffsetDateTime::now_utc() + time::Duration::days(30))
        .format(&time::format_description::well_known::Rfc3339)
        .expect("date");
    let (s, v) = w
        .app
        .send_json(
            Method::POST,
            "/api/v1/grants/calls",
            Some(&w.op),
            json!({"name": "airr", "title": "t", "closes_at": closes, "models": [
                {"repo": "acme/restricted", "level": "AL3"}, {"repo": "acme/sealed", "level": "AL1"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // 0.0006 CPU-hours is 2.16 CPU-seconds: the first tranche, 1.08 s, is released at once;
    // a job needs 1 s left to start, so the busy job spends the tranche with any 0.08 s of CPU.
    let (s, v) = w
        .app
        .send_json(
            Method::POST,
            "/api/v1/grants/applications",
            Some(&w.grace),
            json!({"call": "airr", "route": "gateway", "project": "safetylab/study",
                "purpose": "p", "plan": "p", "cpu_hours": 0.0006}),
        )
        .await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::CREATED, Some("awarded")),
        "{v}"
    );
    let award = v["award"]["id"].as_i64().expect("award");
    let busy = queued(&w, command("acme/restricted", "while :; do :; done")).await;
    let behind = queued(&w, command("acme/restricted", "true")).await;
    let ran = weir_registry::jobs::run_pending(&w.app.store, &w.app_enclave())
        .await
        .expect("run");
    assert_eq!(ran, 2);
    let v = finished(&w, busy).await;
    assert_eq!(
        v["ending"], "wall_clock",
        "cut to the award's remaining compute: {v}"
    );
    assert!(v["wall_seconds"].as_f64().is_some_and(|s| s < 3.0), "{v}");
    let v = finished(&w, behind).await;
    assert_eq!(
        (v["state"].as_str(), v["ending"].as_str()),
        (Some("failed"), Some("quota_exhausted")),
        "{v}"
    );
    // The statement: the one metered job, adding up; the public award shows the same use.
    let st = w
        .app
        .json(
            &format!("/api/v1/grants/awards/{award}/usage"),
            Some(&w.grace),
        )
        .await;
    let lines = st["jobs"].as_array().expect("jobs");
    assert_eq!(lines.len(), 1, "{st}");
    assert_eq!(lines[0]["job"], busy);
    let charged = lines[0]["charged_cpu_seconds"].as_f64().expect("charged");
    assert!(charged > 0.0 && charged <= 1.2, "{st}");
    assert_eq!(st["total_cpu_seconds"].as_f64(), Some(charged));
    let row = w.app.store.db.job(busy).await.expect("db").expect("job");
    assert_eq!(
        weir_registry::jobs::tenths(row.charged_ms),
        charged,
        "the statement is the job's metering"
    );
    let public = w
        .app
        .json(&format!("/api/v1/grants/awards/{award}"), None)
        .await;
    assert_eq!(public["state"], "exhausted", "{public}");
    assert!(public["jobs"].is_null(), "usage is the team's: {public}");
    let team = w
        .app
        .json(&format!("/api/v1/grants/awards/{award}"), Some(&w.grace))
        .await;
    assert_eq!(team["jobs"], 1, "{team}");
    // A new job is refused at once; so, after a revocation, with its own reason.
    let (s, v) = submit(&w, &w.grace, command("acme/restricted", "true")).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "quota_exhausted"),
        "{v}"
    );
    let (s, v) = w
        .app
        .send_json(
            Method::POST,
            &format!("/api/v1/grants/awards/{award}/revoke"),
            Some(&w.op2),
            json!({"reason": "misuse"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = submit(&w, &w.grace, command("acme/restricted", "true")).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "award_revoked"),
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

/// A tiny random Llama from `weir-runner random-model`, committed as `repo` at `tier`; a project
/// `safetylab/NAME` with grace at `level` on it, approved. Returns the model's directory and
/// commit.
async fn llama_project(
    w: &World,
    repo: &str,
    tier: Tier,
    project: &str,
    level: &str,
) -> (tempfile::TempDir, String) {
    model_project(w, repo, tier, project, level, "llama").await
}

/// [`llama_project`] for any architecture `weir-runner random-model --arch` writes.
async fn model_project(
    w: &World,
    repo: &str,
    tier: Tier,
    project: &str,
    level: &str,
    arch: &str,
) -> (tempfile::TempDir, String) {
    let runner = weir_registry::jobs::default_runner()
        .expect("weir-runner is not built: cargo build -p weir-runner (scripts/test.sh builds every binary)");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new(&runner)
        .args([
            "random-model",
            dir.path().to_str().expect("utf8"),
            "--seed",
            "11",
            "--arch",
            arch,
        ])
        .output()
        .expect("weir-runner");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alice = w.app.user("alice", Scope::Write).await;
    w.app.repo(repo, false).await;
    let files: Vec<(String, Vec<u8>)> = ["config.json", "tokenizer.json", "model.safetensors"]
        .iter()
        .map(|f| {
            (
                f.to_string(),
                std::fs::read(dir.path().join(f)).expect("read"),
            )
        })
        .collect();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    assert!(
        w.app
            .commit(repo, "main", &alice, &refs)
            .await
            .status()
            .is_success()
    );
    set_tier(&w.app, repo, tier).await;
    let commit = w.app.head_of(repo, "main").await;
    let (s, v) = w
        .app
        .send_json(
            Method::POST,
            "/api/v1/projects",
            Some(&w.grace),
            json!({"name": project, "purpose": "score", "models": [{"repo": repo, "level": level}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, _) = w
        .app
        .send_json(
            Method::POST,
            &format!("/api/v1/projects/{project}/decision"),
            Some(&w.op),
            json!({"decision": "approve", "reason": "ok"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    (dir, commit)
}

fn builtin(project: &str, repo: &str, kind: &str, params: Value, input: &str) -> Value {
    json!({
        "project": project, "repo": repo, "kind": kind, "params": params,
        "inputs": [{"path": "input.jsonl", "content_base64": base64::engine::general_purpose::STANDARD.encode(input)}],
    })
}

const QUESTIONS: &str = r#"{"question": "which toxin dose is the safety risk?", "choices": ["one", "two", "three", "cell"], "answer": 2}
{"question": "what is the cell?", "choices": ["virus", "gene", "protein", "bacteria"], "answer": 0}
{"question": "how does the virus cause the effect?", "choices": ["water", "air", "light", "heat"], "answer": 3}
"#;

/// grace scores a restricted (T3) model on a WMDP-format file inside the sandbox; after two
/// checkers the results are hers, identical to the runner's outside the sandbox on the same
/// weights, and they import as an lm-evaluation-harness evaluation of the exact revision.
#[tokio::test]
async fn mcq_inside_the_sandbox_matches_the_runner_outside() {
    let Some(w) = world(true, 3600).await else {
        return;
    };
    let (dir, commit) = llama_project(&w, "acme/llama", Tier::T3, "safetylab/mcq", "AL1").await;
    let id = queued(
        &w,
        builtin(
            "safetylab/mcq",
            "acme/llama",
            "mcq",
            json!({"task": "wmdp_bio"}),
            QUESTIONS,
        ),
    )
    .await;
    let v = finished(&w, id).await;
    assert_eq!(v["state"], "succeeded", "{v}");
    assert_eq!(v["outputs_state"], "awaiting_review", "{v}");
    for op in [&w.op, &w.op2] {
        let (s, v) = review(&w, id, op, "approve").await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let (_, results) = get(
        &w,
        &format!("/api/v1/jobs/{id}/outputs/results.json"),
        Some(&w.grace),
    )
    .await;
    let (_, samples) = get(
        &w,
        &format!("/api/v1/jobs/{id}/outputs/samples.jsonl"),
        Some(&w.grace),
    )
    .await;
    // The same job outside the sandbox, on the same weights.
    let local = run_outside(
        dir.path(),
        "mcq",
        QUESTIONS,
        r#"{"task":"wmdp_bio"}"#,
        "acme/llama",
        &commit,
    );
    assert_eq!(
        samples,
        std::fs::read(local.path().join("samples.jsonl")).expect("samples")
    );
    assert_eq!(
        results,
        std::fs::read(local.path().join("results.json")).expect("results")
    );
    let r: Value = serde_json::from_slice(&results).expect("json");
    assert_eq!(r["n-samples"]["wmdp_bio"]["effective"], 3);
    // Imported as an evaluation of exactly this revision.
    let resp = w
        .app
        .req(
            Method::POST,
            &format!("/api/v1/models/acme/llama/evaluations?suite=wmdp-bio&revision={commit}&filename=results.json"),
            Some(&w.grace),
        )
        .body(results.clone())
        .send()
        .await
        .expect("import");
    let status = resp.status();
    let v: Value = resp.json().await.expect("json");
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["commit"], commit.as_str(), "{v}");
}

/// `weir-runner KIND` outside the sandbox on the weights in `weights`; returns its output dir.
fn run_outside(
    weights: &std::path::Path,
    kind: &str,
    input: &str,
    params: &str,
    model: &str,
    commit: &str,
) -> tempfile::TempDir {
    let local = tempfile::tempdir().expect("tempdir");
    std::fs::write(local.path().join("input.jsonl"), input).expect("write");
    let runner = weir_registry::jobs::default_runner().expect("runner");
    let out = std::process::Command::new(runner)
        .arg(kind)
        .arg("--weights")
        .arg(weights)
        .arg("--input")
        .arg(local.path().join("input.jsonl"))
        .arg("--out")
        .arg(local.path())
        .args(["--params", params, "--model", model, "--revision", commit])
        .output()
        .expect("runner");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    local
}

/// A Qwen2-architecture model (attention biases, tied embeddings) generates inside the sandbox
/// exactly what the runner generates outside it on the same weights, and scores the same.
#[tokio::test]
async fn a_qwen2_model_runs_inside_the_sandbox_as_outside() {
    let Some(w) = world(true, 3600).await else {
        return;
    };
    let (dir, commit) =
        model_project(&w, "acme/qwen", Tier::T2, "safetylab/qwen", "AL1", "qwen2").await;
    let prompts = "{\"prompt\": \"the virus and the cell\"}\n{\"prompt\": \"what is the dose\"}\n";
    let params = r#"{"max_tokens":8,"temperature":0.7,"seed":4}"#;
    let id = queued(
        &w,
        builtin(
            "safetylab/qwen",
            "acme/qwen",
            "generate",
            serde_json::from_str(params).expect("json"),
            prompts,
        ),
    )
    .await;
    let v = finished(&w, id).await;
    assert_eq!(v["state"], "succeeded", "{v}");
    // A T2 model's built-in outputs pass the automatic rules and are released at once.
    assert_eq!(v["outputs_state"], "released", "{v}");
    let (s, inside) = get(
        &w,
        &format!("/api/v1/jobs/{id}/outputs/completions.jsonl"),
        Some(&w.grace),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let local = run_outside(
        dir.path(),
        "generate",
        prompts,
        params,
        "acme/qwen",
        &commit,
    );
    assert_eq!(
        inside,
        std::fs::read(local.path().join("completions.jsonl")).expect("completions")
    );
}

/// A sealed (T4) model: black-box generation runs (and is deterministic with a seed); logits
/// (grey-box) and the researcher's own command (white-box) never do, whatever was granted.
#[tokio::test]
async fn a_sealed_model_generates_and_nothing_more() {
    let Some(w) = world(true, 3600).await else {
        return;
    };
    llama_project(&w, "acme/sealed-llama", Tier::T4, "safetylab/gen", "AL1").await;
    let prompts = "{\"prompt\": \"the virus and the cell\"}\n{\"prompt\": \"what is the risk\"}\n";
    let params = json!({"max_tokens": 6, "temperature": 0.7, "seed": 5});
    let mut outputs = Vec::new();
    for _ in 0..2 {
        let (s, v) = submit(
            &w,
            &w.grace,
            builtin(
                "safetylab/gen",
                "acme/sealed-llama",
                "generate",
                params.clone(),
                prompts,
            ),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let id = v["id"].as_i64().expect("id");
        let v = finished(&w, id).await;
        assert_eq!(v["state"], "succeeded", "{v}");
        for op in [&w.op, &w.op2] {
            assert_eq!(review(&w, id, op, "approve").await.0, StatusCode::OK);
        }
        let (s, b) = get(
            &w,
            &format!("/api/v1/jobs/{id}/outputs/completions.jsonl"),
            Some(&w.grace),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(String::from_utf8_lossy(&b).lines().count(), 2);
        outputs.push(b);
    }
    assert_eq!(
        outputs[0], outputs[1],
        "a seed makes generation deterministic"
    );
    for (kind, params) in [
        ("logits", json!({"top_k": 5})),
        ("command", json!({"argv": ["/usr/bin/true"]})),
    ] {
        let (s, v) = submit(
            &w,
            &w.grace,
            builtin("safetylab/gen", "acme/sealed-llama", kind, params, prompts),
        )
        .await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::FORBIDDEN, "tier_caps_level"),
            "{kind}: {v}"
        );
    }
    // Parameters are bounded before anything queues.
    let (s, v) = submit(
        &w,
        &w.grace,
        builtin(
            "safetylab/gen",
            "acme/sealed-llama",
            "generate",
            json!({"max_tokens": 100000}),
            prompts,
        ),
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_params"),
        "{v}"
    );
}

/// A member whose attestation lapses while their job waits never runs it; nor does a job on a
/// revision put under an incident hold meanwhile.
#[tokio::test]
async fn a_lapsed_attestation_stops_a_queued_job() {
    let Some(w) = world(false, 3600).await else {
        return;
    };
    let id = queued(&w, command("acme/restricted", "echo ran > /out/ran.txt")).await;
    set_level(&w.app, "grace", IdentityLevel::Identified, Some("NL")).await;
    tokio::spawn(weir_registry::jobs::run_queue(
        w.app.store.clone(),
        w.app_enclave(),
        std::future::pending::<()>(),
    ));
    let v = finished(&w, id).await;
    assert_eq!(
        (v["state"].as_str(), v["ending"].as_str()),
        (Some("failed"), Some("identity_level")),
        "{v}"
    );
    assert_eq!(v["outputs"], json!([]));
}

/// Replicas on one PostgreSQL database: a job claimed by one (its run lease held) is left alone
/// by another's recovery, and recovered once its runner is gone (the lease's connection closed).
#[tokio::test]
async fn recovery_leaves_a_job_another_replica_runs_alone() {
    let Some(w) = world(false, 3600).await else {
        return;
    };
    let (_, a) = submit(&w, &w.grace, command("acme/restricted", "true")).await;
    let a = a["id"].as_i64().expect("a");
    let (claimed, lease) = w
        .app
        .store
        .db
        .claim_next_job_leased(weir_registry::clock::now())
        .await
        .expect("claim")
        .expect("a job");
    assert_eq!(claimed.id, a);
    if w.app.store.db.backend() != weir_store::Backend::Postgres {
        // One process: nothing else can be running it.
        assert!(!w.app.store.db.job_is_held(a).await.expect("held"));
        return;
    }
    assert!(w.app.store.db.job_is_held(a).await.expect("held"));
    let failed = weir_registry::jobs::recover(&w.app.store)
        .await
        .expect("recover");
    assert_eq!(failed, 0, "a job whose runner lives is not interrupted");
    let v = w
        .app
        .json(&format!("/api/v1/jobs/{a}"), Some(&w.grace))
        .await;
    assert_eq!(v["state"], "running");
    // The runner's process dies: its lease's connection closes.
    lease.release().await;
    assert!(!w.app.store.db.job_is_held(a).await.expect("held"));
    let failed = weir_registry::jobs::recover(&w.app.store)
        .await
        .expect("recover");
    assert_eq!(failed, 1);
    let v = finished(&w, a).await;
    assert_eq!(
        (v["state"].as_str(), v["ending"].as_str()),
        (Some("failed"), Some("interrupted"))
    );
}
