//! One module per client verb, each with its `Args` and `run`, and what they share: the remote
//! (server URL and token), repo-id parsing, secret files.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};

pub mod access;
pub mod classify;
pub mod config;
pub mod doc;
pub mod eval;
pub mod evidence;
pub mod export;
pub mod identity;
pub mod incident;
pub mod log;
pub mod login;
pub mod notifications;
pub mod publisher;
pub mod pull;
pub mod push;
pub mod release;
pub mod serve;
pub mod signoff;
pub mod tier;
pub mod verify;

use weir_client::Client;
use weir_core::RepoId;
use weir_store::Store;

#[derive(clap::Args)]
pub struct Remote {
    /// Registry URL.
    #[arg(
        long,
        global = true,
        env = "WEIR_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    pub server: String,
    /// API token (default: the one saved by 'weir login').
    #[arg(long, global = true, env = "WEIR_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
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

/// A client for the remote, with its token or the one saved by `weir login`.
pub fn client(remote: &Remote) -> Result<Client> {
    let token = match &remote.token {
        Some(t) => Some(t.clone()),
        None => token_file()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|t| t.trim().to_string()),
    };
    Ok(Client::new(&remote.server, token)?)
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

/// Opens the data dir of a registry.
pub async fn open_store(data: &Path) -> Result<Store> {
    Store::open_data_dir(data)
        .await
        .with_context(|| format!("opening the data dir {}", data.display()))
}
