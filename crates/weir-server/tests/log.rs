//! The transparency log over HTTP: checkpoints signed by the vkey, tiles and entry bundles that
//! rebuild the signed root, proofs that verify, consistency between checkpoints, and entries that
//! hold no names.

use crate::common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use weir_core::{Event, Scope};
use weir_tlog::checkpoint::Checkpoint;
use weir_tlog::merkle::{MemoryTree, leaf_hash, verify_consistency};
use weir_tlog::note::Verifier;
use weir_tlog::proof::ProofFile;
use weir_tlog::tiles::{entries_path, parse_entry_bundle, tiles_for};

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

/// Every sequenced entry of the transparency log, as text (the proof routes sequence first).
pub async fn log_text(app: &TestApp) -> Vec<String> {
    let size = app.store.db.log_state().await.expect("state").size;
    app.store
        .db
        .log_entries(0, size)
        .await
        .expect("entries")
        .into_iter()
        .map(|e| String::from_utf8(e).expect("utf8"))
        .collect()
}

/// F4a: a private repo never appears in the transparency log by name, whatever happens to it
/// (tier set, release, classification); its release entry is sealed and opens for those who
/// may see it, and for no one else.
#[tokio::test]
async fn private_repos_never_reach_the_log_by_name() {
    let app = TestApp::new().await;
    let bob = app.user("bob", Scope::Write).await;
    let carol = app.user("carol", Scope::Read).await;
    app.repo("bob/hidden-thing", true).await;
    app.repo("bob/open-thing", false).await;
    for repo in ["bob/hidden-thing", "bob/open-thing"] {
        assert_eq!(
            app.commit(repo, "main", &bob, &[("config.json", b"{}")])
                .await
                .status(),
            StatusCode::OK
        );
        let r = app
            .req(
                Method::PUT,
                &format!("/api/v1/repos/{repo}/tier"),
                Some(&bob),
            )
            .json(&json!({"tier": "T1"}))
            .send()
            .await
            .expect("tier");
        assert_eq!(r.status(), StatusCode::OK, "{repo}");
        let r = app
            .req(
                Method::POST,
                &format!("/api/v1/repos/{repo}/releases"),
                Some(&bob),
            )
            .json(&json!({"revision": "main"}))
            .send()
            .await
            .expect("release");
        assert_eq!(r.status(), StatusCode::CREATED, "{repo}");
    }
    // The proofs sequence the log.
    for repo in ["bob/hidden-thing", "bob/open-thing"] {
        let r = app
            .get(
                &format!("/api/v1/models/{repo}/releases/main/model.sig.tlog-proof"),
                Some(&bob),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{repo}");
    }
    let entries = log_text(&app).await;
    assert!(entries.iter().any(|e| e.contains("bob/open-thing")));
    for e in &entries {
        assert!(
            !e.contains("hidden-thing"),
            "a private repo is named in the log: {e}"
        );
    }
    // The sealed release entry opens with the opening bob may fetch...
    let proof = app
        .get(
            "/api/v1/models/bob/hidden-thing/releases/main/model.sig.tlog-proof",
            Some(&bob),
        )
        .await
        .text()
        .await
        .expect("proof");
    let entry = weir_tlog::proof::ProofFile::parse(&proof)
        .expect("proof")
        .extra
        .expect("extra");
    let entry: Value = serde_json::from_slice(&entry).expect("entry");
    assert_eq!(entry["private"], true);
    let r = app
        .get(
            "/api/v1/models/bob/hidden-thing/releases/main/model.sig.tlog-opening",
            Some(&bob),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let opening: weir_core::event::Opening = r.json().await.expect("opening");
    assert!(opening.opens(&entry));
    assert_eq!(opening.public["repo"], "bob/hidden-thing");
    // ...and is missing for an outsider, exactly like a missing repo.
    let hidden = app
        .get(
            "/api/v1/models/bob/hidden-thing/releases/main/model.sig.tlog-opening",
            Some(&carol),
        )
        .await;
    let missing = app
        .get(
            "/api/v1/models/bob/no-such-thing/releases/main/model.sig.tlog-opening",
            Some(&carol),
        )
        .await;
    assert_eq!(hidden.status(), missing.status());
    let (h, m): (Value, Value) = (
        hidden.json().await.expect("json"),
        missing.json().await.expect("json"),
    );
    assert_eq!(
        h["error"], m["error"],
        "private and missing answer alike: {h} vs {m}"
    );
    // A public repo's entry needs no opening.
    let r = app
        .get(
            "/api/v1/models/bob/open-thing/releases/main/model.sig.tlog-opening",
            Some(&bob),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

/// F5: the unauthenticated cosignature route stores exactly one verified line from a registered
/// witness, re-serialized; extra lines and lines under the log's own name never reach the
/// checkpoint, which keeps opening under the log's key.
#[tokio::test]
async fn cosignatures_cannot_break_log_verification() {
    let app = TestApp::new().await;
    let witness = weir_tlog::note::Signer::from_seed("witness.example", [9; 32]).expect("key");
    let cosigner =
        weir_tlog::checkpoint::Cosigner::new("witness.example", witness.verifier_public())
            .expect("cosigner");
    app.store
        .db
        .add_witness_logged(
            "witness.example",
            &cosigner.vkey(),
            &crate::common::admin_event("add_witness"),
        )
        .await
        .expect("witness");
    // Something to log, so there is a signed checkpoint.
    app.user("alice", Scope::Write).await;
    app.repo("alice/m", false).await;
    // Cosign the checkpoint that will still be served when the line arrives.
    let checkpoint = app.settled_checkpoint().await;
    let body = checkpoint
        .split_once("\n\n")
        .map(|(b, _)| format!("{b}\n"))
        .unwrap_or_else(|| panic!("no checkpoint: {checkpoint}"));
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs();
    let good = weir_tlog::checkpoint::cosign(&body, &witness, ts).line();
    let log_origin = weir_registry::settings::log_origin(&app.url);
    let forged = format!(
        "— {log_origin} AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
    );
    let post = |line: String| {
        let app = &app;
        async move {
            app.req(Method::POST, "/api/v1/log/cosignatures", None)
                .json(&json!({"line": line}))
                .send()
                .await
                .expect("send")
        }
    };
    // A forged line under the log's name in front of a valid one: refused whole.
    let r = post(format!("{forged}{good}")).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // A line under the log's own name alone: refused.
    let r = post(forged.clone()).await;
    assert!(r.status().is_client_error());
    // The valid line: accepted, and served exactly as the verified signature re-serializes.
    let r = post(good.clone()).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "{}",
        r.text().await.unwrap_or_default()
    );
    let served = app
        .get("/log/checkpoint", None)
        .await
        .text()
        .await
        .expect("cp");
    assert!(served.ends_with(&good), "{served}");
    assert!(!served.contains("AAAAAAAA"));
    let log = weir_tlog::note::Verifier::parse(
        app.get("/log/vkey", None)
            .await
            .text()
            .await
            .expect("vkey")
            .trim(),
    )
    .expect("vkey");
    weir_tlog::checkpoint::Checkpoint::open(&served, &log).expect("the checkpoint still opens");
    let parsed = weir_tlog::note::Note::parse(&served).expect("note");
    assert_eq!(parsed.signatures.len(), 2);
}

/// F17: a tile index near u64::MAX is a 404, never an overflow, a 500 or an empty 200.
#[tokio::test]
async fn huge_tile_indexes_are_not_found() {
    let app = TestApp::new().await;
    app.user("alice", Scope::Write).await;
    for path in [
        "/log/tile/0/x072/x057/x594/x037/x927/935",
        "/log/tile/entries/x072/x057/x594/x037/x927/935",
        "/log/tile/1/x072/x057/x594/x037/x927/935.p/7",
    ] {
        let r = app.get(path, None).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(
            r.headers()
                .get("cache-control")
                .is_none_or(|v| !v.to_str().unwrap_or("").contains("immutable"))
        );
    }
}
