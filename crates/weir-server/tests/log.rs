//! The transparency log over HTTP: checkpoints signed by the vkey, tiles and entry bundles that
//! rebuild the signed root, proofs that verify, consistency between checkpoints, and entries that
//! hold no names.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use weir_core::{Event, Scope};
use weir_tlog::checkpoint::Checkpoint;
use weir_tlog::merkle::{MemoryTree, leaf_hash, verify_consistency};
use weir_tlog::note::Verifier;
use weir_tlog::proof::ProofFile;
use weir_tlog::tiles::{entries_path, parse_entry_bundle, tiles_for};

use crate::common::TestApp;

fn event(i: usize) -> Event {
    Event {
        at: i as i64,
        actor: Some("carol".into()),
        action: "test.event".into(),
        repo: Some("acme/m".into()),
        subject: Some("dave".into()),
        decision: "change".into(),
        reason: format!("r{i}"),
        request_id: None,
        user_agent: None,
        details: serde_json::json!({"i": i}),
    }
}

async fn signed(app: &TestApp, vkey: &Verifier, at_least: u64) -> (Checkpoint, String) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = app
            .get("/log/checkpoint", None)
            .await
            .text()
            .await
            .expect("text");
        let (c, _) = Checkpoint::open(&text, vkey).expect("checkpoint verifies with the vkey");
        if c.size >= at_least {
            return (c, text);
        }
        assert!(Instant::now() < deadline, "log never reached {at_least}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn log_serves_verifiable_checkpoints_tiles_and_proofs() {
    let app = TestApp::new().await;
    let vkey_text = app.get("/log/vkey", None).await.text().await.expect("vkey");
    let vkey = Verifier::parse(vkey_text.trim()).expect("vkey parses");
    assert_eq!(vkey.name(), weir_registry::settings::log_origin(&app.url));
    for i in 0..300 {
        app.store.db.record_event(&event(i)).await.expect("event");
    }
    let (c1, note1) = signed(&app, &vkey, 300).await;
    // an independent verifier accepts the checkpoint
    let v = signed_note::StandardVerifier::new(vkey_text.trim()).expect("vkey");
    signed_note::Note::from_bytes(note1.as_bytes())
        .expect("note")
        .verify(&signed_note::VerifierList::new(vec![Box::new(v)]))
        .expect("signed_note verifies");

    // audit: rebuild the tree from the entry bundles, compare the root and every tile
    let mut mem = MemoryTree::new();
    let mut entries = Vec::new();
    for t in tiles_for(c1.size).into_iter().filter(|t| t.level == 0) {
        let bundle = app
            .get(&format!("/log/{}", entries_path(t.index, t.width)), None)
            .await;
        assert_eq!(bundle.status(), StatusCode::OK);
        for e in parse_entry_bundle(&bundle.bytes().await.expect("bytes")).expect("bundle") {
            mem.push(leaf_hash(&e));
            entries.push(e);
        }
    }
    assert_eq!(mem.root(), c1.root);
    for t in tiles_for(c1.size) {
        let got = app
            .get(&format!("/log/{}", t.path()), None)
            .await
            .bytes()
            .await
            .expect("tile");
        assert_eq!(
            &got[..],
            &weir_tlog::tiles::tile_data(&mem, t).expect("tile")[..],
            "{}",
            t.path()
        );
    }
    // no names in the log
    let all = entries.concat();
    let text = String::from_utf8_lossy(&all);
    assert!(!text.contains("carol") && !text.contains("dave"));

    // proofs
    let p = app
        .get("/api/v1/log/proof/257", None)
        .await
        .text()
        .await
        .expect("proof");
    let proof = ProofFile::parse(&p).expect("parse");
    proof
        .verify(&entries[257], &vkey)
        .expect("inclusion verifies");
    assert!(proof.verify(&entries[256], &vkey).is_err());
    assert_eq!(
        app.get("/api/v1/log/proof/999999", None).await.status(),
        StatusCode::NOT_FOUND
    );

    // consistency between two signed checkpoints
    for i in 300..700 {
        app.store.db.record_event(&event(i)).await.expect("event");
    }
    let (c2, _) = signed(&app, &vkey, 700).await;
    let body = app
        .get(
            &format!("/api/v1/log/consistency?old={}&new={}", c1.size, c2.size),
            None,
        )
        .await
        .text()
        .await
        .expect("text");
    use base64::Engine;
    let hashes: Vec<[u8; 32]> = body
        .lines()
        .map(|l| {
            base64::engine::general_purpose::STANDARD
                .decode(l)
                .expect("b64")
                .try_into()
                .expect("32")
        })
        .collect();
    verify_consistency(c1.size, c2.size, &c1.root, &c2.root, &hashes).expect("consistent");
    let mut forked = c1.root;
    forked[0] ^= 1;
    assert!(verify_consistency(c1.size, c2.size, &forked, &c2.root, &hashes).is_err());

    // bad and future tiles
    assert_eq!(
        app.get("/log/tile/0/x999/000", None).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/log/tile/0/1", None).await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn governance_actions_reach_the_log() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/m", false).await;
    let r = app
        .req(
            reqwest::Method::PUT,
            "/api/v1/repos/alice/m/tier",
            Some(&alice),
        )
        .json(&serde_json::json!({"tier": "T2"}))
        .send()
        .await
        .expect("tier");
    assert_eq!(r.status(), StatusCode::OK);
    let vkey = Verifier::parse(
        app.get("/log/vkey", None)
            .await
            .text()
            .await
            .expect("vkey")
            .trim(),
    )
    .expect("vkey");
    let (c, _) = signed(&app, &vkey, 1).await;
    let bundle = app
        .get(&format!("/log/{}", entries_path(0, c.size)), None)
        .await
        .bytes()
        .await
        .expect("bundle");
    let entries = parse_entry_bundle(&bundle).expect("bundle");
    assert!(
        entries
            .iter()
            .any(|e| String::from_utf8_lossy(e).contains("\"action\":\"tier.set\""))
    );
}
