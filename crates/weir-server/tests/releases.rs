//! Releases over HTTP: who may release, the bundle verifies with the served key, the proof file
//! verifies offline against the log key and names this bundle.

use crate::common::TestApp;
use crate::evals::{card, tier};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use weir_core::{Scope, Tier};
use weir_signing::model_signing::verify_bundle;
use weir_tlog::note::Verifier;
use weir_tlog::proof::ProofFile;

#[tokio::test]
async fn release_sign_prove_and_refuse() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let bob = app.user("bob", Scope::Write).await;
    app.repo("alice/m", false).await;
    assert_eq!(
        app.commit(
            "alice/m",
            "main",
            &alice,
            &[("config.json", b"{}"), ("w.bin", b"weights")]
        )
        .await
        .status(),
        StatusCode::OK
    );
    let r = app
        .get("/api/v1/models/alice/m/releases/main/model.sig", None)
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let post = |token: String| {
        let app = &app;
        async move {
            app.req(Method::POST, "/api/v1/repos/alice/m/releases", Some(&token))
                .json(&json!({"revision": "main"}))
                .send()
                .await
                .expect("send")
        }
    };
    assert_eq!(post(bob.clone()).await.status(), StatusCode::FORBIDDEN);
    let r = post(alice.clone()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["files"], 2, ".gitattributes is not part of the manifest");
    assert_eq!(post(alice.clone()).await.status(), StatusCode::CONFLICT);

    let bundle = app
        .get("/api/v1/models/alice/m/releases/main/model.sig", None)
        .await
        .text()
        .await
        .expect("bundle");
    let pem = app
        .get("/api/v1/keys/release.pub.pem", None)
        .await
        .text()
        .await
        .expect("pem");
    let verified = verify_bundle(&bundle, &pem).expect("bundle verifies");
    let names: Vec<&str> = verified.resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["config.json", "w.bin"]);
    assert_eq!(
        hex::encode(verified.resources[1].sha256),
        hex::encode(Sha256::digest(b"weights"))
    );

    let proof = app
        .get(
            "/api/v1/models/alice/m/releases/main/model.sig.tlog-proof",
            None,
        )
        .await
        .text()
        .await
        .expect("proof");
    let p = ProofFile::parse(&proof).expect("proof parses");
    let vkey = Verifier::parse(
        app.get("/log/vkey", None)
            .await
            .text()
            .await
            .expect("vkey")
            .trim(),
    )
    .expect("vkey");
    let entry = p.extra.clone().expect("entry");
    p.verify(&entry, &vkey).expect("inclusion verifies offline");
    let e: Value = serde_json::from_slice(&entry).expect("entry json");
    assert_eq!(e["action"], "release");
    assert_eq!(
        e["public"]["bundle_sha256"],
        hex::encode(Sha256::digest(bundle.as_bytes()))
    );
    assert_eq!(e["public"]["repo"], "alice/m");
}

#[tokio::test]
async fn the_release_gate_refuses_a_revision_below_its_minimum_naming_the_rule() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let op = app.user("op", Scope::Admin).await;
    app.repo("alice/m", false).await;
    app.commit(
        "alice/m",
        "main",
        &alice,
        &[("README.md", &card("3e25", ""))],
    )
    .await;
    let old = app.head_of("alice/m", "main").await;
    assert_eq!(tier(&app, "alice/m").await, Tier::T2);
    // The card is corrected; an operator lowers the tier (with a reason) to the new floor.
    app.commit(
        "alice/m",
        "main",
        &alice,
        &[("README.md", &card("2e24", ""))],
    )
    .await;
    let r = app
        .req(Method::PUT, "/api/v1/repos/alice/m/tier", Some(&op))
        .json(&json!({"tier": "T0", "reason": "compute was misreported"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    let release = |rev: String| {
        let app = &app;
        let alice = alice.clone();
        async move {
            app.req(Method::POST, "/api/v1/repos/alice/m/releases", Some(&alice))
                .json(&json!({"revision": rev}))
                .send()
                .await
                .expect("send")
        }
    };
    let r = release(old).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"], "below_policy_minimum");
    let msg = v["message"].as_str().expect("message");
    assert!(
        msg.contains("requires at least T2") && msg.contains("rule compute_presumption"),
        "{msg}"
    );
    assert_eq!(release("main".into()).await.status(), StatusCode::CREATED);
}

/// `os.system("id")` as `pickle.dumps` writes it at protocol 2 (a `GLOBAL` import).
pub const HOSTILE_PICKLE: &[u8] =
    b"\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.";
/// A state dict's pickle as `torch.save` writes it (tensor rebuilding only).
pub const BENIGN_PICKLE: &[u8] = b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01(X\x01\x00\x00\x00wq\x02ctorch._utils\n_rebuild_tensor_v2\nq\x03(X\x01\x00\x00\x000ctorch\nFloatStorage\nK\x00tRq\x04u.";

#[tokio::test]
async fn a_release_holding_a_dangerous_pickle_is_refused_naming_the_file_and_its_import() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/m", false).await;
    // Renamed, the pickle is still found by its first bytes.
    for path in [
        "pytorch_model.bin",
        "weights.dat",
        "model.safetensors.index",
    ] {
        let r = app
            .commit("alice/m", "main", &alice, &[(path, HOSTILE_PICKLE)])
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let (s, v) = app.release("alice/m", &alice).await;
        assert_eq!(s, StatusCode::CONFLICT, "{path}");
        assert_eq!(v["error"], "unsafe_serialization", "{v}");
        let m = v["message"].as_str().unwrap_or_default();
        assert!(m.contains(path) && m.contains("posix.system"), "{m}");
        assert!(
            v["next"]
                .as_str()
                .unwrap_or_default()
                .contains("safetensors"),
            "{v}"
        );
        let del = json!({"key": "deletedFile", "value": {"path": path}});
        let body = format!(
            "{}\n{del}",
            json!({"key": "header", "value": {"summary": "rm"}})
        );
        assert_eq!(
            app.raw_commit("alice/m", "main", &alice, body)
                .await
                .status(),
            StatusCode::OK
        );
    }
    // The same weights saved without code release.
    app.commit(
        "alice/m",
        "main",
        &alice,
        &[("pytorch_model.bin", BENIGN_PICKLE)],
    )
    .await;
    assert_eq!(app.release("alice/m", &alice).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn an_operator_may_allow_unsafe_serialization_in_the_policy_and_refuse_suspicious_files() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/m", false).await;
    app.repo("alice/n", false).await;
    app.commit("alice/m", "main", &alice, &[("a.pkl", HOSTILE_PICKLE)])
        .await;
    // Imports outside the safe list: allowed by default, refusable.
    app.commit(
        "alice/n",
        "main",
        &alice,
        &[("b.pkl", b"\x80\x02cmylib\nNet\n)R.")],
    )
    .await;
    let text = weir_core::policy::DEFAULT_POLICY
        .replace(
            "unsafe_serialization = \"refuse\"",
            "unsafe_serialization = \"allow\"",
        )
        .replace(
            "suspicious_serialization = \"allow\"",
            "suspicious_serialization = \"refuse\"",
        );
    let signer = weir_tlog::note::Signer::from_seed("weir.test/log", [9; 32]).expect("signer");
    weir_registry::policy::set(
        &app.store,
        &signer,
        &text,
        &weir_registry::Context::default(),
        1_800_000_000,
    )
    .await
    .expect("policy");
    assert_eq!(app.release("alice/m", &alice).await.0, StatusCode::CREATED);
    let (s, v) = app.release("alice/n", &alice).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(
        v["message"]
            .as_str()
            .unwrap_or_default()
            .contains("b.pkl is suspicious (imports mylib.Net)"),
        "{v}"
    );
}

#[tokio::test]
async fn bytes_first_committed_under_another_name_are_scanned_when_a_pickle_name_commits_them() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/m", false).await;
    // A protocol-0 pickle has no PROTO opcode to sniff: under a safetensors name it is not
    // scanned, and the facts read for that name must not vouch for it under a pickle name.
    let p0: &[u8] = b"cposix\nsystem\n(S'id'\ntR.";
    app.commit("alice/m", "main", &alice, &[("a.safetensors", p0)])
        .await;
    app.commit("alice/m", "main", &alice, &[("b.bin", p0)])
        .await;
    let (s, v) = app.release("alice/m", &alice).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(
        v["message"]
            .as_str()
            .unwrap_or_default()
            .contains("b.bin is unsafe"),
        "{v}"
    );
}

#[tokio::test]
async fn a_file_the_scan_cannot_finish_is_refused_unless_the_policy_allows_it() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/m", false).await;
    // A truncated pickle: Python would run what it read before failing.
    app.commit(
        "alice/m",
        "main",
        &alice,
        &[("model.pkl", &BENIGN_PICKLE[..BENIGN_PICKLE.len() - 3])],
    )
    .await;
    let (s, v) = app.release("alice/m", &alice).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(
        v["message"]
            .as_str()
            .unwrap_or_default()
            .contains("model.pkl is suspicious (the scan could not finish: truncated)"),
        "{v}"
    );
}
