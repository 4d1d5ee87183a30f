//! weir's domain model, pure: no I/O, no async, no database, no HTTP.
//!
//! Everything that *decides* something about repos, paths, revisions and object ids lives here
//! and is unit-tested without I/O. Storage, the server and the client depend inward on this crate.

pub mod access;
pub mod board;
pub mod card;
pub mod eval;
pub mod event;
pub mod git;
pub mod grants;
pub mod identity;
pub mod ids;
pub mod incident;
pub mod ledger;
pub mod outputs;
pub mod path;
pub mod pickle;
pub mod policy;
pub mod research;
pub mod safetensors;
pub mod scope;
pub mod standing;
pub mod tier;

pub use access::{GrantState, RequestState, ReviewAction};
pub use event::Event;
pub use git::{CommitSignature, FileEntry, GitOid, TreeBuilder};
pub use identity::IdentityLevel;
pub use ids::{CommitId, IdError, Name, RefName, RepoId, Revision, Sha256Hex};
pub use path::{PathError, RepoPath};
pub use scope::Scope;
pub use tier::Tier;

/// Files at or above this size are stored and announced as LFS (sha256 ETag, `lfs` block).
pub const LFS_THRESHOLD: u64 = 10 * 1024 * 1024;

/// Largest content the Hub's `regular` upload mode (base64 inside the commit NDJSON) may carry.
/// The official client holds such files whole in memory, so we keep it small.
pub const MAX_REGULAR_FILE: u64 = LFS_THRESHOLD;

/// Extensions that are always LFS, whatever their size (weight and archive formats, as the Hub's
/// default `.gitattributes` lists them).
const LFS_EXTENSIONS: &[&str] = &[
    "7z",
    "arrow",
    "bin",
    "bz2",
    "ckpt",
    "ftz",
    "gguf",
    "gz",
    "h5",
    "joblib",
    "mlmodel",
    "model",
    "msgpack",
    "npy",
    "npz",
    "onnx",
    "ot",
    "parquet",
    "pb",
    "pickle",
    "pkl",
    "pt",
    "pth",
    "safetensors",
    "tar",
    "tflite",
    "tgz",
    "wasm",
    "xz",
    "zip",
    "zst",
];

/// Whether a file is an LFS file on the Hub surface. A property of the path and the size only, so
/// that it never depends on how the file happened to be uploaded.
pub fn is_lfs(path: &RepoPath, size: u64) -> bool {
    if size == 0 {
        return false;
    }
    if size >= LFS_THRESHOLD {
        return true;
    }
    let name = path.file_name();
    match name.rsplit_once('.') {
        Some((_, ext)) => LFS_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()),
        None => false,
    }
}

/// The `.gitattributes` every new repo starts with, listing [`LFS_EXTENSIONS`].
pub fn default_gitattributes() -> String {
    let mut s = String::new();
    for ext in LFS_EXTENSIONS {
        s.push_str(&format!("*.{ext} filter=lfs diff=lfs merge=lfs -text\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lfs_rule() {
        let p = |s: &str| RepoPath::parse(s).expect("valid path");
        assert!(is_lfs(&p("model.safetensors"), 10));
        assert!(is_lfs(&p("sub/WEIGHTS.BIN"), 10));
        assert!(!is_lfs(&p("model.safetensors"), 0));
        assert!(!is_lfs(&p("config.json"), 100));
        assert!(is_lfs(&p("config.json"), LFS_THRESHOLD));
        assert!(!is_lfs(&p("README"), 5));
    }
}
