//! Property: whatever sequence of uploads, commits, branches, tags, releases, export requests
//! and downloads an ordinary account runs, it never receives the bytes of a file in a repo it
//! may not download from (gated T2 without a grant, T3, T4, private), though it knows every
//! one of their SHA-256 digests.

use crate::access::set_tier;
use crate::common::{TestApp, sha256_hex};
use proptest::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::{Scope, Tier};

#[derive(Debug, Clone)]
enum Op {
    /// Commit an `lfsFile` line naming a victim's digest (with or without its size).
    ClaimLfs {
        target: usize,
        secret: usize,
        sized: bool,
    },
    /// Ask the LFS batch endpoint about a victim's digest.
    Batch { target: usize, secret: usize },
    /// Upload bytes of one's own and commit them (legitimate).
    UploadOwn { target: usize, bytes: Vec<u8> },
    /// Create a branch or a tag in one's repo from a victim's commit id.
    RefFromVictim {
        target: usize,
        victim: usize,
        tag: bool,
    },
    /// Release one's repo (the registry signs what is in it).
    Release { target: usize },
    /// Ask for a custodial export of a victim repo.
    Export { victim: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..2usize, 0..8usize, any::<bool>()).prop_map(|(target, secret, sized)| Op::ClaimLfs {
            target,
            secret,
            sized
        }),
        (0..2usize, 0..8usize).prop_map(|(target, secret)| Op::Batch { target, secret }),
        (0..2usize, prop::collection::vec(any::<u8>(), 1..64))
            .prop_map(|(target, bytes)| Op::UploadOwn { target, bytes }),
        (0..2usize, 0..4usize, any::<bool>()).prop_map(|(target, victim, tag)| Op::RefFromVictim {
            target,
            victim,
            tag
        }),
        (0..2usize).prop_map(|target| Op::Release { target }),
        (0..4usize).prop_map(|victim| Op::Export { victim }),
    ]
}

const VICTIMS: [&str; 4] = ["bob/gated", "bob/restricted", "bob/sealed", "bob/private"];
const MINE: [&str; 2] = ["alice/mine", "alice/other"];

struct World {
    app: TestApp,
    alice: String,
    /// (bytes, sha256) of every victim file, LFS and regular.
    secrets: Vec<(Vec<u8>, String)>,
    victim_heads: Vec<String>,
}

async fn world() -> World {
    let app = TestApp::new().await;
    let bob = app.user("bob", Scope::Write).await;
    let alice = app.user("alice", Scope::Write).await;
    let mut secrets = Vec::new();
    let mut victim_heads = Vec::new();
    for (i, v) in VICTIMS.iter().enumerate() {
        app.repo(v, *v == "bob/private").await;
        let weights: Vec<u8> = (0..4096u32)
            .map(|k| (k * 31 + i as u32 * 7) as u8)
            .collect();
        let small = format!("secret config of {v}\n").into_bytes();
        assert_eq!(
            app.lfs_upload(v, &bob, weights.clone()).await,
            StatusCode::OK
        );
        let body = format!(
            "{}\n{}\n{}",
            json!({"key": "header", "value": {"summary": "weights"}}),
            json!({"key": "lfsFile", "value": {"path": "model.safetensors", "algo": "sha256", "oid": sha256_hex(&weights), "size": weights.len()}}),
            json!({"key": "file", "value": {"path": "config.json", "content": base64_encode(&small), "encoding": "base64"}}),
        );
        assert_eq!(
            app.raw_commit(v, "main", &bob, body).await.status(),
            StatusCode::OK
        );
        let info = app
            .json(&format!("/api/models/{v}/revision/main"), Some(&bob))
            .await;
        victim_heads.push(info["sha"].as_str().expect("sha").to_string());
        secrets.push((weights.clone(), sha256_hex(&weights)));
        secrets.push((small.clone(), sha256_hex(&small)));
    }
    set_tier(&app, "bob/gated", Tier::T2).await;
    set_tier(&app, "bob/restricted", Tier::T3).await;
    set_tier(&app, "bob/sealed", Tier::T4).await;
    for m in MINE {
        app.repo(m, false).await;
    }
    World {
        app,
        alice,
        secrets,
        victim_heads,
    }
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

async fn run(w: &World, op: &Op) {
    let app = &w.app;
    let t = &w.alice;
    match op {
        Op::ClaimLfs {
            target,
            secret,
            sized,
        } => {
            let (bytes, sha) = &w.secrets[*secret];
            let mut v =
                json!({"path": format!("claim/{secret}.bin"), "algo": "sha256", "oid": sha});
            if *sized {
                v["size"] = json!(bytes.len());
            }
            let body = format!(
                "{}\n{}",
                json!({"key": "header", "value": {"summary": "claim"}}),
                json!({"key": "lfsFile", "value": v})
            );
            let r = app.raw_commit(MINE[*target], "main", t, body).await;
            assert!(
                r.status().is_client_error(),
                "a claim by digest was accepted"
            );
        }
        Op::Batch { target, secret } => {
            let (bytes, sha) = &w.secrets[*secret];
            let b = app
                .lfs_batch(MINE[*target], t, json!([{"oid": sha, "size": bytes.len()}]))
                .await;
            assert!(
                b["objects"][0]["actions"]["upload"].is_object(),
                "the batch endpoint called a foreign object present: {b}"
            );
        }
        Op::UploadOwn { target, bytes } => {
            let _ = app.lfs_upload(MINE[*target], t, bytes.clone()).await;
            let body = format!(
                "{}\n{}",
                json!({"key": "header", "value": {"summary": "own"}}),
                json!({"key": "lfsFile", "value": {"path": format!("own/{}.bin", sha256_hex(bytes)), "algo": "sha256", "oid": sha256_hex(bytes), "size": bytes.len()}})
            );
            let _ = app.raw_commit(MINE[*target], "main", t, body).await;
        }
        Op::RefFromVictim {
            target,
            victim,
            tag,
        } => {
            let head = &w.victim_heads[*victim];
            let r = if *tag {
                app.req(
                    Method::POST,
                    &format!("/api/models/{}/tag/{head}", MINE[*target]),
                    Some(t),
                )
                .json(&json!({"tag": format!("t{victim}")}))
                .send()
                .await
            } else {
                app.req(
                    Method::POST,
                    &format!("/api/models/{}/branch/b{victim}", MINE[*target]),
                    Some(t),
                )
                .json(&json!({"startingPoint": head}))
                .send()
                .await
            }
            .expect("send");
            assert!(
                !r.status().is_success(),
                "a ref to another repo's commit was made"
            );
        }
        Op::Release { target } => {
            let _ = app
                .req(
                    Method::POST,
                    &format!("/api/v1/repos/{}/releases", MINE[*target]),
                    Some(t),
                )
                .json(&json!({}))
                .send()
                .await;
        }
        Op::Export { victim } => {
            let r = app
                .req(
                    Method::POST,
                    &format!("/api/v1/repos/{}/exports", VICTIMS[*victim]),
                    Some(t),
                )
                .json(&json!({"org": "alice", "purpose": "x"}))
                .send()
                .await
                .expect("send");
            assert!(!r.status().is_success());
        }
    }
}

/// Everything alice can download: every file of every ref of her repos, and the victims' files
/// asked for directly.
async fn everything_alice_receives(w: &World) -> Vec<Vec<u8>> {
    let app = &w.app;
    let mut out = Vec::new();
    let mut paths = Vec::new();
    for m in MINE {
        let refs = app
            .get(&format!("/api/models/{m}/refs"), Some(&w.alice))
            .await;
        let refs: Value = refs.json().await.unwrap_or(Value::Null);
        let mut revs = vec!["main".to_string()];
        for kind in ["branches", "tags"] {
            for r in refs[kind].as_array().into_iter().flatten() {
                if let Some(n) = r["targetCommit"].as_str() {
                    revs.push(n.to_string());
                }
            }
        }
        for rev in revs {
            let tree: Value = app
                .get(
                    &format!("/api/models/{m}/tree/{rev}?recursive=true"),
                    Some(&w.alice),
                )
                .await
                .json()
                .await
                .unwrap_or(Value::Null);
            for f in tree.as_array().into_iter().flatten() {
                if f["type"] == "file"
                    && let Some(p) = f["path"].as_str()
                {
                    paths.push(format!("/{m}/resolve/{rev}/{p}"));
                }
            }
        }
    }
    for v in VICTIMS {
        for p in ["model.safetensors", "config.json"] {
            paths.push(format!("/{v}/resolve/main/{p}"));
        }
    }
    for p in paths {
        let r = app.get(&p, Some(&w.alice)).await;
        if r.status().is_success() {
            out.push(r.bytes().await.map(|b| b.to_vec()).unwrap_or_default());
        }
    }
    out
}

#[test]
fn no_sequence_of_operations_delivers_a_gated_file() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let w = rt.block_on(world());
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 24,
        ..ProptestConfig::default()
    });
    runner
        .run(&prop::collection::vec(op(), 1..6), |ops| {
            rt.block_on(async {
                for o in &ops {
                    run(&w, o).await;
                }
                for got in everything_alice_receives(&w).await {
                    for (secret, _) in &w.secrets {
                        assert!(
                            got != *secret,
                            "alice received a victim's file after {ops:?}"
                        );
                    }
                }
            });
            Ok(())
        })
        .expect("property");
}

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
