//! The test app: a real registry (SQLite in a temp dir, real blobs, the real router with its
//! middleware and background sequencer) driven in process through `Router::oneshot`, with a
//! request builder and response shaped like reqwest's so the tests read like HTTP. Tests of the
//! connection layer (slow clients, connection caps) use [`TestApp::live`], a real server on a
//! loopback port reached over TCP.

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http_body_util::BodyExt;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use weir_core::git::CommitSignature;
use weir_core::{Name, RepoId, Scope};
use weir_server::{AppState, ServerConfig};
use weir_store::Store;

pub struct TestApp {
    /// The registry's public URL (nothing listens there: requests go through the router).
    pub url: String,
    pub store: Store,
    pub dir: tempfile::TempDir,
    router: Router,
    /// Set for a live app: the HTTP client its requests go through, and the server's shutdown.
    live: Option<(reqwest::Client, tokio::sync::oneshot::Sender<()>)>,
    /// The research environment, for apps made by [`TestApp::with_enclave`].
    pub enclave: Option<std::sync::Arc<weir_registry::jobs::Enclave>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some((_, tx)) = self.live.take() {
            let _ = tx.send(());
        }
    }
}

/// A request to the test app, built like reqwest's.
pub struct TestRequest {
    router: Router,
    /// For a live app: the client and the server's base URL.
    live: Option<(reqwest::Client, String)>,
    method: Method,
    uri: String,
    headers: HeaderMap,
    body: Bytes,
}

impl TestRequest {
    pub fn header(mut self, name: &str, value: impl AsRef<str>) -> TestRequest {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("header name");
        let value = HeaderValue::from_str(value.as_ref()).expect("header value");
        self.headers.append(name, value);
        self
    }

    pub fn bearer_auth(self, token: impl AsRef<str>) -> TestRequest {
        let v = format!("Bearer {}", token.as_ref());
        self.header("authorization", v)
    }

    pub fn body(mut self, body: impl Into<Bytes>) -> TestRequest {
        self.body = body.into();
        self
    }

    pub fn json(mut self, v: &impl serde::Serialize) -> TestRequest {
        self.body = serde_json::to_vec(v).expect("json body").into();
        if !self.headers.contains_key("content-type") {
            self = self.header("content-type", "application/json");
        }
        self
    }

    /// Sends it through the router, as the connection layer would (with a loopback client
    /// address).
    pub async fn send(self) -> Result<Response, std::convert::Infallible> {
        if let Some((http, base)) = self.live {
            let r = http
                .request(self.method, format!("{base}{}", self.uri))
                .headers(self.headers)
                .body(self.body)
                .send()
                .await
                .expect("send over TCP");
            let status = r.status();
            let headers = r.headers().clone();
            let body = r.bytes().await.unwrap_or_default();
            return Ok(Response {
                status,
                headers,
                body,
            });
        }
        let mut req = http::Request::builder()
            .method(self.method)
            .uri(&self.uri)
            .body(Body::from(self.body))
            .expect("request");
        *req.headers_mut() = self.headers;
        req.extensions_mut().insert(weir_server::conn::ClientAddr(
            ([127, 0, 0, 1], 40000).into(),
        ));
        let resp = self.router.oneshot(req).await?;
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        Ok(Response {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

/// A response of the test app, read like reqwest's.
#[derive(Debug)]
pub struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Response {
    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    pub async fn json<T: serde::de::DeserializeOwned>(self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    pub async fn text(self) -> Result<String, std::string::FromUtf8Error> {
        String::from_utf8(self.body.to_vec())
    }

    pub async fn bytes(self) -> Result<Bytes, std::convert::Infallible> {
        Ok(self.body)
    }
}

pub fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

impl TestApp {
    /// Every byte the database holds, as the disk or the server keeps it: the SQLite file and
    /// its WAL, or every PostgreSQL row as text. For checks that a secret is never stored.
    pub async fn stored_bytes(&self) -> Vec<u8> {
        match self.store.db.backend() {
            weir_store::Backend::Sqlite => {
                let mut bytes = std::fs::read(self.dir.path().join("weir.db")).expect("db file");
                bytes
                    .extend(std::fs::read(self.dir.path().join("weir.db-wal")).unwrap_or_default());
                bytes
            }
            weir_store::Backend::Postgres => self.store.db.every_row_as_text().await.expect("rows"),
        }
    }

    pub async fn new() -> TestApp {
        TestApp::with(|_| {}).await
    }

    /// A test app whose server configuration `adjust` changes first.
    pub async fn with(adjust: impl FnOnce(&mut ServerConfig)) -> TestApp {
        TestApp::build(None, adjust, None).await
    }

    /// A test app with a research environment: a real sandbox (root, bubblewrap, the slot
    /// users), its work dir in `work`. `None` where the machine has no sandbox, unless
    /// `WEIR_ENCLAVE_REQUIRED` is set (then that is a failure). `autostart: false` leaves the
    /// queue runner to the test (`weir_registry::jobs::run_queue`).
    pub async fn with_enclave(work: &std::path::Path, autostart: bool) -> Option<TestApp> {
        let cfg = weir_enclave::SandboxConfig::new(work.join("enclave"));
        let sandbox = match weir_enclave::Sandbox::open(&cfg) {
            Ok(s) => s,
            Err(e) if std::env::var_os("WEIR_ENCLAVE_REQUIRED").is_some() => {
                panic!("the sandbox is required here and cannot start: {e}")
            }
            Err(e) => {
                eprintln!("SKIPPED (no sandbox on this machine: {e}); .ci/run installs it");
                return None;
            }
        };
        let limits = weir_enclave::Limits {
            memory_bytes: 256 << 20,
            wall: std::time::Duration::from_secs(30),
            ..weir_enclave::Limits::default()
        };
        let mut enclave = weir_registry::jobs::Enclave::new(sandbox, limits);
        enclave.autostart = autostart;
        Some(TestApp::build(None, |_| {}, Some(enclave)).await)
    }

    /// A real server on a loopback port, for the tests of the connection layer.
    pub async fn live(adjust: impl FnOnce(&mut ServerConfig)) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        TestApp::build(Some(listener), adjust, None).await
    }

    async fn build(
        listener: Option<tokio::net::TcpListener>,
        adjust: impl FnOnce(&mut ServerConfig),
        enclave: Option<weir_registry::jobs::Enclave>,
    ) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open_test(dir.path()).await.expect("open store");
        // Only this process's own marks may make a change visible (never the poll interval):
        // every test that changes something and reads it back checks that no write path
        // forgets to mark (see weir_store::cache).
        store
            .db
            .set_state_poll(std::time::Duration::from_secs(3600));
        let url = match &listener {
            Some(l) => format!("http://{}", l.local_addr().expect("addr")),
            None => "http://weir.test".to_string(),
        };
        let mut config = test_config(&url);
        adjust(&mut config);
        let mut state = AppState::new(store.clone(), config);
        if let Some(e) = enclave {
            state = state.with_enclave(e);
        }
        let enclave = state.enclave.clone();
        let (router, live) = match listener {
            Some(l) => {
                let (tx, rx) = tokio::sync::oneshot::channel::<()>();
                let router = weir_server::router(state.clone());
                tokio::spawn(weir_server::serve(l, state, async {
                    let _ = rx.await;
                }));
                (router, Some((reqwest::Client::new(), tx)))
            }
            None => (weir_server::start(state).await, None),
        };
        TestApp {
            url,
            store,
            dir,
            router,
            live,
            enclave,
        }
    }

    /// Another replica of this registry: a second server, with a store of its own (its own
    /// pools, caches and per-process state) on the same database, blobs and data dir.
    pub async fn replica(&self) -> TestApp {
        let store = self
            .store
            .open_another(self.dir.path())
            .await
            .expect("open the replica's store");
        let state = AppState::new(store.clone(), test_config(&self.url));
        TestApp {
            url: self.url.clone(),
            store,
            dir: tempfile::tempdir().expect("tempdir"),
            router: weir_server::start(state).await,
            live: None,
            enclave: None,
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

    /// An org with `owner` as its owner.
    pub async fn org_owned_by(&self, org: &str, owner: &str) {
        self.org(org, &[]).await;
        self.store
            .db
            .add_member(
                &Name::parse(org).expect("org"),
                &Name::parse(owner).expect("owner"),
                "owner",
            )
            .await
            .expect("owner");
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

    /// A request to `path` (or to a full URL the registry gave out, on its public URL).
    pub fn req(&self, method: Method, path: &str, token: Option<&str>) -> TestRequest {
        let uri = path.strip_prefix(self.url.as_str()).unwrap_or(path);
        let rb = TestRequest {
            router: self.router.clone(),
            live: self
                .live
                .as_ref()
                .map(|(http, _)| (http.clone(), self.url.clone())),
            method,
            uri: uri.to_string(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
        };
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

    /// Sends a JSON body; the status and the JSON answer (null when it is not JSON).
    pub async fn send_json(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> (StatusCode, Value) {
        let r = self
            .req(method, path, token)
            .json(&body)
            .send()
            .await
            .expect("send");
        let s = r.status();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    /// Sets a repo's tier directly in the store (the setup of a gated-repo test).
    pub async fn set_tier(&self, repo: &str, tier: weir_core::Tier) {
        let id = RepoId::parse(repo).expect("repo id");
        let r = self.store.db.repo(&id).await.expect("db").expect("repo");
        self.store.db.set_tier(&r, tier).await.expect("tier");
    }

    /// Whether an event of `action` about `repo` was recorded (among its latest 100).
    pub async fn has_event(&self, repo: &str, action: &str) -> bool {
        self.store
            .db
            .events(Some(repo), 100)
            .await
            .expect("events")
            .iter()
            .any(|(_, e)| e.action == action)
    }

    /// Releases `main` of `repo` (`POST /api/v1/repos/{repo}/releases`).
    pub async fn release(&self, repo: &str, token: &str) -> (StatusCode, Value) {
        self.send_json(
            Method::POST,
            &format!("/api/v1/repos/{repo}/releases"),
            Some(token),
            serde_json::json!({}),
        )
        .await
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
    pub async fn lfs_upload(&self, repo: &str, token: &str, bytes: Vec<u8>) -> StatusCode {
        let oid = sha256_hex(&bytes);
        let batch = self
            .lfs_batch(repo, token, json!([{"oid": oid, "size": bytes.len()}]))
            .await;
        let Some(href) = batch["objects"][0]["actions"]["upload"]["href"].as_str() else {
            return StatusCode::OK; // already stored
        };
        self.req(Method::PUT, href, None)
            .body(bytes)
            .send()
            .await
            .expect("put")
            .status()
    }

    /// The signed checkpoint once the sequencer has integrated everything pending: the same
    /// checkpoint across several sequencer intervals (50 ms each).
    pub async fn settled_checkpoint(&self) -> String {
        let mut last = String::new();
        for _ in 0..100 {
            let cp = self
                .get("/log/checkpoint", None)
                .await
                .text()
                .await
                .expect("checkpoint");
            if cp == last {
                return cp;
            }
            last = cp;
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        panic!("the log never settled: {last}");
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

/// The tests' server configuration for a registry at `url`.
fn test_config(url: &str) -> ServerConfig {
    ServerConfig {
        public_url: url.to_string(),
        upload_key: vec![7; 32],
        upload_link_ttl_secs: 600,
        log_signer: weir_tlog::note::Signer::from_seed(
            &weir_registry::settings::log_origin(url),
            [7; 32],
        )
        .expect("log key"),
        log_interval_ms: 50,
        release_key: weir_signing::model_signing::ReleaseKey::generate(),
        osv_prefix: "x_WEIR".into(),
        currency: weir_registry::funding::Currency::default(),
        // The tests' webhook receivers listen on loopback.
        allow_private_webhooks: true,
        metrics_public: false,
        limits: Default::default(),
        blob_redirect_ttl_secs: None,
    }
}
