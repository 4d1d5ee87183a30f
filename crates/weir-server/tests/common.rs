use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use weir_core::git::CommitSignature;
use weir_core::{Name, RepoId, Scope};
use weir_server::{AppState, ServerConfig};
use weir_store::Store;

pub struct TestApp {
    pub url: String,
    pub store: Store,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

impl TestApp {
    pub async fn new() -> TestApp {
        TestApp::with(|_| {}).await
    }

    /// A test app whose server configuration `adjust` changes first.
    pub async fn with(adjust: impl FnOnce(&mut ServerConfig)) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open_data_dir(dir.path()).await.expect("open store");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let mut config = ServerConfig {
            public_url: url.clone(),
            upload_key: vec![7; 32],
            upload_link_ttl_secs: 600,
            log_signer: weir_tlog::note::Signer::from_seed(
                &weir_registry::settings::log_origin(&url),
                [7; 32],
            )
            .expect("log key"),
            log_interval_ms: 50,
            release_key: weir_signing::model_signing::ReleaseKey::generate(),
            osv_prefix: "x_WEIR".into(),
            // The tests' webhook receivers listen on loopback.
            allow_private_webhooks: true,
            limits: Default::default(),
        };
        adjust(&mut config);
        let state = AppState::new(store.clone(), config);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(weir_server::serve(listener, state, async {
            let _ = rx.await;
        }));
        TestApp {
            url,
            store,
            http: reqwest::Client::new(),
            dir,
            shutdown: Some(tx),
        }
    }

    /// Adds a user with a token of the given scope; returns the token.
    pub async fn user(&self, name: &str, scope: Scope) -> String {
        let n = Name::parse(name).expect("name");
        if self.store.db.account(name).await.expect("db").is_none() {
            self.store
                .db
                .create_user(&n, Some(&format!("{name}@example.org")), false)
                .await
                .expect("user");
        }
        self.store
            .db
            .create_token(&n, scope, "test")
            .await
            .expect("token")
    }

    pub async fn org(&self, name: &str, members: &[&str]) {
        let n = Name::parse(name).expect("name");
        self.store.db.create_org(&n).await.expect("org");
        for m in members {
            self.store
                .db
                .add_member(&n, &Name::parse(m).expect("name"), "member")
                .await
                .expect("member");
        }
    }

    pub async fn repo(&self, id: &str, private: bool) {
        let sig = CommitSignature {
            name: "t".into(),
            email: "t@x".into(),
            time: 1,
        };
        self.store
            .create_repo(&RepoId::parse(id).expect("id"), private, sig)
            .await
            .expect("repo");
    }

    pub fn req(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let rb = self.http.request(method, format!("{}{path}", self.url));
        match token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.req(Method::GET, path, token)
            .send()
            .await
            .expect("send")
    }

    pub async fn json(&self, path: &str, token: Option<&str>) -> Value {
        let r = self.get(path, token).await;
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.expect("json")
    }

    /// Commits small files through the NDJSON endpoint; returns the response.
    pub async fn commit(
        &self,
        repo: &str,
        branch: &str,
        token: &str,
        files: &[(&str, &[u8])],
    ) -> Response {
        use base64::Engine;
        let mut body = json!({"key": "header", "value": {"summary": "test commit"}}).to_string();
        for (path, content) in files {
            body.push('\n');
            let b64 = base64::engine::general_purpose::STANDARD.encode(content);
            body.push_str(&json!({"key": "file", "value": {"path": path, "content": b64, "encoding": "base64"}}).to_string());
        }
        self.raw_commit(repo, branch, token, body).await
    }

    pub async fn raw_commit(
        &self,
        repo: &str,
        branch: &str,
        token: &str,
        body: String,
    ) -> Response {
        self.req(
            Method::POST,
            &format!("/api/models/{repo}/commit/{branch}"),
            Some(token),
        )
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .expect("send")
    }

    /// POSTs an LFS batch upload request for `objects` (`[{"oid","size"}]`); returns the JSON.
    pub async fn lfs_batch(&self, repo: &str, token: &str, objects: Value) -> Value {
        self.req(Method::POST, &format!("/{repo}.git/info/lfs/objects/batch"), Some(token))
            .header("content-type", "application/vnd.git-lfs+json")
            .body(json!({"operation": "upload", "transfers": ["basic"], "objects": objects, "hash_algo": "sha256"}).to_string())
            .send()
            .await
            .expect("batch")
            .json()
            .await
            .expect("json")
    }

    /// Uploads one object through the LFS batch API; returns the PUT status.
    pub async fn lfs_upload(&self, repo: &str, token: &str, bytes: Vec<u8>) -> reqwest::StatusCode {
        let oid = sha256_hex(&bytes);
        let batch = self
            .lfs_batch(repo, token, json!([{"oid": oid, "size": bytes.len()}]))
            .await;
        let Some(href) = batch["objects"][0]["actions"]["upload"]["href"].as_str() else {
            return reqwest::StatusCode::OK; // already stored
        };
        self.http
            .put(href)
            .body(bytes)
            .send()
            .await
            .expect("put")
            .status()
    }

    pub async fn head_of(&self, repo: &str, rev: &str) -> String {
        let v = self
            .json(&format!("/api/models/{repo}/revision/{rev}"), None)
            .await;
        v["sha"].as_str().expect("sha").to_string()
    }

    pub fn temp_files(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("blobs").join("tmp"))
            .expect("tmp")
            .count()
    }
}

/// The event an operator change made in a test is committed with.
pub fn admin_event(action: &str) -> weir_core::Event {
    weir_registry::Context::local("operator", "test").event(
        1,
        action,
        None,
        "test",
        serde_json::json!({}),
    )
}
