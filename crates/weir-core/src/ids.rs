//! Identifiers: namespace and repo names, repo ids, commit ids, sha256 digests, ref names and
//! revisions. Every constructor validates, so a value of these types is always well-formed.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error(
        "invalid name {0:?}: use 1-96 letters, digits, '-', '_' or '.', starting and ending with a letter or digit, without '--' or '..'"
    )]
    Name(String),
    #[error("invalid repo id {0:?}: expected 'namespace/name'")]
    RepoId(String),
    #[error("invalid commit id {0:?}: expected 40 lowercase hex digits")]
    Commit(String),
    #[error("invalid sha256 {0:?}: expected 64 lowercase hex digits")]
    Sha256(String),
    #[error(
        "invalid ref name {0:?}: use a git-style branch or tag name (no spaces, '..', '~^:?*[\\', no leading '/' or '.')"
    )]
    RefName(String),
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A user, org or repo name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(String);

impl Name {
    pub fn parse(s: &str) -> Result<Name, IdError> {
        let err = || IdError::Name(s.to_string());
        let bytes = s.as_bytes();
        if bytes.is_empty() || bytes.len() > 96 {
            return Err(err());
        }
        if !bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(err());
        }
        let first = bytes[0];
        let last = bytes[bytes.len() - 1];
        if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
            return Err(err());
        }
        if s.contains("--") || s.contains("..") || s.ends_with(".git") {
            return Err(err());
        }
        Ok(Name(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Names that cannot be namespaces because they are the first segment of our own routes.
    pub fn is_reserved_namespace(&self) -> bool {
        RESERVED_NAMESPACES.contains(&self.0.to_ascii_lowercase().as_str())
    }
}

const RESERVED_NAMESPACES: &[&str] = &[
    "api",
    "log",
    "osv",
    "metrics",
    "static",
    "docs",
    "settings",
    "new",
    "login",
    "logout",
    "healthz",
    "readyz",
    "review",
    "models",
    "search",
    "account",
    "operator",
    "notifications",
    "incidents",
    "publishers",
    "datasets",
    "spaces",
    "uploads",
];

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `namespace/name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RepoId {
    pub namespace: Name,
    pub name: Name,
}

impl RepoId {
    pub fn new(namespace: &str, name: &str) -> Result<RepoId, IdError> {
        Ok(RepoId {
            namespace: Name::parse(namespace)?,
            name: Name::parse(name)?,
        })
    }

    pub fn parse(s: &str) -> Result<RepoId, IdError> {
        let (ns, name) = s
            .split_once('/')
            .ok_or_else(|| IdError::RepoId(s.to_string()))?;
        RepoId::new(ns, name).map_err(|_| IdError::RepoId(s.to_string()))
    }
}

impl fmt::Display for RepoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// A 40-hex commit id (git SHA-1 of the commit object).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommitId(String);

impl CommitId {
    pub fn parse(s: &str) -> Result<CommitId, IdError> {
        if is_lower_hex(s, 40) {
            Ok(CommitId(s.to_string()))
        } else {
            Err(IdError::Commit(s.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CommitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A lowercase hex SHA-256 digest: the content address of every blob.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Hex(String);

impl Sha256Hex {
    pub fn parse(s: &str) -> Result<Sha256Hex, IdError> {
        if is_lower_hex(s, 64) {
            Ok(Sha256Hex(s.to_string()))
        } else {
            Err(IdError::Sha256(s.to_string()))
        }
    }

    pub fn from_digest(bytes: &[u8]) -> Sha256Hex {
        Sha256Hex(hex::encode(bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A branch or tag name, validated with a subset of `git check-ref-format` that is strict enough
/// to be safe in URLs and file names after percent-decoding. A 40-hex string is never a ref name
/// (it would be ambiguous with a commit id).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RefName(String);

impl RefName {
    pub fn parse(s: &str) -> Result<RefName, IdError> {
        let err = || IdError::RefName(s.to_string());
        if s.is_empty() || s.len() > 255 || is_lower_hex(s, 40) {
            return Err(err());
        }
        if s.bytes().any(|b| {
            b < 0x21 || b == 0x7f || matches!(b, b'~' | b'^' | b':' | b'?' | b'*' | b'[' | b'\\')
        }) {
            return Err(err());
        }
        if s.contains("..") || s.contains("@{") || s == "@" || s.ends_with('.') {
            return Err(err());
        }
        for comp in s.split('/') {
            if comp.is_empty() || comp.starts_with('.') || comp.ends_with(".lock") {
                return Err(err());
            }
        }
        Ok(RefName(s.to_string()))
    }

    pub fn main() -> RefName {
        RefName("main".to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RefName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a client asks for: a full commit id, or a ref (branch or tag, optionally spelled
/// `refs/heads/x` / `refs/tags/x`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revision {
    Commit(CommitId),
    Branch(RefName),
    Tag(RefName),
    /// A bare name: a branch if one exists, otherwise a tag.
    Ref(RefName),
}

impl Revision {
    pub fn parse(s: &str) -> Result<Revision, IdError> {
        if let Ok(c) = CommitId::parse(s) {
            return Ok(Revision::Commit(c));
        }
        if let Some(b) = s.strip_prefix("refs/heads/") {
            return Ok(Revision::Branch(RefName::parse(b)?));
        }
        if let Some(t) = s.strip_prefix("refs/tags/") {
            return Ok(Revision::Tag(RefName::parse(t)?));
        }
        Ok(Revision::Ref(RefName::parse(s)?))
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Revision::Commit(c) => write!(f, "{c}"),
            Revision::Branch(b) => write!(f, "refs/heads/{b}"),
            Revision::Tag(t) => write!(f, "refs/tags/{t}"),
            Revision::Ref(r) => write!(f, "{r}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names() {
        for ok in ["acme", "tiny-llama", "Qwen2.5-0.5B", "a", "x_y", "a1"] {
            assert!(Name::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            ".a",
            "a..b",
            "a--b",
            "a/b",
            "a b",
            "x.git",
            "é",
            &"a".repeat(97),
        ] {
            assert!(Name::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reserved_namespaces() {
        assert!(Name::parse("api").expect("valid").is_reserved_namespace());
        assert!(Name::parse("API").expect("valid").is_reserved_namespace());
        assert!(!Name::parse("acme").expect("valid").is_reserved_namespace());
    }

    #[test]
    fn repo_ids() {
        let r = RepoId::parse("acme/tiny").expect("valid");
        assert_eq!(r.to_string(), "acme/tiny");
        assert!(RepoId::parse("acme").is_err());
        assert!(RepoId::parse("acme/tiny/x").is_err());
        assert!(RepoId::parse("../etc").is_err());
    }

    #[test]
    fn revisions() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(
            Revision::parse(sha),
            Ok(Revision::Commit(CommitId::parse(sha).expect("valid")))
        );
        assert!(matches!(Revision::parse("feature/x"), Ok(Revision::Ref(_))));
        assert!(matches!(
            Revision::parse("refs/heads/main"),
            Ok(Revision::Branch(_))
        ));
        assert!(matches!(
            Revision::parse("refs/tags/v1.0"),
            Ok(Revision::Tag(_))
        ));
        for bad in [
            "", "a..b", "a b", "/a", "a/", "a//b", ".a", "a.lock", "a:b", "a\\b", "a~1", "@",
        ] {
            assert!(Revision::parse(bad).is_err(), "{bad}");
        }
        assert!(CommitId::parse(&sha.to_uppercase()).is_err());
    }

    proptest! {
        #[test]
        fn valid_ref_names_are_url_and_path_safe(s in "\\PC{0,40}") {
            if let Ok(r) = RefName::parse(&s) {
                prop_assert!(!r.as_str().split('/').any(|c| c == ".." || c == "." || c.is_empty()));
                prop_assert!(!r.as_str().contains('\\'));
            }
        }

        #[test]
        fn valid_names_have_safe_chars(s in "\\PC{0,20}") {
            if let Ok(n) = Name::parse(&s) {
                prop_assert!(n.as_str().bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
            }
        }
    }
}
