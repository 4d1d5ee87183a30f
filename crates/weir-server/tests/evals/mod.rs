//! Evaluations and classification over HTTP, one file per handler of `src/evals/`: the helpers they
//! share (model cards, lm-eval logs, imports, tiers, events).

mod classification;
mod evidence;
mod policy;
pub(crate) mod results;

use crate::common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::{RepoId, Tier};

pub fn card(compute: &str, extra: &str) -> Vec<u8> {
    format!("---\nlicense: apache-2.0\ntraining_compute_flop: {compute}\n{extra}---\n# Model\n")
        .into_bytes()
}

/// An lm-evaluation-harness results file for `task` (the shape lm-eval 0.4 writes).
pub fn lm_eval_log(task: &str, acc: f64, n: i64, limit: &str) -> Vec<u8> {
    json!({
        "results": {task: {"alias": task, "acc,none": acc, "acc_stderr,none": "N/A"}},
        "n-samples": {task: {"original": n, "effective": n}},
        "config": {"model": "hf", "model_args": "pretrained=x", "limit": serde_json::from_str::<Value>(limit).expect("limit")},
        "lm_eval_version": "0.4.13",
    })
    .to_string()
    .into_bytes()
}

pub async fn tier(app: &TestApp, id: &str) -> Tier {
    app.store
        .db
        .repo(&RepoId::parse(id).expect("id"))
        .await
        .expect("db")
        .expect("repo")
        .tier
}

pub async fn import(
    app: &TestApp,
    token: &str,
    repo: &str,
    suite: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/models/{repo}/evaluations?suite={suite}&filename=results.json"),
            Some(token),
        )
        .body(body)
        .send()
        .await
        .expect("send");
    let s = r.status();
    (s, r.json().await.expect("json"))
}

pub async fn events(app: &TestApp, repo: &str, action: &str) -> Vec<Value> {
    app.store
        .db
        .events(Some(repo), 1000)
        .await
        .expect("events")
        .into_iter()
        .filter(|(_, e)| e.action == action)
        .map(|(_, e)| e.details)
        .collect()
}

pub fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

pub async fn repo_tier(app: &TestApp, repo: &str) -> Tier {
    app.store
        .db
        .repo(&weir_core::RepoId::parse(repo).expect("id"))
        .await
        .expect("db")
        .expect("repo")
        .tier
}
