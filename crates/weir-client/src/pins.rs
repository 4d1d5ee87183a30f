//! Trust on first use, per registry: the keys a client has pinned (the log's verifier key, the
//! release public key) and the last checkpoint it verified, in
//! `$WEIR_CONFIG_DIR/logs/<server>/` (default `~/.config/weir`).

use std::future::Future;
use std::path::PathBuf;

use crate::{ClientError, Result, io_err};

/// The client's config dir: `$WEIR_CONFIG_DIR`, else `~/.config/weir`.
pub fn config_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("WEIR_CONFIG_DIR") {
        return Some(PathBuf::from(dir));
    }
    std::env::var("HOME")
        .ok()
        .map(|h| PathBuf::from(h).join(".config").join("weir"))
}

/// Where this client keeps a registry's pinned keys and last verified checkpoint (created).
pub fn state_dir(server: &str) -> Result<PathBuf> {
    let name: String = server
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let dir = config_dir()
        .ok_or_else(|| {
            ClientError::Invalid("cannot find a config dir; set WEIR_CONFIG_DIR".into())
        })?
        .join("logs")
        .join(name);
    std::fs::create_dir_all(&dir).map_err(io_err(dir.display()))?;
    Ok(dir)
}

/// How a pinned key was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pinned {
    /// It was pinned before (or given and matching).
    Known,
    /// It was given explicitly and is now pinned.
    Given,
    /// It was fetched from the server and pinned on first use.
    FirstUse,
}

/// The key `file` pinned for `server`: the one given (which must match an existing pin), else
/// the pinned one, else the one `fetch` obtains, pinned on first use.
pub async fn key(
    server: &str,
    file: &str,
    given: Option<String>,
    fetch: impl Future<Output = Result<String>>,
) -> Result<(String, Pinned)> {
    let path = state_dir(server)?.join(file);
    let pinned = std::fs::read_to_string(&path).ok();
    match (given, pinned) {
        (Some(k), Some(p)) if k.trim() != p.trim() => Err(ClientError::Invalid(format!(
            "the key given differs from the one pinned for {server} in {}; remove that file to re-pin",
            path.display()
        ))),
        (Some(k), Some(_)) => Ok((k, Pinned::Known)),
        (Some(k), None) => {
            std::fs::write(&path, &k).map_err(io_err(path.display()))?;
            Ok((k, Pinned::Given))
        }
        (None, Some(p)) => Ok((p, Pinned::Known)),
        (None, None) => {
            let k = fetch.await?;
            std::fs::write(&path, &k).map_err(io_err(path.display()))?;
            Ok((k, Pinned::FirstUse))
        }
    }
}

/// The last checkpoint this client verified under `name` for `server`, if any.
pub fn seen(server: &str, name: &str) -> Result<Option<String>> {
    Ok(std::fs::read_to_string(state_dir(server)?.join(name)).ok())
}

/// Remembers a verified checkpoint under `name` for `server`.
pub fn remember(server: &str, name: &str, text: &str) -> Result<()> {
    let path = state_dir(server)?.join(name);
    std::fs::write(&path, text).map_err(io_err(path.display()))
}
