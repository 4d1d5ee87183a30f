use crate::common::{TestApp, sha256_hex};
use reqwest::{Method, StatusCode};
use weir_core::Scope;

async fn app_with_files() -> (TestApp, String, String) {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/m", false).await;
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let r = app
        .commit(
            "alice/m",
            "main",
            &alice,
            &[
                ("config.json", b"{}\n"),
                ("sub/dir/with space.txt", b"hi\n"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        app.lfs_upload("alice/m", &alice, big.clone()).await,
        StatusCode::OK
    );
    let body = format!(
        "{}\n{}\n",
        serde_json::json!({"key": "header", "value": {"summary": "weights"}}),
        serde_json::json!({"key": "lfsFile", "value": {"path": "model.safetensors", "algo": "sha256", "oid": sha256_hex(&big), "size": big.len()}})
    );
    let r = app.raw_commit("alice/m", "main", &alice, body).await;
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
    let head = app.head_of("alice/m", "main").await;
    (app, alice, head)
}

#[tokio::test]
async fn resolve_headers_match_the_hub_protocol() {
    let (app, _, head) = app_with_files().await;
    let r = app
        .req(
            Method::HEAD,
            "/alice/m/resolve/main/model.safetensors",
            None,
        )
        .send()
        .await
        .expect("head");
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers();
    assert_eq!(h["x-repo-commit"], head.as_str());
    let etag = h["x-linked-etag"]
        .to_str()
        .expect("ascii")
        .trim_matches('"')
        .to_string();
    assert_eq!(etag.len(), 64, "LFS files carry their sha256 as ETag");
    assert_eq!(h["x-linked-size"], "300000");
    assert_eq!(h["content-length"], "300000");
    assert!(h.get("x-xet-hash").is_none());
    assert!(h.get("content-encoding").is_none());

    let r = app
        .req(Method::HEAD, "/alice/m/resolve/main/config.json", None)
        .send()
        .await
        .expect("head");
    let etag = r.headers()["etag"]
        .to_str()
        .expect("ascii")
        .trim_matches('"')
        .to_string();
    assert_eq!(
        etag, "0967ef424bce6791893e9a57bb952f80fd536e93",
        "small files carry the git blob id"
    );

    let body = app
        .get("/alice/m/resolve/main/model.safetensors", None)
        .await
        .bytes()
        .await
        .expect("body");
    assert_eq!(sha256_hex(&body), etag_of(&app, "model.safetensors").await);
}

async fn etag_of(app: &TestApp, path: &str) -> String {
    let r = app
        .req(Method::HEAD, &format!("/alice/m/resolve/main/{path}"), None)
        .send()
        .await
        .expect("head");
    r.headers()["x-linked-etag"]
        .to_str()
        .expect("ascii")
        .trim_matches('"')
        .to_string()
}

#[tokio::test]
async fn range_requests_resume() {
    let (app, _, _) = app_with_files().await;
    let full = app
        .get("/alice/m/resolve/main/model.safetensors", None)
        .await
        .bytes()
        .await
        .expect("body");
    let r = app
        .req(Method::GET, "/alice/m/resolve/main/model.safetensors", None)
        .header("range", "bytes=100000-")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.headers()["content-range"], "bytes 100000-299999/300000");
    assert!(r.headers().get("x-repo-commit").is_some());
    assert_eq!(&r.bytes().await.expect("body")[..], &full[100_000..]);
    let r = app
        .req(Method::GET, "/alice/m/resolve/main/model.safetensors", None)
        .header("range", "bytes=400000-")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
}

#[tokio::test]
async fn revisions_by_branch_tag_commit_and_encoded_slash() {
    let (app, alice, head) = app_with_files().await;
    let r = app
        .req(
            Method::POST,
            "/api/models/alice/m/branch/feature%2Fx",
            Some(&alice),
        )
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("branch");
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
    let r = app
        .req(Method::POST, "/api/models/alice/m/tag/main", Some(&alice))
        .json(&serde_json::json!({"tag": "v1.0"}))
        .send()
        .await
        .expect("tag");
    assert_eq!(r.status(), StatusCode::OK);
    for rev in [
        "main",
        "v1.0",
        "feature%2Fx",
        head.as_str(),
        "refs%2Fheads%2Fmain",
        "refs%2Ftags%2Fv1.0",
    ] {
        let r = app
            .get(
                &format!("/alice/m/resolve/{rev}/sub/dir/with%20space.txt"),
                None,
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{rev}");
        assert_eq!(r.headers()["x-repo-commit"], head.as_str());
        assert_eq!(r.text().await.expect("text"), "hi\n");
    }
    let refs = app.json("/api/models/alice/m/refs", None).await;
    assert_eq!(refs["branches"].as_array().expect("array").len(), 2);
    assert_eq!(refs["tags"][0]["ref"], "refs/tags/v1.0");
    assert_eq!(refs["converts"], serde_json::json!([]));
    // the same branch twice is a conflict
    let r = app
        .req(
            Method::POST,
            "/api/models/alice/m/branch/feature%2Fx",
            Some(&alice),
        )
        .send()
        .await
        .expect("branch");
    assert_eq!(r.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn tree_listing_recursive_and_by_directory() {
    let (app, _, head) = app_with_files().await;
    let all = app
        .json(
            &format!("/api/models/alice/m/tree/{head}?recursive=true&expand=false"),
            None,
        )
        .await;
    let paths: Vec<&str> = all
        .as_array()
        .expect("array")
        .iter()
        .map(|e| e["path"].as_str().expect("path"))
        .collect();
    for p in [
        ".gitattributes",
        "config.json",
        "model.safetensors",
        "sub",
        "sub/dir",
        "sub/dir/with space.txt",
    ] {
        assert!(paths.contains(&p), "{p} in {paths:?}");
    }
    let st = all
        .as_array()
        .expect("array")
        .iter()
        .find(|e| e["path"] == "model.safetensors")
        .expect("file");
    assert_eq!(st["lfs"]["size"], 300000);
    assert!(st.get("xetHash").is_none());
    let top = app.json("/api/models/alice/m/tree/main", None).await;
    let top: Vec<&str> = top
        .as_array()
        .expect("array")
        .iter()
        .map(|e| e["path"].as_str().expect("path"))
        .collect();
    assert_eq!(
        top,
        vec![".gitattributes", "config.json", "model.safetensors", "sub"]
    );
    let sub = app
        .json("/api/models/alice/m/tree/main/sub%2Fdir", None)
        .await;
    assert_eq!(sub[0]["path"], "sub/dir/with space.txt");
    let r = app.get("/api/models/alice/m/tree/main/nope", None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.headers()["x-error-code"], "EntryNotFound");
}

#[tokio::test]
async fn model_info_and_manifest() {
    let (app, _, head) = app_with_files().await;
    let info = app.json("/api/models/alice/m?blobs=true", None).await;
    assert_eq!(info["id"], "alice/m");
    assert_eq!(info["sha"], head.as_str());
    let st = info["siblings"]
        .as_array()
        .expect("array")
        .iter()
        .find(|s| s["rfilename"] == "model.safetensors")
        .expect("sibling");
    assert_eq!(st["lfs"]["sha256"].as_str().expect("sha").len(), 64);
    let m = app.json("/api/v1/repos/alice/m/manifest/main", None).await;
    assert_eq!(m["commit"], head.as_str());
    assert_eq!(m["files"].as_array().expect("files").len(), 4);
}

#[tokio::test]
async fn private_repos_look_missing_to_others() {
    let app = TestApp::new().await;
    let owner = app.user("olga", Scope::Read).await;
    let other = app.user("mallory", Scope::Write).await;
    app.repo("olga/hidden", true).await;
    for path in [
        "/api/models/olga/hidden",
        "/olga/hidden/resolve/main/.gitattributes",
        "/api/models/olga/hidden/tree/main",
        "/api/models/olga/hidden/auth-check",
        "/api/v1/repos/olga/hidden/manifest/main",
    ] {
        let anon = app.get(path, None).await;
        assert_eq!(anon.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(anon.headers()["x-error-code"], "RepoNotFound");
        let r = app.get(path, Some(&other)).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.headers()["x-error-code"], "RepoNotFound");
        assert_eq!(
            app.get(path, Some(&owner)).await.status(),
            StatusCode::OK,
            "{path}"
        );
    }
    // the same answer as a repo that does not exist
    let r = app.get("/api/models/olga/nothing", Some(&other)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.headers()["x-error-code"], "RepoNotFound");
}

#[tokio::test]
async fn whoami_and_tokens() {
    let app = TestApp::new().await;
    let t = app.user("alice", Scope::Write).await;
    app.org("acme", &["alice"]).await;
    let me = app.json("/api/whoami-v2", Some(&t)).await;
    assert_eq!(me["name"], "alice");
    assert_eq!(me["type"], "user");
    assert_eq!(me["orgs"][0]["name"], "acme");
    assert_eq!(me["auth"]["accessToken"]["role"], "write");
    let r = app.get("/api/whoami-v2", Some("weir_bogus")).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.headers()["x-error-message"],
        "Invalid credentials in Authorization header"
    );
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["error"], "invalid_token");
    // tokens are stored hashed only
    let bytes = app.stored_bytes().await;
    assert!(
        !bytes.windows(t.len()).any(|w| w == t.as_bytes()),
        "plaintext token found in the database"
    );
}

/// The exact JSON shapes the Hub client parses are the contract: snapshot them (commit ids and
/// times, which change per run, are redacted).
#[tokio::test]
async fn hub_json_shapes() {
    let (app, _, _) = app_with_files().await;
    let info = app.json("/api/models/alice/m?blobs=true", None).await;
    insta::assert_json_snapshot!("model_info", info, {
        ".sha" => "[commit]", ".lastModified" => "[time]", ".createdAt" => "[time]",
        ".weir.classification.commit" => "[commit]",
    });
    let tree = app
        .json(
            "/api/models/alice/m/tree/main?recursive=true&expand=false",
            None,
        )
        .await;
    insta::assert_json_snapshot!("tree_recursive", tree);
    let refs = app
        .json("/api/models/alice/m/refs?include_prs=1", None)
        .await;
    insta::assert_json_snapshot!("refs", refs, { ".branches[].targetCommit" => "[commit]" });
    let missing = app.get("/api/models/alice/m/revision/nope", None).await;
    let body: serde_json::Value = missing.json().await.expect("json");
    insta::assert_json_snapshot!("revision_not_found", body);
}

#[tokio::test]
async fn auth_check_write_says_who_may_push() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let reader = app.user("rita", Scope::Read).await;
    let bob = app.user("bob", Scope::Write).await;
    app.repo("alice/m", false).await;
    app.repo("alice/hidden", true).await;
    let check = |path: &'static str, token: Option<String>| {
        let app = &app;
        async move { app.get(path, token.as_deref()).await.status() }
    };
    let w = "/api/models/alice/m/auth-check/write";
    assert_eq!(check(w, Some(alice.clone())).await, StatusCode::OK);
    assert_eq!(check(w, Some(bob.clone())).await, StatusCode::FORBIDDEN);
    assert_eq!(check(w, Some(reader)).await, StatusCode::FORBIDDEN);
    assert_eq!(check(w, None).await, StatusCode::UNAUTHORIZED);
    let hidden = "/api/models/alice/hidden/auth-check/write";
    let missing = "/api/models/alice/nothing/auth-check/write";
    assert_eq!(
        check(hidden, Some(bob.clone())).await,
        check(missing, Some(bob)).await
    );
}

/// A valid safetensors file with the given tensors (dtype, shape), zero-filled.
pub fn safetensors_file(tensors: &[(&str, &str, &[u64])]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut offset = 0u64;
    for (name, dtype, shape) in tensors {
        let size = weir_core::safetensors::dtype_size(dtype).expect("dtype");
        let len = shape.iter().product::<u64>() * size;
        header.insert(
            name.to_string(),
            serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len]}),
        );
        offset += len;
    }
    let mut h = serde_json::Value::Object(header).to_string().into_bytes();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    out.resize(out.len() + offset as usize, 0);
    out
}

#[tokio::test]
async fn model_info_sums_safetensors_parameters_by_dtype_across_shards() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/m", false).await;
    let a = safetensors_file(&[("x", "F32", &[2, 3]), ("y", "BF16", &[4])]);
    let b = safetensors_file(&[("z", "F32", &[10])]);
    let r = app
        .commit(
            "alice/m",
            "main",
            &alice,
            &[
                ("model-00001-of-00002.safetensors", &a),
                ("model-00002-of-00002.safetensors", &b),
                ("broken.safetensors", b"not a safetensors file"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
    let v: serde_json::Value = app
        .get("/api/models/alice/m", None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        v["safetensors"],
        serde_json::json!({"parameters": {"BF16": 4, "F32": 16}, "total": 20})
    );
    assert!(v["securityRepoStatus"].is_null(), "only when asked");
}

#[tokio::test]
async fn security_status_grades_each_pickle_in_model_info_tree_and_paths_info() {
    use crate::releases::{BENIGN_PICKLE, HOSTILE_PICKLE};
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/m", false).await;
    app.commit(
        "alice/m",
        "main",
        &alice,
        &[
            ("evil/pytorch_model.bin", HOSTILE_PICKLE),
            ("good.pt", BENIGN_PICKLE),
            ("config.json", b"{}"),
        ],
    )
    .await;
    let v: serde_json::Value = app
        .get("/api/models/alice/m?securityStatus=True", None)
        .await
        .json()
        .await
        .expect("json");
    let s = &v["securityRepoStatus"];
    assert_eq!(s["scansDone"], true);
    assert_eq!(
        s["filesWithIssues"].as_array().map(Vec::len),
        Some(1),
        "{s}"
    );
    assert_eq!(s["filesWithIssues"][0]["path"], "evil/pytorch_model.bin");
    assert_eq!(s["filesWithIssues"][0]["level"], "unsafe");
    assert_eq!(
        s["filesWithIssues"][0]["pickleImports"][0],
        serde_json::json!({"module": "posix", "name": "system", "safety": "dangerous"})
    );
    let tree: serde_json::Value = app
        .get(
            "/api/models/alice/m/tree/main?recursive=true&expand=true",
            None,
        )
        .await
        .json()
        .await
        .expect("json");
    let status = |path: &str| {
        tree.as_array()
            .and_then(|a| a.iter().find(|e| e["path"] == path))
            .map(|e| e["securityFileStatus"].clone())
            .unwrap_or_default()
    };
    assert_eq!(status("evil/pytorch_model.bin")["status"], "unsafe");
    assert_eq!(
        status("evil/pytorch_model.bin")["pickleImportScan"]["highestSafetyLevel"],
        "dangerous"
    );
    assert_eq!(status("good.pt")["status"], "safe");
    assert_eq!(
        status("good.pt")["pickleImportScan"]["imports"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    assert_eq!(status("config.json")["status"], "safe");
    assert!(status("config.json")["pickleImportScan"].is_null());
    assert!(status("evil").is_null(), "directories carry no status");
    let r = app
        .req(
            reqwest::Method::POST,
            "/api/models/alice/m/paths-info/main",
            None,
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body("paths=good.pt&paths=evil/pytorch_model.bin&expand=True")
        .send()
        .await
        .expect("send");
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v[0]["securityFileStatus"]["status"], "safe", "{v}");
    assert_eq!(v[1]["securityFileStatus"]["status"], "unsafe", "{v}");
}

#[tokio::test]
async fn sharded_safetensors_metadata_is_read_through_the_download_gate() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let bob = app.user("bob", Scope::Read).await;
    app.repo("alice/m", false).await;
    let shard = safetensors_file(&[("w", "F32", &[2])]);
    let index = serde_json::json!({"metadata": {"total_size": 8}, "weight_map": {"w": "model-00001-of-00001.safetensors"}});
    app.commit(
        "alice/m",
        "main",
        &alice,
        &[
            ("model.safetensors.index.json", index.to_string().as_bytes()),
            ("model-00001-of-00001.safetensors", &shard),
        ],
    )
    .await;
    let url = "/api/models/alice/m/safetensors-metadata/model.safetensors.index.json";
    let v: serde_json::Value = app.get(url, Some(&bob)).await.json().await.expect("json");
    assert_eq!(v["index"]["metadata"]["total_size"], 8);
    assert_eq!(
        v["headers"]["model-00001-of-00001.safetensors"]["w"]["dtype"],
        "F32"
    );
    // Gated: the same answer as a download would get, and the decision is recorded.
    app.set_tier("alice/m", weir_core::Tier::T2).await;
    assert_eq!(
        app.get(url, Some(&bob)).await.status(),
        StatusCode::FORBIDDEN
    );
    let events = app
        .store
        .db
        .events(Some("alice/m"), 10)
        .await
        .expect("events");
    assert!(
        events
            .iter()
            .any(|(_, e)| e.action == "download.metadata" && e.decision == "deny")
    );
}
