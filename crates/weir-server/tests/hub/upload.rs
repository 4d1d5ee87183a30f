use crate::common::{TestApp, sha256_hex};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::Scope;

#[tokio::test]
async fn create_repo_in_own_namespace_and_orgs() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.user("bob", Scope::Write).await;
    app.org("acme", &["alice"]).await;
    let create = |body: Value, token: String| {
        let app = &app;
        async move {
            app.req(Method::POST, "/api/repos/create", Some(&token))
                .json(&body)
                .send()
                .await
                .expect("send")
        }
    };
    let r = create(json!({"name": "m1"}), alice.clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.expect("json")["url"],
        format!("{}/alice/m1", app.url)
    );
    let r = create(
        json!({"name": "m2", "organization": "acme", "private": true}),
        alice.clone(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    // exists: 409 that still carries the url (huggingface_hub's exist_ok reads it)
    let r = create(json!({"name": "m1"}), alice.clone()).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(
        r.json::<Value>().await.expect("json")["url"],
        format!("{}/alice/m1", app.url)
    );
    // not a member of bob's namespace
    let r = create(json!({"name": "x", "organization": "bob"}), alice.clone()).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        r.json::<Value>().await.expect("json")["error"],
        "not_member"
    );
    // read tokens cannot create
    let reader = app.user("alice", Scope::Read).await;
    let r = create(json!({"name": "m3"}), reader).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        r.json::<Value>().await.expect("json")["error"],
        "token_scope"
    );
    let r = create(json!({"name": "d", "type": "dataset"}), alice.clone()).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = create(json!({"name": "../etc"}), alice).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn preupload_chooses_modes_and_reports_unchanged_files() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/m", false).await;
    assert_eq!(
        app.commit("alice/m", "main", &alice, &[("a.txt", b"hello\n")])
            .await
            .status(),
        StatusCode::OK
    );
    let r: Value = app
        .req(
            Method::POST,
            "/api/models/alice/m/preupload/main",
            Some(&alice),
        )
        .json(&json!({"files": [
            {"path": "a.txt", "size": 6, "sample": ""},
            {"path": "w.safetensors", "size": 10, "sample": ""},
            {"path": "big.json", "size": 20_000_000, "sample": ""},
            {"path": "empty.bin", "size": 0, "sample": ""}]}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let modes: Vec<&str> = r["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["uploadMode"].as_str().expect("mode"))
        .collect();
    assert_eq!(modes, ["regular", "lfs", "lfs", "regular"]);
    assert_eq!(
        r["files"][0]["oid"],
        "ce013625030ba8dba906f756967f9e9ca394464a"
    );
    assert_eq!(r["files"][0]["shouldIgnore"], false);
}

#[tokio::test]
async fn commits_add_delete_and_check_parent() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/m", false).await;
    let first = app.head_of("alice/m", "main").await;
    let r = app
        .commit(
            "alice/m",
            "main",
            &alice,
            &[("d/a.txt", b"a"), ("d/b.txt", b"b"), ("c.txt", b"c")],
        )
        .await;
    let v: Value = r.json().await.expect("json");
    let second = v["commitOid"].as_str().expect("oid").to_string();
    assert_eq!(
        v["commitUrl"],
        format!("{}/alice/m/commit/{second}", app.url)
    );
    let body = [
        json!({"key": "header", "value": {"summary": "rm", "parentCommit": second}}),
        json!({"key": "deletedFolder", "value": {"path": "d/"}}),
        json!({"key": "deletedFile", "value": {"path": "c.txt"}}),
    ]
    .iter()
    .map(Value::to_string)
    .collect::<Vec<_>>()
    .join("\n");
    assert_eq!(
        app.raw_commit("alice/m", "main", &alice, body)
            .await
            .status(),
        StatusCode::OK
    );
    let files = app.json("/api/v1/repos/alice/m/manifest/main", None).await;
    assert_eq!(files["files"].as_array().expect("files").len(), 1);
    // a stale parent is refused and changes nothing
    let head = app.head_of("alice/m", "main").await;
    let stale = format!(
        "{}\n{}",
        json!({"key": "header", "value": {"summary": "x", "parentCommit": first}}),
        json!({"key": "file", "value": {"path": "z", "content": "eg==", "encoding": "base64"}})
    );
    assert_eq!(
        app.raw_commit("alice/m", "main", &alice, stale)
            .await
            .status(),
        StatusCode::PRECONDITION_FAILED
    );
    assert_eq!(app.head_of("alice/m", "main").await, head);
    // old revisions stay as they were
    let old = app
        .json(&format!("/api/v1/repos/alice/m/manifest/{second}"), None)
        .await;
    assert_eq!(old["files"].as_array().expect("files").len(), 4);
}

#[tokio::test]
async fn lfs_batch_put_verify_and_dedupe() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/m", false).await;
    let data = vec![42u8; 1 << 20];
    let oid = sha256_hex(&data);
    assert_eq!(
        app.lfs_upload("alice/m", &alice, data.clone()).await,
        StatusCode::OK
    );
    assert!(
        app.dir
            .path()
            .join("blobs/sha256")
            .join(&oid[..2])
            .join(&oid)
            .is_file()
    );
    // already stored: no actions
    let batch = app
        .lfs_batch("alice/m", &alice, json!([{"oid": oid, "size": data.len()}]))
        .await;
    assert!(batch["objects"][0].get("actions").is_none());
    let r = app
        .req(Method::POST, "/api/lfs/verify/alice/m", Some(&alice))
        .json(&json!({"oid": oid, "size": data.len()}))
        .send()
        .await
        .expect("verify");
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .req(Method::POST, "/api/lfs/verify/alice/m", Some(&alice))
        .json(&json!({"oid": sha256_hex(b"other"), "size": 5}))
        .send()
        .await
        .expect("verify");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
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
        app.store.blobs.size(&refused).await.is_some(),
        "stored while streaming"
    );
    let later = time::OffsetDateTime::now_utc().unix_timestamp() + 3 * 86_400;
    let r = app
        .store
        .collect_garbage(later, std::time::Duration::from_secs(24 * 3600), false)
        .await
        .expect("gc");
    assert!(r.blobs_removed >= 1, "{r:?}");
    assert!(app.store.blobs.size(&refused).await.is_none());
    assert!(
        app.store
            .db
            .blob_size(&refused)
            .await
            .expect("db")
            .is_none()
    );
    assert!(app.store.blobs.size(&kept).await.is_some());
    let r = app.get("/alice/m/resolve/main/kept.txt", None).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn branches_and_tags_are_deleted_with_an_event_but_never_main_or_a_released_tag() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let bob = app.user("bob", Scope::Write).await;
    app.repo("alice/m", false).await;
    app.commit("alice/m", "main", &alice, &[("a.txt", b"a")])
        .await;
    for (kind, body) in [("branch/dev", json!({})), ("tag/v1", json!({"tag": "v1"}))] {
        let path = if kind.starts_with("tag") {
            "/api/models/alice/m/tag/main".to_string()
        } else {
            format!("/api/models/alice/m/{kind}")
        };
        let r = app
            .req(Method::POST, &path, Some(&alice))
            .json(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::OK, "{kind}");
    }
    let delete = |path: &'static str, token: String| {
        let app = &app;
        async move {
            let r = app
                .req(Method::DELETE, path, Some(&token))
                .send()
                .await
                .expect("send");
            let s = r.status();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // Someone without write access cannot delete; the default branch is never deleted.
    let (s, _) = delete("/api/models/alice/m/branch/dev", bob.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = delete("/api/models/alice/m/branch/main", alice.clone()).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("default_branch"))
    );
    let (s, _) = delete("/api/models/alice/m/branch/dev", alice.clone()).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = delete("/api/models/alice/m/branch/dev", alice.clone()).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("revision_not_found"))
    );
    // A released revision's tag stays.
    let r = app
        .req(Method::POST, "/api/v1/repos/alice/m/releases", Some(&alice))
        .json(&json!({"revision": "v1"}))
        .send()
        .await
        .expect("release");
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap_or_default()
    );
    let (s, v) = delete("/api/models/alice/m/tag/v1", alice.clone()).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("tag_released"))
    );
    let events = app
        .store
        .db
        .events(Some("alice/m"), 100)
        .await
        .expect("events");
    let deleted: Vec<_> = events
        .iter()
        .filter(|(_, e)| e.action == "ref.deleted")
        .collect();
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].1.details["ref"], "dev");
}

#[tokio::test]
async fn deleting_a_missing_file_is_entry_not_found() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    app.repo("alice/m", false).await;
    let body = "{\"key\":\"header\",\"value\":{\"summary\":\"rm\"}}\n{\"key\":\"deletedFile\",\"value\":{\"path\":\"nope.txt\"}}\n";
    let r = app
        .req(
            Method::POST,
            "/api/models/alice/m/commit/main",
            Some(&alice),
        )
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.headers()["x-error-code"], "EntryNotFound");
}

#[tokio::test]
async fn a_deleted_repo_is_a_tombstone_missing_everywhere_whose_name_is_never_reused() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let bob = app.user("bob", Scope::Write).await;
    app.repo("alice/m", false).await;
    app.repo("alice/hidden", true).await;
    app.commit("alice/m", "main", &alice, &[("a.txt", b"a")])
        .await;
    assert_eq!(
        app.send_json(
            Method::POST,
            "/api/v1/repos/alice/m/releases",
            Some(&alice),
            json!({})
        )
        .await
        .0,
        StatusCode::CREATED
    );
    let delete = |name: &'static str, org: Option<&'static str>, token: Option<String>| {
        let app = &app;
        async move {
            let r = app
                .req(Method::DELETE, "/api/repos/delete", token.as_deref())
                .json(&json!({"name": name, "organization": org, "type": "model"}))
                .send()
                .await
                .expect("send");
            let s = r.status();
            let code = r
                .headers()
                .get("x-error-code")
                .and_then(|v| v.to_str().ok())
                .map(String::from);
            (s, code, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // Someone else: refused on a public repo, missing on a private one (as a missing repo is).
    let (s, _, _) = delete("m", Some("alice"), Some(bob.clone())).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let hidden = delete("hidden", Some("alice"), Some(bob.clone())).await;
    let missing = delete("nothing", Some("alice"), Some(bob.clone())).await;
    assert_eq!(hidden.0, StatusCode::NOT_FOUND);
    assert_eq!(hidden.1, missing.1);
    assert_eq!(
        hidden.2.to_string().replace("hidden", "X"),
        missing.2.to_string().replace("nothing", "X")
    );
    let (s, _, _) = delete("alice/m", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // The owner deletes it: every lookup by name answers missing.
    let (s, _, _) = delete("m", Some("alice"), Some(alice.clone())).await;
    assert_eq!(s, StatusCode::OK);
    for path in [
        "/api/models/alice/m",
        "/alice/m/resolve/main/a.txt",
        "/api/models/alice/m/tree/main",
    ] {
        assert_eq!(
            app.get(path, Some(&alice)).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let listed: Value = app
        .get("/api/models?author=alice", Some(&alice))
        .await
        .json()
        .await
        .expect("json");
    assert!(
        listed
            .as_array()
            .is_some_and(|a| a.iter().all(|m| m["id"] != "alice/m")),
        "{listed}"
    );
    // A second delete finds nothing; the name is never taken again.
    let (s, _, _) = delete("m", Some("alice"), Some(alice.clone())).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let r = app
        .req(Method::POST, "/api/repos/create", Some(&alice))
        .json(&json!({"name": "m", "organization": "alice"}))
        .send()
        .await
        .expect("send");
    assert_eq!(
        r.status(),
        StatusCode::GONE,
        "a 409 would let exist_ok pass"
    );
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"], "repo_deleted");
    // The release and the deletion stay on record.
    let events = app
        .store
        .db
        .events(Some("alice/m"), 100)
        .await
        .expect("events");
    let actions: Vec<&str> = events.iter().map(|(_, e)| e.action.as_str()).collect();
    assert!(
        actions.contains(&"repo.deleted") && actions.contains(&"release"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn a_duplicate_keeps_the_tier_and_needs_a_download_allow_on_the_source() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let bob = app.user("bob", Scope::Write).await;
    app.repo("alice/open", false).await;
    app.repo("alice/gated", false).await;
    app.repo("alice/private", true).await;
    for r in ["alice/open", "alice/gated", "alice/private"] {
        app.commit(
            r,
            "main",
            &alice,
            &[("config.json", b"{}"), ("w.bin", b"w")],
        )
        .await;
    }
    app.set_tier("alice/gated", weir_core::Tier::T2).await;
    let dup = |from: &'static str, to: &'static str, token: &str, vis: Option<&str>| {
        let (app, token) = (&app, token.to_string());
        let body = match vis {
            Some(v) => json!({"repository": to, "visibility": v}),
            None => json!({"repository": to}),
        };
        async move {
            app.send_json(
                Method::POST,
                &format!("/api/models/{from}/duplicate"),
                Some(&token),
                body,
            )
            .await
        }
    };
    // bob cannot download the T2 source: no copy, and nothing is created.
    let (s, _) = dup("alice/gated", "bob/copy", &bob, None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get("/api/models/bob/copy", Some(&bob)).await.status(),
        StatusCode::NOT_FOUND
    );
    // A private source is missing to bob.
    let (s, _) = dup("alice/private", "bob/copy", &bob, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Nor may he copy into a namespace he cannot create in.
    let (s, _) = dup("alice/open", "alice/theirs", &bob, None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A public T0 copy: same files, same tier.
    let (s, v) = dup("alice/open", "bob/copy", &bob, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["url"].as_str().is_some_and(|u| u.ends_with("/bob/copy")));
    let r = app.get("/bob/copy/resolve/main/w.bin", Some(&bob)).await;
    assert_eq!(r.status(), StatusCode::OK);
    // The owner copies the T2 repo: the copy is T2 from its first file on.
    let (s, v) = dup("alice/gated", "alice/gated-copy", &alice, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let info: Value = app
        .get("/api/models/alice/gated-copy", Some(&alice))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(info["weir"]["tier"], "T2");
    assert_eq!(
        app.get("/alice/gated-copy/resolve/main/w.bin", Some(&bob))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    // A private repo's copy stays private; an existing name is a conflict.
    let (s, v) = dup("alice/private", "alice/p2", &alice, Some("public")).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, _) = dup("alice/private", "alice/p2", &alice, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        app.get("/api/models/alice/p2", Some(&bob)).await.status(),
        StatusCode::NOT_FOUND
    );
    let (s, _) = dup("alice/open", "bob/copy", &bob, None).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(app.has_event("alice/gated-copy", "repo.duplicated").await);
}

#[tokio::test]
async fn a_repo_with_a_running_incident_is_not_deleted_and_a_deleted_ones_records_still_count() {
    use crate::incidents::{app_transition, post, report};
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let carol = app.user("carol", Scope::Read).await;
    let op = app.user("op", Scope::Admin).await;
    app.repo("alice/m", false).await;
    app.commit("alice/m", "main", &alice, &[("w.bin", b"w")])
        .await;
    let (s, v) = post(&app, "/api/v1/incidents", Some(&carol), report("alice/m")).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().expect("id").to_string();
    let delete = || async {
        app.req(Method::DELETE, "/api/repos/delete", Some(&alice))
            .json(&json!({"name": "alice/m"}))
            .send()
            .await
            .expect("send")
    };
    let r = delete().await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"], "incident_hold", "{v}");
    // Rejected: settled, and the repo may go; the incident stays in the operators' list.
    let (s, v) = app_transition(
        &app,
        &id,
        Some(&op),
        None,
        json!({"to": "rejected", "reason": "not reproducible"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(delete().await.status(), StatusCode::OK);
    let list: Value = app
        .get("/api/v1/incidents", Some(&op))
        .await
        .json()
        .await
        .expect("json");
    assert!(list.to_string().contains(&id), "{list}");
}

#[tokio::test]
async fn a_copy_derives_from_its_source_raises_cascade_and_holds_apply() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let carol = app.user("carol", Scope::Read).await;
    let op = app.user("op", Scope::Admin).await;
    app.repo("alice/src", false).await;
    app.commit("alice/src", "main", &alice, &[("w.bin", b"w")])
        .await;
    let v1 = app.head_of("alice/src", "main").await;
    let r = app
        .req(
            Method::POST,
            "/api/models/alice/src/duplicate",
            Some(&carol),
        )
        .json(&json!({"repository": "carol/copy"}))
        .send()
        .await
        .expect("send");
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "carol has no namespace of her own here"
    );
    assert_eq!(
        app.send_json(
            Method::POST,
            "/api/models/alice/src/duplicate",
            Some(&alice),
            json!({"repository": "alice/copy"})
        )
        .await
        .0,
        StatusCode::OK
    );
    // A hold on the source's copied revision holds the copy.
    crate::incidents::confirmed_hold(&app, "alice/src", &v1, &carol, &op).await;
    let r = app
        .get("/alice/copy/resolve/main/w.bin", Some(&carol))
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"], "incident_hold", "{v}");
    // A raise of the source reaches the copy (it is classified as a derivative).
    let (s, v) = app
        .send_json(
            Method::PUT,
            "/api/v1/repos/alice/src/tier",
            Some(&alice),
            json!({"tier": "T2"}),
        )
        .await;
    assert!(s.is_success(), "{v}");
    let t = crate::evals::tier(&app, "alice/copy").await;
    assert!(t >= weir_core::Tier::T2, "{t:?}");
}

#[tokio::test]
async fn super_squash_leaves_one_root_commit_with_the_same_files_and_keeps_the_old_ones() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let bob = app.user("bob", Scope::Write).await;
    app.repo("alice/m", false).await;
    app.commit("alice/m", "main", &alice, &[("a.txt", b"a")])
        .await;
    app.commit("alice/m", "main", &alice, &[("b.txt", b"b")])
        .await;
    let old = app.head_of("alice/m", "main").await;
    let squash = |token: String| {
        let app = &app;
        async move {
            app.req(
                Method::POST,
                "/api/models/alice/m/super-squash/main",
                Some(&token),
            )
            .json(&json!({"message": "squashed"}))
            .send()
            .await
            .expect("send")
        }
    };
    assert_eq!(squash(bob.clone()).await.status(), StatusCode::FORBIDDEN);
    let r = squash(alice.clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let commits: Value = app
        .get("/api/models/alice/m/commits/main", None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(commits.as_array().map(Vec::len), Some(1), "{commits}");
    assert_eq!(commits[0]["title"], "squashed");
    for p in ["a.txt", "b.txt"] {
        let r = app.get(&format!("/alice/m/resolve/main/{p}"), None).await;
        assert_eq!(r.status(), StatusCode::OK, "{p}");
    }
    // The old head still resolves by id (a release or tag may name it).
    let r = app
        .get(&format!("/alice/m/resolve/{old}/a.txt"), None)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(app.has_event("alice/m", "branch.squashed").await);
    assert_eq!(
        app.send_json(
            Method::POST,
            "/api/models/alice/m/super-squash/nope",
            Some(&alice),
            json!({})
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_moved_repo_redirects_from_its_former_name_to_those_who_may_see_it() {
    use crate::incidents::{post, report};
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let bob = app.user("bob", Scope::Write).await;
    let carol = app.user("carol", Scope::Read).await;
    app.repo("alice/m", false).await;
    app.repo("alice/hidden", true).await;
    app.commit("alice/m", "main", &alice, &[("a.txt", b"a")])
        .await;
    app.commit("alice/hidden", "main", &alice, &[("a.txt", b"a")])
        .await;
    let mv = |from: &'static str, to: &'static str, token: String| {
        let app = &app;
        async move {
            app.send_json(
                Method::POST,
                "/api/repos/move",
                Some(&token),
                json!({"fromRepo": from, "toRepo": to, "type": "model"}),
            )
            .await
        }
    };
    assert_eq!(
        mv("alice/m", "bob/m", bob.clone()).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        mv("alice/hidden", "bob/h", bob.clone()).await.0,
        StatusCode::NOT_FOUND
    );
    let (s, v) = mv("alice/m", "alice/n", alice.clone()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    for (old, new) in [
        ("/api/models/alice/m", "/api/models/alice/n"),
        ("/alice/m/resolve/main/a.txt", "/alice/n/resolve/main/a.txt"),
        (
            "/api/models/alice/m/tree/main?recursive=true",
            "/api/models/alice/n/tree/main?recursive=true",
        ),
    ] {
        let r = app.get(old, None).await;
        assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT, "{old}");
        assert_eq!(
            r.headers().get("location").and_then(|v| v.to_str().ok()),
            Some(new)
        );
    }
    assert_eq!(
        app.get("/api/models/alice/n", None).await.status(),
        StatusCode::OK
    );
    // The former name stays taken; moving back takes it again.
    assert_eq!(
        app.send_json(
            Method::POST,
            "/api/repos/create",
            Some(&alice),
            json!({"name": "m", "organization": "alice"})
        )
        .await
        .0,
        StatusCode::CONFLICT
    );
    let (s, _) = mv("alice/n", "alice/m", alice.clone()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        app.get("/api/models/alice/m", None).await.status(),
        StatusCode::OK
    );
    // A private repo's former name is missing to those who cannot see it.
    let (s, _) = mv("alice/hidden", "alice/hidden2", alice.clone()).await;
    assert_eq!(s, StatusCode::OK);
    let r = app.get("/api/models/alice/hidden", Some(&carol)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.headers().get("location").is_none());
    let r = app.get("/api/models/alice/hidden", Some(&alice)).await;
    assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
    // A repo with an incident record stays with its publisher.
    let (s, _) = post(&app, "/api/v1/incidents", Some(&carol), report("alice/m")).await;
    assert_eq!(s, StatusCode::CREATED);
    let _ = app.user("org2", Scope::Write).await;
    let (s, v) = mv("alice/m", "alice/m-renamed", alice.clone()).await;
    assert_eq!(s, StatusCode::OK, "renaming within the namespace: {v}");
    assert!(app.has_event("alice/m", "repo.moved").await);
}

#[tokio::test]
async fn a_former_name_is_never_freed_and_accountability_stays_with_the_publisher() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let carol = app.user("carol", Scope::Read).await;
    app.repo("alice/m", false).await;
    app.repo("alice/secret", true).await;
    app.commit("alice/m", "main", &alice, &[("a.txt", b"a")])
        .await;
    let mv = |from: &'static str, to: &'static str| {
        let (app, alice) = (&app, alice.clone());
        async move {
            app.send_json(
                Method::POST,
                "/api/repos/move",
                Some(&alice),
                json!({"fromRepo": from, "toRepo": to}),
            )
            .await
        }
    };
    // Moved, then deleted: the former name answers as the tombstone does, never reused.
    assert_eq!(mv("alice/m", "alice/m2").await.0, StatusCode::OK);
    assert_eq!(
        app.send_json(
            Method::DELETE,
            "/api/repos/delete",
            Some(&alice),
            json!({"name": "alice/m2"})
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(
        app.send_json(
            Method::POST,
            "/api/repos/create",
            Some(&alice),
            json!({"name": "alice/m"})
        )
        .await
        .0,
        StatusCode::GONE
    );
    // A private repo's former name stays private after the repo is made public.
    assert_eq!(mv("alice/secret", "alice/open-now").await.0, StatusCode::OK);
    assert!(
        app.send_json(
            Method::PUT,
            "/api/models/alice/open-now/settings",
            Some(&alice),
            json!({"private": false})
        )
        .await
        .0
        .is_success()
    );
    let r = app.get("/api/models/alice/secret", Some(&carol)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.headers().get("location").is_none());
    // A released repo stays in its namespace (the release is its publisher's record).
    app.repo("alice/r", false).await;
    app.commit("alice/r", "main", &alice, &[("a.txt", b"a")])
        .await;
    let r = app
        .req(Method::POST, "/api/v1/repos/alice/r/releases", Some(&alice))
        .json(&json!({}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::CREATED);
    let org2 = weir_core::Name::parse("org2").expect("name");
    app.store.db.create_org(&org2).await.expect("org");
    app.store
        .db
        .add_member(
            &org2,
            &weir_core::Name::parse("alice").expect("name"),
            "owner",
        )
        .await
        .expect("member");
    let (s, v) = mv("alice/r", "org2/r").await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"], "incident_hold");
    assert_eq!(mv("alice/r", "alice/r-renamed").await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_moved_base_still_passes_its_tier_and_a_held_head_is_not_squashed() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let mallory = app.user("mallory", Scope::Write).await;
    let carol = app.user("carol", Scope::Read).await;
    let op = app.user("op", Scope::Admin).await;
    app.repo("alice/base", false).await;
    app.commit("alice/base", "main", &alice, &[("w.bin", b"w")])
        .await;
    assert!(
        app.send_json(
            Method::PUT,
            "/api/v1/repos/alice/base/tier",
            Some(&alice),
            json!({"tier": "T2"})
        )
        .await
        .0
        .is_success()
    );
    assert_eq!(
        app.send_json(
            Method::POST,
            "/api/repos/move",
            Some(&alice),
            json!({"fromRepo": "alice/base", "toRepo": "alice/base2"})
        )
        .await
        .0,
        StatusCode::OK
    );
    // A fine-tune whose card names the former name inherits the base's tier.
    app.repo("mallory/ft", false).await;
    app.commit(
        "mallory/ft",
        "main",
        &mallory,
        &[("README.md", b"---\nbase_model: alice/base\n---\n")],
    )
    .await;
    let t = crate::evals::tier(&app, "mallory/ft").await;
    assert!(t >= weir_core::Tier::T2, "{t:?}");
    // A head under a hold is not squashed into a new, unheld commit.
    let head = app.head_of("alice/base2", "main").await;
    crate::incidents::confirmed_hold(&app, "alice/base2", &head, &carol, &op).await;
    assert_eq!(
        app.send_json(
            Method::POST,
            "/api/models/alice/base2/super-squash/main",
            Some(&alice),
            json!({})
        )
        .await
        .0,
        StatusCode::CONFLICT
    );
}

#[tokio::test]
async fn holds_reach_copies_of_copies_and_nothing_lands_on_a_tombstone() {
    let app = TestApp::new().await;
    let alice = app.user("alice", Scope::Write).await;
    let carol = app.user("carol", Scope::Read).await;
    let op = app.user("op", Scope::Admin).await;
    app.repo("alice/a", false).await;
    app.commit("alice/a", "main", &alice, &[("w.bin", b"w")])
        .await;
    let v1 = app.head_of("alice/a", "main").await;
    for (from, to) in [("alice/a", "alice/b"), ("alice/b", "alice/c")] {
        assert_eq!(
            app.send_json(
                Method::POST,
                &format!("/api/models/{from}/duplicate"),
                Some(&alice),
                json!({"repository": to})
            )
            .await
            .0,
            StatusCode::OK
        );
    }
    crate::incidents::confirmed_hold(&app, "alice/a", &v1, &carol, &op).await;
    let r = app.get("/alice/c/resolve/main/w.bin", Some(&carol)).await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "a copy of a copy is held too"
    );
    // A write decided before a delete does not land on the tombstone.
    let id = weir_core::RepoId::parse("alice/c").expect("id");
    let stale = app.store.db.repo(&id).await.expect("db").expect("repo");
    assert_eq!(
        app.send_json(
            Method::DELETE,
            "/api/repos/delete",
            Some(&alice),
            json!({"name": "alice/c"})
        )
        .await
        .0,
        StatusCode::OK
    );
    let (sha, size) = app
        .store
        .ingest_bytes_for(&stale, "late".into())
        .await
        .expect("ingest");
    let c = weir_store::NewCommit {
        branch: weir_core::RefName::main(),
        expected_parent: None,
        create_branch: false,
        ops: vec![weir_store::CommitOp::Add {
            path: weir_core::RepoPath::parse("late.txt").expect("path"),
            sha256: sha,
            size,
        }],
        author: weir_core::CommitSignature {
            name: "alice".into(),
            email: "a@x".into(),
            time: 1,
        },
        summary: "late".into(),
        description: String::new(),
    };
    assert!(matches!(
        app.store.commit(&stale, &c).await,
        Err(weir_store::StoreError::NotFound(_))
    ));
}
