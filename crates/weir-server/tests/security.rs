//! Regression tests for the outside security review: each attack as an ordinary account would run
//! it, then the right answer (status, error code, nothing stored, nothing leaked).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::{Scope, Tier};

use crate::access::set_tier;
use crate::common::{TestApp, sha256_hex};

/// An LFS commit line for `path` naming `oid`.
fn lfs_commit(path: &str, oid: &str, size: usize) -> String {
    format!(
        "{}\n{}",
        json!({"key": "header", "value": {"summary": "claim"}}),
        json!({"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": oid, "size": size}})
    )
}

/// bob owns `bob/secret` with a weight file uploaded through LFS, at `tier`; alice has her own
/// writable repo `alice/mine`. Returns (app, alice's write token, the weights).
async fn victim_and_attacker(tier: Tier, private: bool) -> (TestApp, String, Vec<u8>) {
    let app = TestApp::new().await;
    let bob = app.user("bob", Scope::Write).await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("bob/secret", private).await;
    app.repo("alice/mine", false).await;
    let weights: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
    assert_eq!(
        app.lfs_upload("bob/secret", &bob, weights.clone()).await,
        StatusCode::OK
    );
    let r = app
        .raw_commit(
            "bob/secret",
            "main",
            &bob,
            lfs_commit("model.safetensors", &sha256_hex(&weights), weights.len()),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "{}",
        r.text().await.unwrap_or_default()
    );
    set_tier(&app, "bob/secret", tier).await;
    (app, alice, weights)
}

/// F1: knowing the SHA-256 of another repo's weights (it is public in manifests and trees) does
/// not let a commit reference them; the answer is the same as for bytes stored nowhere.
#[tokio::test]
async fn a_commit_cannot_claim_another_repos_blob_by_hash() {
    for (tier, private) in [
        (Tier::T2, false),
        (Tier::T3, false),
        (Tier::T4, false),
        (Tier::T0, true),
    ] {
        let (app, alice, weights) = victim_and_attacker(tier, private).await;
        let oid = sha256_hex(&weights);
        let before = app.head_of("alice/mine", "main").await;

        // The batch endpoint asks for the bytes (never "already present" for a foreign blob).
        let batch = app
            .lfs_batch(
                "alice/mine",
                &alice,
                json!([{"oid": oid, "size": weights.len()}]),
            )
            .await;
        assert!(
            batch["objects"][0]["actions"]["upload"]["href"].is_string(),
            "{tier:?}: batch must ask for an upload: {batch}"
        );
        // ...exactly as for an unknown hash.
        let ghost = "ab".repeat(32);
        let ghost_batch = app
            .lfs_batch(
                "alice/mine",
                &alice,
                json!([{"oid": ghost, "size": weights.len()}]),
            )
            .await;
        assert_eq!(
            batch["objects"][0]
                .as_object()
                .map(|o| o.keys().collect::<Vec<_>>()),
            ghost_batch["objects"][0]
                .as_object()
                .map(|o| o.keys().collect::<Vec<_>>()),
        );

        // The LFS verify call does not confirm the foreign object either.
        let r = app
            .req(Method::POST, "/api/lfs/verify/alice/mine", Some(&alice))
            .json(&json!({"oid": oid, "size": weights.len()}))
            .send()
            .await
            .expect("verify");
        assert_eq!(r.status(), StatusCode::NOT_FOUND);

        // The commit line naming it is refused, with the same answer as for a ghost hash.
        let r = app
            .raw_commit(
                "alice/mine",
                "main",
                &alice,
                lfs_commit("stolen.safetensors", &oid, weights.len()),
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{tier:?}");
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["error"], "not_uploaded");
        let r = app
            .raw_commit(
                "alice/mine",
                "main",
                &alice,
                lfs_commit("stolen.safetensors", &ghost, weights.len()),
            )
            .await;
        let ghost_body: Value = r.json().await.expect("json");
        assert_eq!(
            body["message"].as_str().map(|m| m.replace(&oid, "OID")),
            ghost_body["message"]
                .as_str()
                .map(|m| m.replace(&ghost, "OID"))
        );
        // Without a size, too.
        let line = format!(
            "{}\n{}",
            json!({"key": "header", "value": {"summary": "claim"}}),
            json!({"key": "lfsFile", "value": {"path": "s.bin", "algo": "sha256", "oid": oid}})
        );
        let r = app.raw_commit("alice/mine", "main", &alice, line).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

        // Nothing moved; the stolen path does not resolve.
        assert_eq!(app.head_of("alice/mine", "main").await, before);
        let r = app
            .get("/alice/mine/resolve/main/stolen.safetensors", None)
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
}

/// F1: small regular files of another repo (their git and SHA-256 ids are public in trees) and
/// blobs that no repo possesses (raw evaluation logs, incident attachments) are not claimable.
#[tokio::test]
async fn regular_files_and_unowned_blobs_are_not_claimable() {
    let app = TestApp::new().await;
    let bob = app.user("bob", Scope::Write).await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("bob/private", true).await;
    app.repo("alice/mine", false).await;
    let secret = b"the private config of bob\n";
    assert_eq!(
        app.commit("bob/private", "main", &bob, &[("config.json", secret)])
            .await
            .status(),
        StatusCode::OK
    );
    let r = app
        .raw_commit(
            "alice/mine",
            "main",
            &alice,
            lfs_commit("config.json", &sha256_hex(secret), secret.len()),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // A blob stored outside any commit (as raw evaluation logs and attachments are).
    let (sha, size) = app
        .store
        .ingest_bytes(b"raw evaluation log".to_vec().into())
        .await
        .expect("ingest");
    let r = app
        .raw_commit(
            "alice/mine",
            "main",
            &alice,
            lfs_commit("log.json", sha.as_str(), size as usize),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// Possession is real possession: after uploading the same bytes herself, alice may commit them
/// (content addressing still stores them once), and the repo's own files stay referenceable.
#[tokio::test]
async fn uploading_the_bytes_yourself_is_possession() {
    let (app, alice, weights) = victim_and_attacker(Tier::T3, false).await;
    let oid = sha256_hex(&weights);
    assert_eq!(
        app.lfs_upload("alice/mine", &alice, weights.clone()).await,
        StatusCode::OK
    );
    let r = app
        .raw_commit(
            "alice/mine",
            "main",
            &alice,
            lfs_commit("model.safetensors", &oid, weights.len()),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // Now the batch endpoint may say "present" for alice's repo.
    let batch = app
        .lfs_batch(
            "alice/mine",
            &alice,
            json!([{"oid": oid, "size": weights.len()}]),
        )
        .await;
    assert!(batch["objects"][0].get("actions").is_none(), "{batch}");
    // A later commit may re-add a file already in the repo's history.
    let r = app
        .raw_commit(
            "alice/mine",
            "main",
            &alice,
            lfs_commit("copy/model.safetensors", &oid, weights.len()),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

/// An export of acme/gated (T3) by carol (accredited, member of lab), approved by two operators.
/// Returns (app, carol's token, export id, the two operators' tokens).
async fn approved_export() -> (TestApp, String, i64, String, String) {
    use crate::access::{post, set_level, setup};
    use weir_core::{IdentityLevel, Name};
    let (app, _, carol) = setup(Tier::T3).await;
    app.org("lab", &["carol"]).await;
    set_level(&app, "carol", IdentityLevel::Accredited, None).await;
    let mut ops = Vec::new();
    for n in ["rev1", "rev2"] {
        let n = Name::parse(n).expect("n");
        app.store
            .db
            .create_user(&n, None, true)
            .await
            .expect("user");
        ops.push(
            app.store
                .db
                .create_token(&n, Scope::Admin, "t")
                .await
                .expect("token"),
        );
    }
    let r = post(
        &app,
        "/api/v1/repos/acme/gated/exports",
        &carol,
        json!({"org": "lab", "purpose": "custody"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.expect("json")["id"]
        .as_i64()
        .expect("id");
    let (rev2, rev1) = (ops.pop().expect("op"), ops.pop().expect("op"));
    (app, carol, id, rev1, rev2)
}

async fn export_step(app: &TestApp, id: i64, step: &str, token: &str) -> crate::common::Response {
    app.req(
        Method::POST,
        &format!("/api/v1/exports/{id}/{step}"),
        Some(token),
    )
    .send()
    .await
    .expect("send")
}

async fn approve_both(app: &TestApp, id: i64, rev1: &str, rev2: &str) {
    assert_eq!(
        export_step(app, id, "approve", rev1).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        export_step(app, id, "approve", rev2).await.status(),
        StatusCode::OK
    );
}

async fn issue_link(app: &TestApp, id: i64, carol: &str) -> String {
    let r = export_step(app, id, "link", carol).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.expect("json")["url"]
        .as_str()
        .expect("url")
        .to_string()
}

async fn error_code(r: crate::common::Response) -> (StatusCode, String) {
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    let code = v["reason"]
        .as_str()
        .or(v["error"].as_str())
        .unwrap_or("")
        .to_string();
    (status, code)
}

/// F2: a repo raised to T4 after the request, after the approvals or after the link: no step
/// hands out its weights, and a spent link does not come back.
#[tokio::test]
async fn custodial_export_never_hands_out_t4() {
    // Raised after the request: approvals are refused.
    let (app, _carol, id, rev1, _rev2) = approved_export().await;
    set_tier(&app, "acme/gated", Tier::T4).await;
    let (status, code) = error_code(export_step(&app, id, "approve", &rev1).await).await;
    assert_eq!(
        (status.is_client_error(), code.as_str()),
        (true, "not_exportable")
    );

    // Raised after the approvals: no link.
    let (app, carol, id, rev1, rev2) = approved_export().await;
    approve_both(&app, id, &rev1, &rev2).await;
    set_tier(&app, "acme/gated", Tier::T4).await;
    let (_, code) = error_code(export_step(&app, id, "link", &carol).await).await;
    assert_eq!(code, "not_exportable");

    // Raised after the link was issued: the download is refused, logged, and the link is spent.
    let (app, carol, id, rev1, rev2) = approved_export().await;
    approve_both(&app, id, &rev1, &rev2).await;
    let url = issue_link(&app, id, &carol).await;
    set_tier(&app, "acme/gated", Tier::T4).await;
    let r = app
        .req(Method::GET, &url, None)
        .send()
        .await
        .expect("download");
    assert!(r.status().is_client_error());
    assert_eq!(error_code(r).await.1, "not_exportable");
    set_tier(&app, "acme/gated", Tier::T3).await;
    let r = app
        .req(Method::GET, &url, None)
        .send()
        .await
        .expect("again");
    assert_eq!(error_code(r).await.1, "link_used");
    let events = app.store.db.events(None, 1000).await.expect("events");
    assert!(
        events.iter().any(|(_, e)| e.action == "export.download"
            && e.decision == "deny"
            && e.reason == "not_exportable"),
        "the refused download is an audit event"
    );
}

/// F3: a requester demoted after the approvals (level lowered, attestation lapsed, left the
/// organization) receives nothing.
#[tokio::test]
async fn custodial_export_follows_the_requester_as_they_are_now() {
    use crate::access::set_level;
    use weir_core::{IdentityLevel, Name};
    // Level lowered after the link was issued.
    let (app, carol, id, rev1, rev2) = approved_export().await;
    approve_both(&app, id, &rev1, &rev2).await;
    let url = issue_link(&app, id, &carol).await;
    set_level(&app, "carol", IdentityLevel::Identified, None).await;
    let r = app
        .req(Method::GET, &url, None)
        .send()
        .await
        .expect("download");
    assert_eq!(error_code(r).await.1, "identity_level");

    // Left the organization after the approvals: no link; and before the approvals: none.
    let (app, carol, id, rev1, rev2) = approved_export().await;
    approve_both(&app, id, &rev1, &rev2).await;
    let lab = Name::parse("lab").expect("n");
    let carol_name = Name::parse("carol").expect("n");
    assert!(
        app.store
            .db
            .remove_member(&lab, &carol_name)
            .await
            .expect("db")
    );
    let (_, code) = error_code(export_step(&app, id, "link", &carol).await).await;
    assert_eq!(code, "not_member");

    let (app, _carol, id, rev1, _) = approved_export().await;
    set_level(&app, "carol", IdentityLevel::Account, None).await;
    let (_, code) = error_code(export_step(&app, id, "approve", &rev1).await).await;
    assert_eq!(code, "identity_level");

    // Left the organization after the link: the download is refused.
    let (app, carol, id, rev1, rev2) = approved_export().await;
    approve_both(&app, id, &rev1, &rev2).await;
    let url = issue_link(&app, id, &carol).await;
    assert!(
        app.store
            .db
            .remove_member(&lab, &carol_name)
            .await
            .expect("db")
    );
    let r = app
        .req(Method::GET, &url, None)
        .send()
        .await
        .expect("download");
    assert_eq!(error_code(r).await.1, "not_member");
}

/// Every sequenced entry of the transparency log, as text (the proof routes sequence first).
async fn log_text(app: &TestApp) -> Vec<String> {
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

/// F4b: a derivative's card naming a private base model neither inherits its tier (an oracle
/// for its existence and tier) nor documents it: it answers exactly like a missing base.
#[tokio::test]
async fn private_base_models_are_missing_to_outsiders() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let bob = app.user("bob", Scope::Write).await;
    app.repo("bob/secret-base", true).await;
    set_tier(&app, "bob/secret-base", Tier::T3).await;
    let card = |base: &str| {
        format!("---\nlicense: apache-2.0\nbase_model: {base}\n---\n# Derivative\n").into_bytes()
    };
    app.repo("alice/from-private", false).await;
    app.repo("alice/from-missing", false).await;
    for (repo, base) in [
        ("alice/from-private", "bob/secret-base"),
        ("alice/from-missing", "bob/never-existed"),
    ] {
        assert_eq!(
            app.commit(repo, "main", &alice, &[("README.md", &card(base))])
                .await
                .status(),
            StatusCode::OK
        );
    }
    let tier = |repo: &'static str| {
        let app = &app;
        let alice = alice.clone();
        async move {
            app.json(
                &format!("/api/v1/models/{repo}/classification"),
                Some(&alice),
            )
            .await["minimum_tier"]
                .clone()
        }
    };
    assert_eq!(
        tier("alice/from-private").await,
        tier("alice/from-missing").await
    );
    let t = app
        .store
        .db
        .repo(&weir_core::RepoId::parse("alice/from-private").expect("id"))
        .await
        .expect("db")
        .expect("repo")
        .tier;
    assert_eq!(
        t,
        Tier::T0,
        "the private parent's tier leaked into the derivative"
    );
    let doc = |repo: &'static str| {
        let app = &app;
        let alice = alice.clone();
        async move {
            app.json(
                &format!("/api/v1/models/{repo}/documentation"),
                Some(&alice),
            )
            .await
            .to_string()
        }
    };
    let private_doc = doc("alice/from-private").await;
    assert!(
        !private_doc.contains("\"in_registry\":true"),
        "{private_doc}"
    );
    assert!(!private_doc.contains("T3"), "{private_doc}");
    // bob, who can see his own base, may derive from it in his own namespace and inherits.
    app.repo("bob/own-derivative", false).await;
    app.commit(
        "bob/own-derivative",
        "main",
        &bob,
        &[("README.md", &card("bob/secret-base"))],
    )
    .await;
    let t = app
        .store
        .db
        .repo(&weir_core::RepoId::parse("bob/own-derivative").expect("id"))
        .await
        .expect("db")
        .expect("repo")
        .tier;
    assert_eq!(t, Tier::T3);
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
    let checkpoint = app
        .get("/log/checkpoint", None)
        .await
        .text()
        .await
        .expect("cp");
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

async fn incident_post(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    followup: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut rb = app.req(Method::POST, path, token).json(&body);
    if let Some(f) = followup {
        rb = rb.header("x-weir-followup", f);
    }
    let r = rb.send().await.expect("send");
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

fn a_report(extra: Value) -> Value {
    let mut v = json!({
        "repo": "alice/m", "kind": "incident", "class": "cyber",
        "summary": "writes exploit chains", "domain": "cyber",
    });
    if let (Some(m), Value::Object(e)) = (v.as_object_mut(), extra) {
        m.extend(e);
    }
    v
}

/// F6: once an operator confirmed an incident (and held deliveries), the reporter's follow-up
/// token cannot withdraw it; only an operator closes it, as rejected with a reason. The reporter
/// may still add notes.
#[tokio::test]
async fn a_reporter_cannot_lift_an_operators_hold() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let op = app.user("op", Scope::Admin).await;
    app.repo("alice/m", false).await;
    app.commit("alice/m", "main", &alice, &[("w.bin", b"weights")])
        .await;
    let v1 = app.head_of("alice/m", "main").await;
    let (s, v) = incident_post(&app, "/api/v1/incidents", None, None, a_report(json!({}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().expect("id").to_string();
    let token = v["followup_token"].as_str().expect("token").to_string();
    let path = format!("/api/v1/incidents/{id}/transition");
    let (s, _) = incident_post(
        &app,
        &path,
        Some(&op),
        None,
        json!({"to": "triaged", "severity": "high", "reason": "reproduced"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = incident_post(
        &app,
        &path,
        Some(&op),
        None,
        json!({"to": "confirmed", "reason": "confirmed", "hold": true}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let held = app.get(&format!("/alice/m/resolve/{v1}/w.bin"), None).await;
    assert_eq!(held.status(), StatusCode::FORBIDDEN);

    // The follow-up token alone cannot withdraw it.
    let (s, v) = incident_post(
        &app,
        &path,
        None,
        Some(&token),
        json!({"to": "withdrawn", "reason": "never mind"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let still = app.get(&format!("/alice/m/resolve/{v1}/w.bin"), None).await;
    assert_eq!(still.status(), StatusCode::FORBIDDEN, "the hold must stay");
    // Nor can the publisher reject it or close it.
    for to in ["rejected", "withdrawn"] {
        let (s, _) = incident_post(
            &app,
            &path,
            Some(&alice),
            None,
            json!({"to": to, "reason": "not a bug"}),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "publisher → {to}");
    }
    // The reporter may add a note.
    let (s, v) = incident_post(
        &app,
        &format!("/api/v1/incidents/{id}/updates"),
        None,
        Some(&token),
        json!({"note": "more details: it also works on v2"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // An operator closes it, as rejected with a reason: the hold lifts.
    let (s, v) = incident_post(
        &app,
        &path,
        Some(&op),
        None,
        json!({"to": "rejected", "reason": "could not reproduce on re-test"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let open = app.get(&format!("/alice/m/resolve/{v1}/w.bin"), None).await;
    assert_eq!(open.status(), StatusCode::OK);
}

/// F9: the publisher handles reports about its own models but does not decide disclosure facts
/// (in the wild, embargo) nor learn who reported unless the reporter agreed.
#[tokio::test]
async fn publishers_do_not_judge_their_own_incidents() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let dave = app.user("dave", Scope::Read).await;
    let erin = app.user("erin", Scope::Read).await;
    let op = app.user("op", Scope::Admin).await;
    app.repo("alice/m", false).await;
    app.commit("alice/m", "main", &alice, &[("w.bin", b"weights")])
        .await;
    // A signed-in reporter claiming exploitation in the wild: recorded, not decided.
    let (s, v) = incident_post(
        &app,
        "/api/v1/incidents",
        Some(&dave),
        None,
        a_report(json!({"in_the_wild": true})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().expect("id").to_string();
    let show = |token: String| {
        let app = &app;
        let id = id.clone();
        async move {
            app.json(&format!("/api/v1/incidents/{id}"), Some(&token))
                .await
        }
    };
    let as_publisher = show(alice.clone()).await;
    assert_eq!(as_publisher["in_the_wild"], false);
    assert_eq!(as_publisher["details"]["reported_in_the_wild"], true);
    // The reporter's identity is withheld from the publisher, everywhere in the record.
    assert_eq!(as_publisher["reporter"], "withheld");
    assert!(!as_publisher.to_string().contains("dave"), "{as_publisher}");
    assert_eq!(show(op.clone()).await["reporter"], "dave");
    // Disclosure facts are the operators'.
    let path = format!("/api/v1/incidents/{id}/transition");
    let (s, _) = incident_post(
        &app,
        &path,
        Some(&alice),
        None,
        json!({"to": "triaged", "severity": "high", "reason": "looking", "in_the_wild": false}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = incident_post(&app, &path, Some(&alice), None,
        json!({"to": "triaged", "severity": "high", "reason": "looking", "embargo_until": "2030-01-01"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = incident_post(
        &app,
        &path,
        Some(&alice),
        None,
        json!({"to": "rejected", "reason": "not ours"}),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "publishers do not reject reports about their models"
    );
    let (s, v) = incident_post(
        &app,
        &path,
        Some(&alice),
        None,
        json!({"to": "triaged", "severity": "high", "reason": "looking"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "the publisher triages: {v}");
    let (s, _) = incident_post(
        &app,
        &path,
        Some(&op),
        None,
        json!({"to": "confirmed", "reason": "real", "in_the_wild": true}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(show(alice.clone()).await["in_the_wild"], true);
    assert!(!show(alice.clone()).await.to_string().contains("dave"));

    // A reporter who agrees is named to the publisher.
    let (_, v) = incident_post(
        &app,
        "/api/v1/incidents",
        Some(&erin),
        None,
        a_report(json!({"share_identity": true})),
    )
    .await;
    let id2 = v["id"].as_str().expect("id").to_string();
    let v = app
        .json(&format!("/api/v1/incidents/{id2}"), Some(&alice))
        .await;
    assert_eq!(v["reporter"], "erin");
}

async fn repo_tier(app: &TestApp, repo: &str) -> Tier {
    app.store
        .db
        .repo(&weir_core::RepoId::parse(repo).expect("id"))
        .await
        .expect("db")
        .expect("repo")
        .tier
}

/// F8: a read token cannot freeze a public model. Evidence from an ordinary account waits for
/// an operator's triage (operators and the publisher are notified, a deadline is shown) and
/// changes nothing; confirmed, it raises the tier; dismissed, the tier falls back to the
/// publisher's choice. Filing is rate-limited per account.
#[tokio::test]
async fn evidence_from_an_ordinary_account_waits_for_triage() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let carol = app.user("carol", Scope::Read).await;
    let op = app.user("op", Scope::Admin).await;
    app.store
        .db
        .create_user(&weir_core::Name::parse("op2").expect("n"), None, true)
        .await
        .expect("op2");
    app.repo("alice/m", false).await;
    app.commit("alice/m", "main", &alice, &[("config.json", b"{}")])
        .await;
    let file = |token: String, domain: &'static str| {
        let app = &app;
        async move {
            let r = app
                .req(
                    Method::POST,
                    "/api/v1/models/alice/m/evidence",
                    Some(&token),
                )
                .json(&json!({"domain": domain, "summary": "it answers uplift questions"}))
                .send()
                .await
                .expect("send");
            let s = r.status();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (s, v) = file(carol.clone(), "bio").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["state"], "pending_triage");
    assert!(v["triage_due"].is_string());
    assert_eq!(v["triage_overdue"], false);
    assert_eq!(v["tier"], json!({"before": "T0", "after": "T0"}));
    assert_eq!(
        repo_tier(&app, "alice/m").await,
        Tier::T0,
        "one read token froze the model"
    );
    let c = app
        .json("/api/v1/models/alice/m/classification", None)
        .await;
    assert_eq!(c["minimum_tier"], "T0");
    // Operators and the publisher were notified.
    for who in ["op", "op2", "alice"] {
        let n = app
            .store
            .db
            .notifications(who)
            .await
            .expect("notifications");
        assert!(
            n.iter().any(|n| n.message.contains("awaiting triage")),
            "{who} was not notified"
        );
    }
    assert!(
        app.store
            .db
            .notifications("carol")
            .await
            .expect("n")
            .is_empty()
    );
    let id = v["id"].as_i64().expect("id");

    // The publisher cannot triage it, and is pointed at the real command.
    let review = |token: String, body: Value| {
        let app = &app;
        async move {
            let r = app
                .req(
                    Method::POST,
                    &format!("/api/v1/evidence/{id}/review"),
                    Some(&token),
                )
                .json(&body)
                .send()
                .await
                .expect("send");
            let s = r.status();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (s, v) = review(
        alice.clone(),
        json!({"decision": "dismiss", "reason": "fine"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(
        v["next"]
            .as_str()
            .is_some_and(|n| n.contains("weir evidence review")),
        "{v}"
    );
    // An operator confirms: the tier rises.
    let (s, v) = review(
        op.clone(),
        json!({"decision": "confirm", "reason": "reproduced"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(repo_tier(&app, "alice/m").await, Tier::T3);
    // On another repo: an accredited account's evidence counts at once, and when an operator
    // dismisses it the tier falls back to the publisher's choice, logged with the rule.
    app.repo("alice/n", false).await;
    app.commit("alice/n", "main", &alice, &[("config.json", b"{}")])
        .await;
    crate::access::set_level(&app, "carol", weir_core::IdentityLevel::Accredited, None).await;
    let r = app
        .req(
            Method::POST,
            "/api/v1/models/alice/n/evidence",
            Some(&carol),
        )
        .json(&json!({"domain": "chem", "summary": "accredited red team"}))
        .send()
        .await
        .expect("send");
    let v: Value = r.json().await.expect("json");
    assert_eq!(
        v["state"], "open",
        "an accredited account's evidence counts at once"
    );
    assert_eq!(repo_tier(&app, "alice/n").await, Tier::T3);
    let id2 = v["id"].as_i64().expect("id");
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/evidence/{id2}/review"),
            Some(&op),
        )
        .json(&json!({"decision": "dismiss", "reason": "not reproducible"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        repo_tier(&app, "alice/n").await,
        Tier::T0,
        "dismissed evidence: the tier falls back to the publisher's choice"
    );
    let events = app
        .store
        .db
        .events(Some("alice/n"), 100)
        .await
        .expect("events");
    assert!(
        events
            .iter()
            .any(|(_, e)| e.action == "classification.changed"
                && e.details["public"]["tier_lowered_from"] == "T3")
    );

    // Rate limit per account.
    let dave = app.user("dave", Scope::Read).await;
    for _ in 0..weir_server::limits::EVIDENCE_PER_DAY {
        let (s, _) = file(dave.clone(), "cyber").await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let (s, v) = file(dave.clone(), "cyber").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(v["error"], "rate_limited");
}

/// The effective tier is the stricter of the chosen tier and the computed minimum: a publisher
/// who chose T2 falls back to T2, not T0.
#[tokio::test]
async fn the_tier_falls_back_to_the_chosen_one_not_below() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let carol = app.user("carol", Scope::Read).await;
    let op = app.user("op", Scope::Admin).await;
    app.repo("alice/m", false).await;
    app.commit("alice/m", "main", &alice, &[("config.json", b"{}")])
        .await;
    let r = app
        .req(Method::PUT, "/api/v1/repos/alice/m/tier", Some(&alice))
        .json(&json!({"tier": "T2"}))
        .send()
        .await
        .expect("tier");
    assert_eq!(r.status(), StatusCode::OK);
    crate::access::set_level(&app, "carol", weir_core::IdentityLevel::Accredited, None).await;
    let v: Value = app
        .req(
            Method::POST,
            "/api/v1/models/alice/m/evidence",
            Some(&carol),
        )
        .json(&json!({"domain": "bio", "summary": "x"}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(repo_tier(&app, "alice/m").await, Tier::T3);
    let id = v["id"].as_i64().expect("id");
    app.req(
        Method::POST,
        &format!("/api/v1/evidence/{id}/review"),
        Some(&op),
    )
    .json(&json!({"decision": "dismiss", "reason": "no"}))
    .send()
    .await
    .expect("send");
    assert_eq!(repo_tier(&app, "alice/m").await, Tier::T2);
}

/// F14: every gated route meets the same revision-aware check: the hold of a confirmed
/// incident stops auth-check and the raw evaluation log of the held revision too. F20: the
/// denial points at a public notice the caller can read.
#[tokio::test]
async fn holds_apply_to_auth_check_and_raw_logs() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let carol = app.user("carol", Scope::Read).await;
    let op = app.user("op", Scope::Admin).await;
    app.repo("alice/m", false).await;
    app.commit("alice/m", "main", &alice, &[("w.bin", b"weights")])
        .await;
    let v1 = app.head_of("alice/m", "main").await;
    let log = json!({
        "results": {"wmdp_bio": {"alias": "wmdp_bio", "acc,none": 0.25, "acc_stderr,none": "N/A"}},
        "n-samples": {"wmdp_bio": {"original": 1273, "effective": 1273}},
        "config": {"model": "hf", "model_args": "pretrained=x", "limit": null},
        "lm_eval_version": "0.4.13",
    });
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/models/alice/m/evaluations?suite=wmdp-bio&filename=results.json&revision={v1}"),
            Some(&carol),
        )
        .body(log.to_string())
        .send()
        .await
        .expect("import");
    assert_eq!(r.status(), StatusCode::CREATED);
    let result_id = r.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let raw = format!("/api/v1/evaluations/{result_id}/raw");
    assert_eq!(app.get(&raw, Some(&carol)).await.status(), StatusCode::OK);
    assert_eq!(
        app.get("/api/models/alice/m/auth-check", Some(&carol))
            .await
            .status(),
        StatusCode::OK
    );
    // A confirmed incident with a hold on v1.
    let (_, v) = incident_post(&app, "/api/v1/incidents", Some(&carol), None,
        json!({"repo": "alice/m", "kind": "incident", "class": "cyber", "summary": "s", "revisions": [v1]})).await;
    let id = v["id"].as_str().expect("id").to_string();
    let path = format!("/api/v1/incidents/{id}/transition");
    incident_post(
        &app,
        &path,
        Some(&op),
        None,
        json!({"to": "triaged", "severity": "high", "reason": "r"}),
    )
    .await;
    let (s, _) = incident_post(
        &app,
        &path,
        Some(&op),
        None,
        json!({"to": "confirmed", "reason": "r", "hold": true}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    for route in [raw.as_str(), "/api/models/alice/m/auth-check"] {
        let r = app.get(route, Some(&carol)).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{route}");
        let v: Value = r.json().await.expect("json");
        assert_eq!(v["error"], "incident_hold", "{route}: {v}");
        assert!(
            v["next"]
                .as_str()
                .is_some_and(|n| n.contains("/api/v1/models/alice/m/holds")),
            "{v}"
        );
    }
    // The notice is public and names no undisclosed incident.
    let notice = app.json("/api/v1/models/alice/m/holds", None).await;
    assert_eq!(notice["holds"][0]["revisions"][0], v1.as_str());
    assert_eq!(notice["holds"][0]["incident"], Value::Null);
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

/// F20: a branch cannot shadow a published tag (a bare revision resolves to a branch first),
/// nor a tag a branch; operator-only actions say so.
#[tokio::test]
async fn ref_names_are_unique_across_branches_and_tags() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/m", false).await;
    let r = app
        .req(Method::POST, "/api/models/alice/m/tag/main", Some(&alice))
        .json(&json!({"tag": "v1.0"}))
        .send()
        .await
        .expect("tag");
    assert_eq!(r.status(), StatusCode::OK);
    let tagged = app.head_of("alice/m", "v1.0").await;
    let r = app
        .req(
            Method::POST,
            "/api/models/alice/m/branch/v1.0",
            Some(&alice),
        )
        .send()
        .await
        .expect("branch");
    assert_eq!(r.status(), StatusCode::CONFLICT);
    // Nor through a commit that would create the branch.
    let r = app
        .commit("alice/m", "v1.0", &alice, &[("evil.txt", b"x")])
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(app.head_of("alice/m", "v1.0").await, tagged);
    // And a tag cannot take a branch's name.
    let r = app
        .req(Method::POST, "/api/models/alice/m/tag/main", Some(&alice))
        .json(&json!({"tag": "main"}))
        .send()
        .await
        .expect("tag");
    assert_eq!(r.status(), StatusCode::CONFLICT);
}

/// F12: half-open connections that never finish their headers are closed after the header-read
/// timeout, and while they are open, well-behaved clients are still served.
#[tokio::test]
async fn slowloris_connections_are_closed_and_others_still_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::live(|c| {
        c.limits.header_read_timeout = std::time::Duration::from_millis(500);
        c.limits.idle_timeout = std::time::Duration::from_millis(800);
        c.limits.max_connections = 64;
    })
    .await;
    app.user("alice", Scope::Write).await;
    let addr = app.url.trim_start_matches("http://").to_string();
    let mut idle = Vec::new();
    for _ in 0..48 {
        let mut s = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect");
        s.write_all(b"GET /api/whoami-v2 HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .expect("write");
        idle.push(s);
    }
    // Well-behaved clients are served meanwhile.
    for _ in 0..10 {
        let r = app.get("/log/checkpoint", None).await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    // Each half-open connection is closed by the server (EOF), not left open.
    for mut s in idle {
        let mut buf = [0u8; 512];
        let n = tokio::time::timeout(std::time::Duration::from_secs(20), s.read(&mut buf))
            .await
            .expect("the server must close a slow connection")
            .unwrap_or(0);
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(n == 0 || text.starts_with("HTTP/1.1 408"), "{text}");
    }
    // More connections than the cap: the extra ones wait, then are served once others close.
    let mut hogs = Vec::new();
    for _ in 0..64 {
        hogs.push(
            tokio::net::TcpStream::connect(&addr)
                .await
                .expect("connect"),
        );
    }
    let r = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        app.get("/log/checkpoint", None),
    )
    .await
    .expect("served after the hogs time out");
    assert_eq!(r.status(), StatusCode::OK);
    drop(hogs);
}

/// F20: answers made below the handlers carry the JSON envelope and the Hub headers too.
#[tokio::test]
async fn every_error_has_the_json_envelope() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/m", false).await;
    app.commit("alice/m", "main", &alice, &[("a.txt", b"hello")])
        .await;
    let check = |r: crate::common::Response, status: StatusCode, code: &'static str| async move {
        assert_eq!(r.status(), status);
        assert!(
            r.headers().get("x-error-code").is_some()
                || r.headers().get("x-error-message").is_some()
        );
        let v: Value = r.json().await.expect("JSON body");
        assert_eq!(v["error"], code, "{v}");
        assert!(v["message"].is_string());
    };
    // 405
    let r = app
        .req(Method::DELETE, "/api/whoami-v2", None)
        .send()
        .await
        .expect("send");
    check(r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    // 413
    let r = app
        .req(Method::POST, "/api/repos/create", Some(&alice))
        .header("content-type", "application/json")
        .body(vec![b' '; weir_server::JSON_BODY_LIMIT + 10])
        .send()
        .await
        .expect("send");
    check(r, StatusCode::PAYLOAD_TOO_LARGE, "too_large").await;
    // 416
    let r = app
        .req(Method::GET, "/alice/m/resolve/main/a.txt", None)
        .header("range", "bytes=100-200")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    let v: Value = r.json().await.expect("JSON body");
    assert!(v["error"].is_string(), "{v}");
    // 431
    let r = app
        .req(Method::GET, "/api/whoami-v2", None)
        .header("x-big", "a".repeat(40 * 1024))
        .send()
        .await
        .expect("send");
    check(
        r,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "headers_too_large",
    )
    .await;
}

/// F11: anonymous callers cannot store unbounded data: aliases, attachments per report (count
/// and total) and per address, reports per address per day are all bounded.
#[tokio::test]
async fn anonymous_reports_and_attachments_are_bounded() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/m", false).await;
    app.commit("alice/m", "main", &alice, &[("w.bin", b"weights")])
        .await;
    // 300,000 aliases: the body alone is over the reports' 1 MiB bound.
    let aliases: Vec<String> = (0..300_000).map(|i| format!("AIID-{i}")).collect();
    let (s, v) = incident_post(
        &app,
        "/api/v1/incidents",
        None,
        None,
        a_report(json!({"aliases": aliases})),
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    // 17 aliases: over the count.
    let aliases: Vec<String> = (0..17).map(|i| format!("AIID-{i}")).collect();
    let (s, v) = incident_post(
        &app,
        "/api/v1/incidents",
        None,
        None,
        a_report(json!({"aliases": aliases})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"], "too_many_aliases");
    // An anonymous report, then attachments: a large one is refused, nothing kept.
    let (s, v) = incident_post(&app, "/api/v1/incidents", None, None, a_report(json!({}))).await;
    assert_eq!(s, StatusCode::CREATED);
    let id = v["id"].as_str().expect("id").to_string();
    let token = v["followup_token"].as_str().expect("token").to_string();
    let attach = |name: String, bytes: Vec<u8>| {
        let app = &app;
        let id = id.clone();
        let token = token.clone();
        async move {
            app.req(
                Method::POST,
                &format!("/api/v1/incidents/{id}/attachments?name={name}"),
                None,
            )
            .header("x-weir-followup", token)
            .body(bytes)
            .send()
            .await
            .expect("send")
        }
    };
    let blobs_before = std::fs::read_dir(app.dir.path().join("blobs/sha256"))
        .map(|d| d.count())
        .unwrap_or(0);
    let big = vec![7u8; (weir_server::limits::MAX_ANON_ATTACHMENT + 1) as usize];
    let r = attach("big.bin".into(), big).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        std::fs::read_dir(app.dir.path().join("blobs/sha256"))
            .map(|d| d.count())
            .unwrap_or(0),
        blobs_before,
        "a refused attachment leaves nothing"
    );
    for i in 0..weir_server::limits::MAX_ATTACHMENTS {
        let r = attach(format!("f{i}.txt"), format!("note {i}").into_bytes()).await;
        assert_eq!(r.status(), StatusCode::CREATED, "attachment {i}");
    }
    let r = attach("one-more.txt".into(), b"x".to_vec()).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"], "too_many_attachments");
    // Reports per address per day (this one counted above).
    let mut last = StatusCode::CREATED;
    for _ in 0..weir_server::limits::ANON_REPORTS.max {
        let (s, _) =
            incident_post(&app, "/api/v1/incidents", None, None, a_report(json!({}))).await;
        last = s;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    // A signed-in account still reports.
    let (s, _) = incident_post(
        &app,
        "/api/v1/incidents",
        Some(&alice),
        None,
        a_report(json!({})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
}

/// F16: request fields, gating terms and required fields, and grant lengths are bounded.
#[tokio::test]
async fn access_fields_and_expiries_are_bounded() {
    use crate::access::{set_level, setup};
    let (app, alice, carol) = setup(Tier::T2).await;
    set_level(&app, "carol", weir_core::IdentityLevel::Identified, None).await;
    let put_gating = |body: Value| {
        let app = &app;
        let alice = alice.clone();
        async move {
            app.req(Method::PUT, "/api/v1/repos/acme/gated/gating", Some(&alice))
                .json(&body)
                .send()
                .await
                .expect("send")
        }
    };
    let r = put_gating(json!({"terms": "t".repeat(64 * 1024 + 1)})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let many: Vec<String> = (0..1000).map(|i| format!("f{i}")).collect();
    let r = put_gating(json!({"required_fields": many})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = put_gating(json!({"required_fields": ["affiliation"]})).await;
    assert_eq!(r.status(), StatusCode::OK);
    // Unknown or oversized fields in a request are refused.
    let request = |fields: Value| {
        let app = &app;
        let carol = carol.clone();
        async move {
            app.req(
                Method::POST,
                "/api/v1/repos/acme/gated/access/requests",
                Some(&carol),
            )
            .json(&json!({"purpose": "research", "fields": fields}))
            .send()
            .await
            .expect("send")
        }
    };
    let r = request(json!({"affiliation": "Uni", "x": "y"})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = request(json!({"affiliation": "u".repeat(100_000)})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = request(json!({"affiliation": "Uni"})).await;
    assert!(r.status().is_success(), "{}", r.status());
    // A review granting for a million days is refused; the expiry is never shown as 1970.
    let r = app
        .req(
            Method::POST,
            "/api/v1/repos/acme/gated/access/requests/carol",
            Some(&alice),
        )
        .json(&json!({"action": "approve", "expires_days": 1_000_000}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"], "invalid_expiry");
}

/// F18: the bytes of a refused commit do not stay: the garbage collector removes them once the
/// grace period has passed, and keeps every committed file.
#[tokio::test]
async fn refused_commits_leave_nothing_after_collection() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/m", false).await;
    assert_eq!(
        app.commit("alice/m", "main", &alice, &[("kept.txt", b"kept")])
            .await
            .status(),
        StatusCode::OK
    );
    // A file line whose bytes are stored as they arrive, then a bad line: the commit is refused.
    let body = format!(
        "{}\n{}\n{}",
        json!({"key": "header", "value": {"summary": "bad"}}),
        json!({"key": "file", "value": {"path": "refused.txt", "content": "cmVmdXNlZCBieXRlcw==", "encoding": "base64"}}),
        json!({"key": "deletedFile", "value": {"path": "no-such-file"}}),
    );
    let r = app.raw_commit("alice/m", "main", &alice, body).await;
    assert!(r.status().is_client_error());
    let refused = weir_core::Sha256Hex::parse(&sha256_hex(b"refused bytes")).expect("sha");
    let kept = weir_core::Sha256Hex::parse(&sha256_hex(b"kept")).expect("sha");
    assert!(
        app.store.blobs.path_of(&refused).exists(),
        "stored while streaming"
    );
    let later = time::OffsetDateTime::now_utc().unix_timestamp() + 3 * 86_400;
    let r = app
        .store
        .collect_garbage(later, std::time::Duration::from_secs(24 * 3600), false)
        .await
        .expect("gc");
    assert!(r.blobs_removed >= 1, "{r:?}");
    assert!(!app.store.blobs.path_of(&refused).exists());
    assert!(
        app.store
            .db
            .blob_size(&refused)
            .await
            .expect("db")
            .is_none()
    );
    assert!(app.store.blobs.path_of(&kept).exists());
    let r = app.get("/alice/m/resolve/main/kept.txt", None).await;
    assert_eq!(r.status(), StatusCode::OK);
}

/// F10: a region-blocked repo denies a user whose country is unknown (451 with the way forward),
/// not only users attested in a blocked country.
#[tokio::test]
async fn region_blocks_deny_unknown_countries() {
    use crate::access::{set_level, setup};
    let (app, alice, carol) = setup(Tier::T1).await;
    let r = app
        .req(Method::PUT, "/api/v1/repos/acme/gated/gating", Some(&alice))
        .json(&json!({"blocked_countries": ["XX"]}))
        .send()
        .await
        .expect("gating");
    assert_eq!(r.status(), StatusCode::OK);
    set_level(&app, "carol", weir_core::IdentityLevel::Identified, None).await;
    app.req(
        Method::POST,
        "/api/v1/repos/acme/gated/access/terms",
        Some(&carol),
    )
    .send()
    .await
    .expect("terms");
    let r = app
        .get("/acme/gated/resolve/main/w.txt", Some(&carol))
        .await;
    assert_eq!(r.status(), StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"], "region");
    assert!(v["next"].is_string());
    // Attested outside the blocked region: served.
    set_level(
        &app,
        "carol",
        weir_core::IdentityLevel::Identified,
        Some("DE"),
    )
    .await;
    let r = app
        .get("/acme/gated/resolve/main/w.txt", Some(&carol))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

/// Review follow-up: a request whose body trickles in (or stops) does not hold its connection
/// slot forever, and one address cannot take every slot.
#[tokio::test]
async fn stalled_bodies_and_one_address_cannot_hold_every_slot() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::live(|c| {
        c.limits.stall_timeout = std::time::Duration::from_millis(600);
        c.limits.max_connections_per_address = 6;
    })
    .await;
    app.user("alice", Scope::Write).await;
    let addr = app.url.trim_start_matches("http://").to_string();
    // Complete headers, a promised body that never comes.
    let mut s = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    s.write_all(b"POST /api/v1/incidents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
        .await
        .expect("write");
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(std::time::Duration::from_secs(20), s.read(&mut buf))
        .await
        .expect("the server must close a stalled request")
        .unwrap_or(0);
    assert!(n == 0 || !String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 2"));
    // Six connections from one address are served; a seventh is closed at once.
    let mut held = Vec::new();
    for _ in 0..6 {
        held.push(
            tokio::net::TcpStream::connect(&addr)
                .await
                .expect("connect"),
        );
    }
    let mut extra = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let _ = extra
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), extra.read(&mut buf))
        .await
        .expect("closed at once")
        .unwrap_or(0);
    assert_eq!(n, 0, "{}", String::from_utf8_lossy(&buf[..n]));
    drop(held);
}

/// Review follow-up: export ids do not reveal which repos (often private, always T3) have
/// exports: anyone but the requester and operators gets the same 404 for an existing id as for
/// a missing one, on every export route.
#[tokio::test]
async fn export_ids_reveal_nothing_to_others() {
    let (app, _carol, id, _rev1, _rev2) = approved_export().await;
    let outsider = app.user("oscar", Scope::Write).await;
    for step in ["approve", "link"] {
        for token in [None, Some(outsider.as_str())] {
            let real = app
                .req(Method::POST, &format!("/api/v1/exports/{id}/{step}"), token)
                .send()
                .await
                .expect("send");
            let ghost = app
                .req(
                    Method::POST,
                    &format!("/api/v1/exports/{}/{step}", id + 1000),
                    token,
                )
                .send()
                .await
                .expect("send");
            assert_eq!(real.status(), ghost.status(), "{step}");
            let (a, b): (Value, Value) = (
                real.json().await.expect("json"),
                ghost.json().await.expect("json"),
            );
            assert_eq!(a["error"], b["error"], "{step}: {a} vs {b}");
            assert!(!a.to_string().contains("acme"), "{a}");
        }
    }
}

/// Review follow-up: the card is self-declared, so a publisher cannot lower a tier the policy
/// raised by editing the card (removing the declared compute, the closed weights or the base
/// model); a push only ever raises.
#[tokio::test]
async fn editing_the_card_does_not_lower_a_raised_tier() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/big", false).await;
    app.repo("alice/base", false).await;
    set_tier(&app, "alice/base", Tier::T3).await;
    app.repo("alice/child", false).await;
    let card = |extra: &str| format!("---\nlicense: mit\n{extra}---\n# Model\n").into_bytes();
    for (repo, extra) in [
        ("alice/big", "training_compute_flop: 2e25\n"),
        ("alice/child", "base_model: alice/base\n"),
    ] {
        let r = app
            .commit(repo, "main", &alice, &[("README.md", &card(extra))])
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    assert_eq!(repo_tier(&app, "alice/big").await, Tier::T2);
    assert_eq!(repo_tier(&app, "alice/child").await, Tier::T3);
    // The publisher rewrites the cards without those declarations.
    for repo in ["alice/big", "alice/child"] {
        let r = app
            .commit(repo, "main", &alice, &[("README.md", &card(""))])
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    assert_eq!(
        repo_tier(&app, "alice/big").await,
        Tier::T2,
        "compute removed from the card"
    );
    assert_eq!(
        repo_tier(&app, "alice/child").await,
        Tier::T3,
        "base model removed from the card"
    );
    let c = app
        .json("/api/v1/models/alice/child/classification", Some(&alice))
        .await;
    assert_eq!(c["minimum_tier"], "T3");
    // Nor does a release (it re-classifies, only ever upwards).
    let r = app
        .req(
            Method::POST,
            "/api/v1/repos/alice/big/releases",
            Some(&alice),
        )
        .json(&json!({}))
        .send()
        .await
        .expect("release");
    assert!(r.status().is_success() || r.status().is_client_error());
    assert_eq!(repo_tier(&app, "alice/big").await, Tier::T2);
}
