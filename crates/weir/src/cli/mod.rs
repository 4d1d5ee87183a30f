//! One module per client verb, each with its `Args` and `run`, and what they share: the remote
//! (server URL and token), repo-id parsing, secret files.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};

pub mod access;
pub mod board;
pub mod classify;
pub mod config;
pub mod doc;
pub mod eval;
pub mod evidence;
pub mod export;
pub mod grant;
pub mod identity;
pub mod incident;
pub mod job;
pub mod log;
pub mod login;
pub mod notifications;
pub mod pool;
pub mod project;
pub mod publisher;
pub mod pull;
pub mod push;
pub mod release;
pub mod serve;
pub mod signoff;
pub mod tier;
pub mod token;
pub mod verify;

use weir_client::Client;
use weir_core::RepoId;
use weir_store::Store;

/// A check that answered "deny": already explained on stdout, so `main` only exits non-zero.
#[derive(Debug)]
pub struct Denied;

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("denied")
    }
}

impl std::error::Error for Denied {}

#[derive(clap::Args)]
pub struct Remote {
    /// Registry URL (default: the one 'weir login' saved, else http://127.0.0.1:8080).
    #[arg(long, global = true, env = "WEIR_SERVER")]
    pub server: Option<String>,
    /// API token (default: the one saved by 'weir login', sent only to the server it was saved
    /// for).
    #[arg(long, global = true, env = "WEIR_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// The server a CLI talks to when none is named and none was saved.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// What `weir login` saved: the token and the server it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Saved {
    pub server: String,
    pub token: String,
}

/// The same server, however its URL was written (`http://h:1/` and `http://h:1`).
pub fn same_server(a: &str, b: &str) -> bool {
    a.trim()
        .trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim().trim_end_matches('/'))
}

/// The saved login, if any. A file from before logins named their server (a bare token) belongs
/// to the default server.
pub fn saved_login() -> Option<Saved> {
    let text = std::fs::read_to_string(token_file()?).ok()?;
    match serde_json::from_str::<Saved>(&text) {
        Ok(s) => Some(s),
        Err(_) => {
            let token = text.trim();
            (!token.is_empty() && !token.starts_with('{')).then(|| Saved {
                server: DEFAULT_SERVER.to_string(),
                token: token.to_string(),
            })
        }
    }
}

pub fn repo_id(s: &str) -> Result<RepoId> {
    RepoId::parse(s).map_err(|e| anyhow!("{e}; example: acme/tiny-llama"))
}

/// `NS/NAME@REV` → (`NS/NAME`, `REV`), `main` when no revision is given.
pub fn split_rev(s: &str) -> (&str, &str) {
    s.split_once('@').unwrap_or((s, "main"))
}

/// Where `weir login` keeps the token.
pub fn token_file() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("WEIR_CONFIG_DIR") {
        return Some(PathBuf::from(dir).join("token"));
    }
    std::env::var("HOME")
        .ok()
        .map(|h| PathBuf::from(h).join(".config").join("weir").join("token"))
}

/// A client for the remote: the server named (else the one `weir login` saved, else the
/// default), with the token named, or the saved one when, and only when, it is the saved
/// token's own server: a saved token never travels to another server.
pub fn client(remote: &Remote) -> Result<Client> {
    let saved = saved_login();
    let server = remote
        .server
        .clone()
        .or_else(|| saved.as_ref().map(|s| s.server.clone()))
        .unwrap_or_else(|| DEFAULT_SERVER.to_string());
    let token = match &remote.token {
        Some(t) => Some(t.clone()),
        None => match saved {
            Some(s) if same_server(&s.server, &server) => Some(s.token),
            Some(s) => {
                eprintln!(
                    "note: the saved token is for {}, so it is not sent to {server}; run 'weir login --server {server}' to sign in there",
                    s.server
                );
                None
            }
            None => None,
        },
    };
    Ok(Client::new(&server, token)?)
}

/// Writes a new Ed25519 key pair: OUT (secret hex, 0600) and OUT.pub (public hex), and says
/// which operator command registers the public half.
pub fn ed25519_keygen(out: &Path, role: &str) -> Result<()> {
    let (secret, public) = weir_signing::generate_key();
    write_secret(out, secret.as_bytes())?;
    let pub_path = PathBuf::from(format!("{}.pub", out.display()));
    std::fs::write(&pub_path, format!("{public}\n"))
        .with_context(|| format!("writing {}", pub_path.display()))?;
    println!(
        "secret key: {} (keep it safe)\npublic key: {} (give it to the operator: weir admin {role} add NAME --key {})",
        out.display(),
        pub_path.display(),
        pub_path.display()
    );
    Ok(())
}

/// Writes a secret file with 0600 permissions.
pub fn write_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(weir_registry::keys::write_secret(path, bytes)?)
}

/// Opens the state of a registry: its data dir, the database at `database` when given (else the
/// SQLite file in the data dir), and the blobs on `blobs` when given (else the data dir's).
pub async fn open_store(
    data: &Path,
    database: Option<&str>,
    blobs: Option<&weir_store::S3Settings>,
) -> Result<Store> {
    Store::open_with(data, database, blobs)
        .await
        .with_context(|| match database {
            Some(url) => format!(
                "opening the database {} (data dir {})",
                weir_store::dialect::redacted(url),
                data.display()
            ),
            None => format!("opening the data dir {}", data.display()),
        })
}
