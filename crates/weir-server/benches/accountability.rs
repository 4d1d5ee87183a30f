//! How the accountability reads scale: the OSV feed with N disclosed incidents, a publisher's
//! record with N releases (each checked for pre-release evaluations), and a classification with
//! N results. In-process through the router (no network), a real SQLite data dir.
//! `cargo bench -p weir-server --bench accountability [-- N]` (default 1000).

use std::time::Instant;

use tower::ServiceExt;
use weir_core::git::CommitSignature;
use weir_core::{Event, RepoId};
use weir_server::{AppState, ServerConfig};
use weir_store::Store;
use weir_store::incidents::{Incident, LogLine};

fn event() -> Event {
    Event {
        at: 1,
        actor: None,
        action: "bench".into(),
        repo: None,
        subject: None,
        decision: "change".into(),
        reason: "bench".into(),
        request_id: None,
        user_agent: None,
        details: serde_json::json!({}),
    }
}

async fn time_get(state: &AppState, path: &str) -> (f64, usize) {
    let mut best = f64::MAX;
    let mut len = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let r = weir_server::router(state.clone())
            .oneshot(
                axum::http::Request::get(path)
                    .body(axum::body::Body::empty())
                    .expect("request"),
            )
            .await
            .expect("response");
        assert!(r.status().is_success(), "{path}: {}", r.status());
        let body = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .expect("body");
        len = body.len();
        best = best.min(t.elapsed().as_secs_f64());
    }
    (best * 1e3, len)
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_data_dir(dir.path()).await.expect("store");
    let ns = weir_core::Name::parse("acme").expect("name");
    store.db.create_org(&ns).await.expect("org");
    let sig = CommitSignature {
        name: "b".into(),
        email: "b@x".into(),
        time: 1,
    };
    let id = RepoId::parse("acme/m").expect("id");
    let repo = store.create_repo(&id, false, sig).await.expect("repo");
    let head = store
        .db
        .resolve(&repo, &weir_core::Revision::parse("main").expect("rev"))
        .await
        .expect("db")
        .expect("main");
    let t = Instant::now();
    for i in 0..n {
        let mut new = Incident::received(
            repo.id,
            weir_core::incident::Kind::Vulnerability,
            weir_core::incident::Class::Minor,
            &format!("issue {i}"),
            r#"{"harm":"x"}"#.into(),
            vec![head.to_string()],
            None,
            1_700_000_000,
        );
        new.aliases = vec![];
        let inc = store
            .db
            .create_incident_logged(&new, 2026, |s| format!("x_B-2026-{s:04}"), &event())
            .await
            .expect("incident");
        let mut d = inc.clone();
        d.state = weir_core::incident::State::Disclosed;
        d.disclosed_at = Some(1_700_000_100);
        store
            .db
            .update_incident_logged(
                &d,
                weir_core::incident::State::Received,
                &LogLine {
                    kind: "transition".into(),
                    from_state: None,
                    to_state: None,
                    actor: "b".into(),
                    note: "n".into(),
                    at: 1,
                },
                &[event()],
                &[],
            )
            .await
            .expect("disclose");
        store
            .db
            .create_release(&repo, &head, &format!("bundle {i}"), &event())
            .await
            .ok();
    }
    println!(
        "seeded {n} disclosed incidents in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let url = "http://bench.example".to_string();
    let state = AppState::new(
        store,
        ServerConfig {
            public_url: url.clone(),
            upload_key: vec![7; 32],
            upload_link_ttl_secs: 600,
            log_signer: weir_tlog::note::Signer::from_seed(
                &weir_registry::settings::log_origin(&url),
                [7; 32],
            )
            .expect("log key"),
            log_interval_ms: 1000,
            release_key: weir_signing::model_signing::ReleaseKey::generate(),
            osv_prefix: "x_B".into(),
            currency: weir_registry::funding::Currency::default(),
            allow_private_webhooks: false,
            metrics_public: false,
            limits: Default::default(),
            blob_redirect_ttl_secs: None,
        },
    );
    let (ms, len) = time_get(&state, "/osv/all.json").await;
    println!(
        "GET /osv/all.json ({n} records, {} KiB): best of 5 = {ms:.1} ms",
        len / 1024
    );
    let (ms, _) = time_get(&state, "/api/v1/publishers/acme/record").await;
    println!("GET /api/v1/publishers/acme/record ({n} incidents): best of 5 = {ms:.1} ms");
    let (ms, _) = time_get(&state, "/api/v1/models/acme/m/classification").await;
    println!("GET /api/v1/models/acme/m/classification: best of 5 = {ms:.1} ms");
}
