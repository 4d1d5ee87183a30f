//! Paths of files inside a repo. A [`RepoPath`] is always relative, normalized and safe to join
//! under a directory: no empty, `.` or `..` segments, no backslashes, no NUL or control
//! characters, no leading `/`, nothing under `.git/`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid path {path:?}: {why}")]
pub struct PathError {
    pub path: String,
    pub why: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RepoPath(String);

pub const MAX_PATH_LEN: usize = 1024;

impl RepoPath {
    pub fn parse(s: &str) -> Result<RepoPath, PathError> {
        let err = |why| PathError {
            path: s.chars().take(200).collect(),
            why,
        };
        if s.is_empty() {
            return Err(err("empty path"));
        }
        if s.len() > MAX_PATH_LEN {
            return Err(err("longer than 1024 bytes"));
        }
        if s.starts_with('/') {
            return Err(err("absolute paths are not allowed"));
        }
        if s.contains('\\') {
            return Err(err("backslashes are not allowed"));
        }
        if s.chars().any(|c| c.is_control()) {
            return Err(err("control characters are not allowed"));
        }
        for seg in s.split('/') {
            match seg {
                "" => return Err(err("empty path segment")),
                "." | ".." => return Err(err("'.' and '..' segments are not allowed")),
                _ => {}
            }
        }
        if s == ".git" || s.starts_with(".git/") {
            return Err(err("paths under .git are reserved"));
        }
        Ok(RepoPath(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// Whether `self` is `dir` or lies under it (`dir` given without trailing slash).
    pub fn is_under(&self, dir: &str) -> bool {
        self.0 == dir
            || (self.0.starts_with(dir) && self.0.as_bytes().get(dir.len()) == Some(&b'/'))
    }
}

impl fmt::Display for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_normal_paths() {
        for ok in [
            "a",
            "model.safetensors",
            "sub/dir/file.txt",
            "with space.txt",
            "ünï.txt",
            ".gitattributes",
        ] {
            assert!(RepoPath::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_traversal_and_absolute() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a/./b",
            "./a",
            "a//b",
            "a/",
            "a\\b",
            "a\0b",
            ".git/config",
            ".git",
        ] {
            assert!(RepoPath::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn under() {
        let p = RepoPath::parse("sub/dir/f").expect("valid");
        assert!(p.is_under("sub"));
        assert!(p.is_under("sub/dir"));
        assert!(!p.is_under("su"));
        assert!(!p.is_under("sub/di"));
    }

    proptest! {
        #[test]
        fn parsed_paths_never_escape(s in "[a-z./\\\\]{0,12}") {
            if let Ok(p) = RepoPath::parse(&s) {
                let joined = std::path::Path::new("/base").join(p.as_str());
                let mut depth = 0i32;
                for c in joined.components() {
                    match c {
                        std::path::Component::ParentDir => depth -= 1,
                        std::path::Component::Normal(_) => depth += 1,
                        _ => {}
                    }
                    prop_assert!(depth >= 0);
                }
                prop_assert!(joined.starts_with("/base"));
            }
        }
    }
}
