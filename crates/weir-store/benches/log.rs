//! Transparency-log benchmark (not a test): `cargo bench -p weir-store --bench log [-- N]`.
//! Reports, on a real SQLite data dir: events recorded per second through `record_event` (event
//! row + queued log entry, 64 concurrent writers, group-committed), sequencer integration throughput, and the
//! latency of building an inclusion proof from stored hashes at N entries (default 1,000,000).

use std::time::Instant;

/// The allocator the `weir` binary runs with, so the recording path is measured as it serves.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use weir_core::Event;
use weir_store::Store;
use weir_tlog::merkle::{inclusion_proof, leaf_hash, verify_inclusion};
use weir_tlog::sequencer::needed;

fn event(i: u64) -> Event {
    Event {
        at: i as i64,
        actor: Some(format!("user{}", i % 1000)),
        action: "download".into(),
        repo: Some("acme/model".into()),
        subject: None,
        decision: "allow".into(),
        reason: "granted".into(),
        request_id: Some(format!("trace-{i}")),
        user_agent: Some("bench".into()),
        details: serde_json::json!({"path": "model.safetensors", "i": i}),
    }
}

/// Concurrent recorders, as concurrent requests of a busy server are.
const WRITERS: u64 = 64;

#[tokio::main]
async fn main() {
    let n: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    // WEIR_BENCH_DATABASE=postgres://… measures on an (empty) PostgreSQL database instead.
    let database = std::env::var("WEIR_BENCH_DATABASE")
        .ok()
        .filter(|u| !u.is_empty());
    let store = Store::open(dir.path(), database.as_deref())
        .await
        .expect("store");
    // The events are about a public repo, as a gated download's are (an event about a private
    // or missing repo is sealed, which the writer computes when the sender did not guess it).
    store
        .db
        .create_user(&weir_core::Name::parse("acme").expect("name"), None, false)
        .await
        .expect("user");
    store
        .create_repo(
            &weir_core::RepoId::parse("acme/model").expect("id"),
            false,
            weir_core::git::CommitSignature {
                name: "bench".into(),
                email: "bench@example.org".into(),
                time: 0,
            },
        )
        .await
        .expect("repo");

    // 1. events through the real path
    let events = 100_000u64;
    let t = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in (w..events).step_by(WRITERS as usize) {
                s.db.record_event(&event(i)).await.expect("event");
            }
        }));
    }
    for task in tasks {
        task.await.expect("join");
    }
    let rec = events as f64 / t.elapsed().as_secs_f64();

    // 2. integration of queued entries (bulk-queued to reach N quickly)
    let t = Instant::now();
    store.db.integrate(1_000_000).await.expect("integrate");
    let mut integrated = events;
    let mut integ_time = t.elapsed().as_secs_f64();
    let mut i = events;
    while i < n {
        let batch: Vec<Vec<u8>> = (i..(i + 50_000).min(n))
            .map(|k| event(k).log_entry(b"salt", false))
            .collect();
        store.db.enqueue_log_entries(&batch).await.expect("enqueue");
        let t = Instant::now();
        store.db.integrate(1_000_000).await.expect("integrate");
        integ_time += t.elapsed().as_secs_f64();
        integrated += batch.len() as u64;
        i += batch.len() as u64;
    }
    let state = store.db.log_state().await.expect("state");
    assert_eq!(state.size, n.max(events));

    // 3. inclusion-proof latency at size N (fetch the needed stored hashes, build, verify)
    let size = state.size;
    let mut lat = Vec::new();
    for k in 0..1000u64 {
        let index = (k * 7919) % size;
        let t = Instant::now();
        let want = needed(|s| inclusion_proof(s, index, size));
        let src = store.db.log_hashes(&want).await.expect("hashes");
        let proof = inclusion_proof(&src, index, size).expect("proof");
        lat.push(t.elapsed().as_secs_f64() * 1e3);
        let entry = store
            .db
            .log_entries(index, 1)
            .await
            .expect("entry")
            .remove(0);
        verify_inclusion(&leaf_hash(&entry), index, size, &proof, &state.root).expect("verifies");
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    println!(
        "events recorded (event row + queued log entry, {WRITERS} writers, group commit): {rec:.0} events/s"
    );
    println!(
        "sequencer integration: {:.0} entries/s ({integrated} entries)",
        integrated as f64 / integ_time
    );
    println!(
        "inclusion proof at {size} entries: p50 {:.3} ms, p99 {:.3} ms (1000 proofs)",
        lat[lat.len() / 2],
        lat[lat.len() * 99 / 100]
    );
}
