//! Kill the server (SIGKILL) in the middle of a large upload: no partial blob may become visible,
//! and the database must be usable after a restart.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Server, ok, weir};

const SIZE: u64 = 512 * 1024 * 1024;

#[test]
fn crash_during_upload_leaves_no_partial_blob() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(&dir.path().join("data"));
    let token = server.user_with_token("alice");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let http = reqwest::Client::new();

    // A large object we will never finish sending: its declared digest is of zeros.
    let oid = {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..(SIZE >> 20) {
            h.update(&chunk);
        }
        hex::encode(h.finalize())
    };
    let href = rt.block_on(async {
        let r = http
            .post(format!("{}/api/repos/create", server.url))
            .bearer_auth(&token)
            .json(&json!({"name": "big"}))
            .send()
            .await
            .expect("create");
        assert!(r.status().is_success());
        let batch: Value = http
            .post(format!(
                "{}/alice/big.git/info/lfs/objects/batch",
                server.url
            ))
            .bearer_auth(&token)
            .json(&json!({"operation": "upload", "objects": [{"oid": oid, "size": SIZE}]}))
            .send()
            .await
            .expect("batch")
            .json()
            .await
            .expect("json");
        batch["objects"][0]["actions"]["upload"]["href"]
            .as_str()
            .expect("href")
            .to_string()
    });

    // Stream zeros slowly so the kill lands mid-upload.
    let upload = {
        let http = http.clone();
        let href = href.clone();
        rt.spawn(async move {
            let stream = futures::stream::unfold(0u64, |sent| async move {
                if sent >= SIZE {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
                Some((
                    Ok::<_, std::io::Error>(bytes::Bytes::from(vec![0u8; 1 << 20])),
                    sent + (1 << 20),
                ))
            });
            let _ = http
                .put(href)
                .header("content-length", SIZE)
                .body(reqwest::Body::wrap_stream(stream))
                .send()
                .await;
        })
    };
    let tmp = server.data.join("blobs").join("tmp");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let partial: u64 = std::fs::read_dir(&tmp)
            .expect("tmp")
            .filter_map(|e| e.ok()?.metadata().ok())
            .map(|m| m.len())
            .sum();
        if partial > 20 * 1024 * 1024 {
            break;
        }
        assert!(Instant::now() < deadline, "upload never progressed");
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill();
    upload.abort();
    let blob = server.data.join("blobs/sha256").join(&oid[..2]).join(&oid);
    assert!(
        std::fs::read_dir(&tmp).expect("tmp").count() > 0,
        "the crash left a temp file (the test is meaningful)"
    );
    assert!(!blob.exists(), "no partial blob under its address");

    server.restart();
    assert_eq!(
        std::fs::read_dir(&tmp).expect("tmp").count(),
        0,
        "temp files are removed at startup"
    );
    assert!(!blob.exists());
    // The database is usable: the operator and clients carry on.
    ok(&server.admin(&["user", "add", "bob"]));
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::write(src.join("a.txt"), b"after the crash\n").expect("write");
    let out = ok(&weir(
        &["push", src.to_str().expect("utf8"), "alice/big"],
        &[
            ("WEIR_SERVER", server.url.as_str()),
            ("WEIR_TOKEN", token.as_str()),
        ],
    ));
    assert!(out.contains("pushed alice/big@main"), "{out}");
    // the repo lists no trace of the interrupted object
    let manifest: Value = rt.block_on(async {
        http.get(format!(
            "{}/api/v1/repos/alice/big/manifest/main",
            server.url
        ))
        .send()
        .await
        .expect("manifest")
        .json()
        .await
        .expect("json")
    });
    assert_eq!(manifest["files"].as_array().expect("files").len(), 2);
}
