//! The registry's own keys, in `DATA/secrets/` (0600), made on first start: the upload-link key
//! (32 random bytes), the transparency log's signed-note key (Go's signer-key format, named by
//! the log's origin, which never changes) and the P-256 release-signing key (PKCS#8 PEM).

use std::io::Write;
use std::path::{Path, PathBuf};

use weir_signing::model_signing::ReleaseKey;
use weir_tlog::note::Signer;

/// A key file that cannot be read, made or used; the message names the file and the fix.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(String);

fn io(path: &Path, what: &str) -> impl FnOnce(std::io::Error) -> KeyError {
    let path = path.display().to_string();
    let what = what.to_string();
    move |e| KeyError(format!("{what} {path}: {e}"))
}

/// Writes a secret file with 0600 permissions (fsynced).
pub fn write_secret(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(io(path, "writing"))?;
    f.write_all(bytes).map_err(io(path, "writing"))?;
    f.sync_all().map_err(io(path, "writing"))
}

/// Makes the secret file `path` holding `bytes` unless one exists: written and fsynced under a
/// temporary name, then linked into place, which fails if another process made the file first.
/// Answers whether this call made it (if not, the caller reads the other one's key: two
/// processes starting at once on one data dir never overwrite each other's key).
fn create_secret(path: &Path, bytes: &[u8]) -> Result<bool, KeyError> {
    let tmp = path.with_extension(format!("tmp-{}", hex::encode(random::<8>())));
    write_secret(&tmp, bytes)?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            if let Some(dir) = path.parent()
                && let Ok(d) = std::fs::File::open(dir)
            {
                d.sync_all().map_err(io(dir, "syncing"))?;
            }
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io(path, "creating")(e)),
    }
}

fn secrets(data: &Path) -> Result<PathBuf, KeyError> {
    let dir = data.join("secrets");
    std::fs::create_dir_all(&dir).map_err(io(&dir, "creating"))?;
    Ok(dir)
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
    b
}

/// The upload-link key: `DATA/secrets/upload.key`.
pub fn upload_key(data: &Path) -> Result<Vec<u8>, KeyError> {
    let path = secrets(data)?.join("upload.key");
    match std::fs::read(&path) {
        Ok(k) if k.len() == 32 => Ok(k),
        Ok(_) => Err(KeyError(format!(
            "{} is not a 32-byte key; delete it to make a new one",
            path.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let k = random::<32>().to_vec();
            if create_secret(&path, &k)? {
                Ok(k)
            } else {
                upload_key(data)
            }
        }
        Err(e) => Err(io(&path, "reading")(e)),
    }
}

/// The log's signed-note key for `origin`: `DATA/secrets/log.key`.
pub fn log_key(data: &Path, origin: &str) -> Result<Signer, KeyError> {
    let path = secrets(data)?.join("log.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let signer =
                Signer::parse(&text).map_err(|e| KeyError(format!("{}: {e}", path.display())))?;
            if signer.name() != origin {
                return Err(KeyError(format!(
                    "the log key in {} is for origin {}, but --public-url gives {origin}; a log's origin never changes, so serve under the same public URL",
                    path.display(),
                    signer.name()
                )));
            }
            Ok(signer)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let signer =
                Signer::from_seed(origin, random::<32>()).map_err(|e| KeyError(e.to_string()))?;
            if create_secret(&path, signer.skey().as_bytes())? {
                Ok(signer)
            } else {
                log_key(data, origin)
            }
        }
        Err(e) => Err(io(&path, "reading")(e)),
    }
}

/// The release-signing key: `DATA/secrets/release.key`.
pub fn release_key(data: &Path) -> Result<ReleaseKey, KeyError> {
    let path = secrets(data)?.join("release.key");
    match std::fs::read_to_string(&path) {
        Ok(pem) => ReleaseKey::from_pkcs8_pem(&pem)
            .map_err(|e| KeyError(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let k = ReleaseKey::generate();
            let pem = k.to_pkcs8_pem().map_err(|e| KeyError(e.to_string()))?;
            if create_secret(&path, pem.as_bytes())? {
                Ok(k)
            } else {
                release_key(data)
            }
        }
        Err(e) => Err(io(&path, "reading")(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_made_once_private_and_bound_to_their_origin() {
        let dir = tempfile::tempdir().expect("tmp");
        let a = upload_key(dir.path()).expect("upload key");
        assert_eq!(upload_key(dir.path()).expect("again"), a);
        let s = log_key(dir.path(), "weir.example/log").expect("log key");
        assert_eq!(
            log_key(dir.path(), "weir.example/log")
                .expect("again")
                .skey(),
            s.skey()
        );
        // A log's origin never changes.
        assert!(log_key(dir.path(), "elsewhere.example/log").is_err());
        release_key(dir.path()).expect("release key");
        // A key file another process made first is read, never overwritten.
        let theirs = dir.path().join("secrets").join("theirs.key");
        std::fs::write(&theirs, b"first").expect("write");
        assert!(!create_secret(&theirs, b"second").expect("create"));
        assert_eq!(std::fs::read(&theirs).expect("read"), b"first");
        let leftovers = std::fs::read_dir(dir.path().join("secrets"))
            .expect("list")
            .filter(|e| {
                e.as_ref()
                    .map(|e| e.file_name().to_string_lossy().contains(".tmp-"))
                    .unwrap_or(true)
            })
            .count();
        assert_eq!(leftovers, 0, "no temporary key file is left behind");
        #[cfg(unix)]
        for f in ["upload.key", "log.key", "release.key"] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secrets").join(f))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{f} is readable by others");
        }
        std::fs::write(dir.path().join("secrets/upload.key"), b"short").expect("write");
        assert!(upload_key(dir.path()).is_err());
    }
}
