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

async fn export_step(app: &TestApp, id: i64, step: &str, token: &str) -> reqwest::Response {
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

async fn error_code(r: reqwest::Response) -> (StatusCode, String) {
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
    let r = app.http.get(&url).send().await.expect("download");
    assert!(r.status().is_client_error());
    assert_eq!(error_code(r).await.1, "not_exportable");
    set_tier(&app, "acme/gated", Tier::T3).await;
    let r = app.http.get(&url).send().await.expect("again");
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
    let r = app.http.get(&url).send().await.expect("download");
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
    let r = app.http.get(&url).send().await.expect("download");
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
