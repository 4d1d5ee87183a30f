//! Git-compatible object ids, so that revisions look and behave like the Hub's: a file's `oid` is
//! the git blob SHA-1 (of its LFS pointer for LFS files), directories have tree ids, and a commit
//! id is the SHA-1 of a real git commit object over the root tree. Pure functions over bytes.

use std::collections::BTreeMap;

use sha1::{Digest, Sha1};

use crate::ids::{CommitId, Sha256Hex};
use crate::path::RepoPath;

/// A 40-hex git object id (SHA-1).
pub type GitOid = String;

/// One file of a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub path: RepoPath,
    pub sha256: Sha256Hex,
    pub size: u64,
    /// Git blob id of the content (regular files) or of the LFS pointer (LFS files).
    pub git_oid: GitOid,
    pub lfs: bool,
}

/// Incremental git blob hasher: `sha1("blob <len>\0" ++ content)`. The length must be known
/// up front, as in git.
pub struct BlobHasher(Sha1);

impl BlobHasher {
    pub fn new(len: u64) -> BlobHasher {
        let mut h = Sha1::new();
        h.update(format!("blob {len}\0").as_bytes());
        BlobHasher(h)
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish(self) -> GitOid {
        hex::encode(self.0.finalize())
    }
}

pub fn blob_oid(content: &[u8]) -> GitOid {
    let mut h = BlobHasher::new(content.len() as u64);
    h.update(content);
    h.finish()
}

/// The Git LFS pointer file for a blob (spec v1).
pub fn lfs_pointer(sha256: &Sha256Hex, size: u64) -> String {
    format!("version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n")
}

pub fn lfs_pointer_oid(sha256: &Sha256Hex, size: u64) -> GitOid {
    blob_oid(lfs_pointer(sha256, size).as_bytes())
}

#[derive(Default)]
struct Dir {
    files: BTreeMap<String, [u8; 20]>,
    dirs: BTreeMap<String, Dir>,
}

fn oid_bytes(hex_oid: &str) -> [u8; 20] {
    let mut out = [0u8; 20];
    // Oids come from our own hashers; a malformed one is a programming error, hashed as zeros.
    let _ = hex::decode_to_slice(hex_oid, &mut out);
    out
}

/// Computes the git tree ids of a set of files: the root and every directory.
pub struct TreeBuilder {
    root: Dir,
}

impl Default for TreeBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TreeBuilder {
    pub fn new() -> TreeBuilder {
        TreeBuilder {
            root: Dir::default(),
        }
    }

    pub fn add(&mut self, path: &RepoPath, git_oid: &str) {
        let mut dir = &mut self.root;
        let mut segs = path.as_str().split('/').peekable();
        while let Some(seg) = segs.next() {
            if segs.peek().is_none() {
                dir.files.insert(seg.to_string(), oid_bytes(git_oid));
            } else {
                dir = dir.dirs.entry(seg.to_string()).or_default();
            }
        }
    }

    /// Returns the root tree id and the tree id of every directory, keyed by its path.
    pub fn finish(self) -> (GitOid, BTreeMap<String, GitOid>) {
        let mut dirs = BTreeMap::new();
        let root = hash_dir(&self.root, "", &mut dirs);
        (root, dirs)
    }
}

fn hash_dir(dir: &Dir, prefix: &str, out: &mut BTreeMap<String, GitOid>) -> GitOid {
    // Git orders tree entries by name, comparing directories as if they ended in '/'.
    let mut entries: Vec<(Vec<u8>, &'static str, String, [u8; 20])> = Vec::new();
    for (name, oid) in &dir.files {
        entries.push((name.as_bytes().to_vec(), "100644", name.clone(), *oid));
    }
    for (name, sub) in &dir.dirs {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        let oid = hash_dir(sub, &path, out);
        out.insert(path, oid.clone());
        let mut key = name.as_bytes().to_vec();
        key.push(b'/');
        entries.push((key, "40000", name.clone(), oid_bytes(&oid)));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut body = Vec::new();
    for (_, mode, name, oid) in entries {
        body.extend_from_slice(mode.as_bytes());
        body.push(b' ');
        body.extend_from_slice(name.as_bytes());
        body.push(0);
        body.extend_from_slice(&oid);
    }
    let mut h = Sha1::new();
    h.update(format!("tree {}\0", body.len()).as_bytes());
    h.update(&body);
    hex::encode(h.finalize())
}

/// Who made a commit and when (unix seconds, UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitSignature {
    pub name: String,
    pub email: String,
    pub time: i64,
}

/// Builds the git commit object text and returns its id.
pub fn commit_oid(
    tree: &str,
    parent: Option<&CommitId>,
    sig: &CommitSignature,
    message: &str,
) -> CommitId {
    let clean = |s: &str| s.replace(['<', '>', '\n'], "");
    let who = format!(
        "{} <{}> {} +0000",
        clean(&sig.name),
        clean(&sig.email),
        sig.time
    );
    let mut body = format!("tree {tree}\n");
    if let Some(p) = parent {
        body.push_str(&format!("parent {p}\n"));
    }
    body.push_str(&format!("author {who}\ncommitter {who}\n\n{message}"));
    if !message.ends_with('\n') {
        body.push('\n');
    }
    let mut h = Sha1::new();
    h.update(format!("commit {}\0", body.len()).as_bytes());
    h.update(body.as_bytes());
    let hex = hex::encode(h.finalize());
    // A SHA-1 hex digest is always 40 lowercase hex digits.
    CommitId::parse(&hex).unwrap_or_else(|_| unreachable!("sha1 hex is 40 lowercase hex digits"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors from `git hash-object` / `git mktree` / `git commit-tree`.
    #[test]
    fn blob_matches_git() {
        assert_eq!(blob_oid(b""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
        assert_eq!(
            blob_oid(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
    }

    #[test]
    fn empty_tree_matches_git() {
        let (root, dirs) = TreeBuilder::new().finish();
        assert_eq!(root, "4b825dc642cb6eb9a060e54bf8d69288fbee4904");
        assert!(dirs.is_empty());
    }

    #[test]
    fn tree_matches_git() {
        // printf 'hello\n' > hello.txt; mkdir sub; printf 'hello\n' > sub/hello.txt; git add .; git write-tree
        let mut t = TreeBuilder::new();
        let oid = blob_oid(b"hello\n");
        t.add(&RepoPath::parse("hello.txt").expect("valid"), &oid);
        t.add(&RepoPath::parse("sub/hello.txt").expect("valid"), &oid);
        let (root, dirs) = t.finish();
        assert_eq!(dirs["sub"], "aaa96ced2d9a1c8e72c56b253a0e2fe78393feb7");
        assert_eq!(root, "aa8d2a2305dec630ed6f30b068bb2669a9c32857");
        // Ordering: 'a.b' sorts before directory 'a' (compared as 'a/') since '.' < '/'.
        let mut t = TreeBuilder::new();
        t.add(&RepoPath::parse("a/x").expect("valid"), &oid);
        t.add(&RepoPath::parse("a.b").expect("valid"), &oid);
        let (r1, _) = t.finish();
        let mut t = TreeBuilder::new();
        t.add(&RepoPath::parse("a.b").expect("valid"), &oid);
        t.add(&RepoPath::parse("a/x").expect("valid"), &oid);
        assert_eq!(r1, t.finish().0);
    }

    #[test]
    fn lfs_pointer_format() {
        let sha = Sha256Hex::parse(&"ab".repeat(32)).expect("valid");
        let p = lfs_pointer(&sha, 12);
        assert_eq!(
            p,
            format!(
                "version https://git-lfs.github.com/spec/v1\noid sha256:{}\nsize 12\n",
                "ab".repeat(32)
            )
        );
    }

    #[test]
    fn commit_is_deterministic_and_depends_on_everything() {
        let sig = CommitSignature {
            name: "a".into(),
            email: "a@x".into(),
            time: 1,
        };
        let tree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
        let c1 = commit_oid(tree, None, &sig, "m");
        // GIT_*_DATE="@1 +0000" git commit-tree <empty tree> -m m
        assert_eq!(c1.as_str(), "5ca2f5e0083ec7e766e736553ce11156c007608e");
        assert_eq!(c1, commit_oid(tree, None, &sig, "m"));
        assert_ne!(c1, commit_oid(tree, Some(&c1), &sig, "m"));
        assert_ne!(c1, commit_oid(tree, None, &sig, "n"));
        let sig2 = CommitSignature {
            time: 2,
            ..sig.clone()
        };
        assert_ne!(c1, commit_oid(tree, None, &sig2, "m"));
    }
}
