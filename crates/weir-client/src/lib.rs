//! weir's HTTP client, used by the CLI: push a directory, pull a revision.
//!
//! Invariant: it verifies what it downloads. Every file pulled is hashed while it streams and
//! compared with the SHA-256 of the revision's manifest before it is moved into place; a partial
//! download stays under `.weir/partial/` and resumes with `Range` on the next attempt.

mod access;
mod board;
mod eval;
mod funding;
mod grants;
mod incident;
mod jobs;
mod log;
pub mod pins;
mod pull;
mod push;
mod research;
pub mod verify;

use std::time::Duration;

use serde_json::Value;

pub use log::{Audit, LogCheck};
pub use pull::{PullOptions, PullOutcome};
pub use push::{PushOptions, PushOutcome};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server refused, with its machine code, message and hint.
    #[error("{}", weir_wire::with_next(message, next.as_deref()))]
    Api {
        status: u16,
        code: String,
        message: String,
        next: Option<String>,
    },
    #[error(
        "cannot reach {server}: {err}; check --server / WEIR_SERVER and that 'weir serve' is running"
    )]
    Connect { server: String, err: reqwest::Error },
    #[error("HTTP error: {0}")]
    Http(reqwest::Error),
    #[error("{path}: {err}")]
    Io { path: String, err: std::io::Error },
    #[error(
        "{path}: downloaded bytes hash to {got}, but the manifest says {expected}; the partial file was removed, run the command again"
    )]
    Integrity {
        path: String,
        expected: String,
        got: String,
    },
    #[error("{0}")]
    Invalid(String),
}

// Errors print as one line: the variants keep their causes in the message, not as `source()`,
// so the CLI's error chain does not repeat them.
impl From<reqwest::Error> for ClientError {
    fn from(e: reqwest::Error) -> ClientError {
        ClientError::Http(e)
    }
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

pub(crate) fn io_err(path: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> ClientError {
    let path = path.to_string();
    move |err| ClientError::Io { path, err }
}

/// A connection to one registry.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    server: String,
    token: Option<String>,
}

impl Client {
    pub fn new(server: &str, token: Option<String>) -> Result<Client> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("weir/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(60))
            .build()?;
        Ok(Client {
            http,
            server: server.trim_end_matches('/').to_string(),
            token: token.filter(|t| !t.is_empty()),
        })
    }

    pub fn server(&self) -> &str {
        &self.server
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server)
    }

    pub(crate) fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let rb = self.http.request(method, url);
        match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    /// Sends a request and turns an error status into [`ClientError::Api`].
    pub(crate) async fn send(&self, rb: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let resp = rb.send().await.map_err(|e| {
            if e.is_connect() {
                ClientError::Connect {
                    server: self.server.clone(),
                    err: e,
                }
            } else {
                ClientError::Http(e)
            }
        })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(api_error(resp).await)
    }

    pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T> {
        let resp = self
            .send(self.request(reqwest::Method::GET, &self.url(path)))
            .await?;
        Ok(resp.json().await?)
    }

    /// `GET /api/v1/tokens`: the tokens of `user` (default: your own; others' for operators).
    pub async fn list_tokens(&self, user: Option<&str>) -> Result<weir_wire::tokens::Tokens> {
        let path = match user {
            Some(u) => format!("/api/v1/tokens?user={}", encode_segment(u)),
            None => "/api/v1/tokens".to_string(),
        };
        self.get_json(&path).await
    }

    /// `DELETE /api/v1/tokens/{id}`: revokes a token; it stops working at once.
    pub async fn revoke_token(&self, id: i64) -> Result<weir_wire::tokens::Token> {
        self.call(
            reqwest::Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
            None::<&()>,
        )
        .await
    }

    /// `GET /api/whoami-v2`: the account name the token belongs to.
    pub async fn whoami(&self) -> Result<String> {
        let v: Value = self.get_json("/api/whoami-v2").await?;
        v["name"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| ClientError::Invalid("whoami answer without a name".into()))
    }
}

pub(crate) async fn api_error(resp: reqwest::Response) -> ClientError {
    let status = resp.status().as_u16();
    let header_msg = resp
        .headers()
        .get("x-error-message")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let code = body["error"].as_str().unwrap_or("http_error").to_string();
    let message = body["message"]
        .as_str()
        .map(str::to_string)
        .or(header_msg)
        .unwrap_or_else(|| format!("server answered HTTP {status}"));
    let next = body["next"].as_str().map(str::to_string);
    ClientError::Api {
        status,
        code,
        message,
        next,
    }
}

/// Feeds a file into `hasher` in 1 MiB reads, reporting each read to `progress`. Returns the
/// number of bytes, or `None` if the file does not exist.
pub(crate) async fn hash_into(
    path: &std::path::Path,
    hasher: &mut sha2::Sha256,
    mut progress: impl FnMut(u64),
) -> Result<Option<u64>> {
    use sha2::Digest;
    use tokio::io::AsyncReadExt;
    let mut f = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path.display())(e)),
    };
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).await.map_err(io_err(path.display()))?;
        if k == 0 {
            return Ok(Some(n));
        }
        hasher.update(&buf[..k]);
        n += k as u64;
        progress(k as u64);
    }
}

/// Percent-encodes a revision for a path segment (`feature/x` → `feature%2Fx`).
pub(crate) fn encode_segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Percent-encodes a file path, keeping `/` between segments.
pub(crate) fn encode_path(p: &str) -> String {
    p.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}
