//! `weir admin backup` and `restore`: a backup taken while the server runs, restored into a
//! fresh data dir, serves the same bytes, and its log verifies and stays consistent with the
//! checkpoint a client saw before the backup. A damaged backup and a non-empty target are
//! refused before anything is written.

use sha2::{Digest, Sha256};

use crate::harness::{Server, free_port, ok, weir};
use crate::log::{log_cmd, wait_size};

const FILES: &[&str] = &[
    "/acme/tiny-llama/resolve/main/config.json",
    "/acme/tiny-llama/resolve/main/model.safetensors",
];

/// `weir admin --data DATA VERB PATH`.
fn admin(data: &std::path::Path, verb: &str, path: &std::path::Path) -> std::process::Output {
    weir(
        &[
            "admin",
            "--data",
            data.to_str().expect("utf8"),
            verb,
            path.to_str().expect("utf8"),
        ],
        &[],
    )
}

/// A restore of `backup` into `data` that is refused, saying `why`, with nothing written.
fn refused(data: &std::path::Path, backup: &std::path::Path, why: &str) {
    let r = admin(data, "restore", backup);
    assert!(!r.status.success());
    let said = String::from_utf8_lossy(&r.stderr);
    assert!(said.contains(why), "{said}");
    assert!(!data.exists(), "nothing was written");
}

fn digests(server: &Server) -> Vec<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut out = vec![];
        for f in FILES {
            let r = reqwest::get(format!("{}{f}", server.url))
                .await
                .expect("get");
            assert_eq!(r.status(), 200, "{f}");
            out.push(hex::encode(Sha256::digest(r.bytes().await.expect("bytes"))));
        }
        out
    })
}

#[test]
fn a_backup_taken_while_serving_restores_the_same_bytes_and_a_consistent_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b, out, cfg) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("backup"),
        dir.path().join("cfg"),
    );
    let port = free_port();
    let mut server = Server::start_with(&a, port, &["--demo"]);
    wait_size(&server, &cfg, 10);
    let before = digests(&server);
    // A client saw a checkpoint before the backup.
    let seen = ok(&log_cmd(&server, &cfg, &["verify"]));
    assert!(seen.contains("remembered"), "{seen}");
    // An upload in progress on the live registry is left alone.
    let in_flight = a.join("blobs/tmp/upload-in-progress");
    std::fs::write(&in_flight, b"partial").expect("tmp");
    let said = ok(&admin(&a, "backup", &out));
    assert!(said.contains("backed up"), "{said}");
    assert!(
        in_flight.exists(),
        "the backup cleared the server's uploads in progress"
    );
    // A mistyped data dir backs nothing up (and creates nothing).
    let typo = dir.path().join("no-such-data");
    let r = admin(&typo, "backup", &dir.path().join("b2"));
    assert!(!r.status.success());
    assert!(!typo.exists() && !dir.path().join("b2").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for p in [
            out.clone(),
            out.join("secrets"),
            out.join("secrets/log.key"),
            out.join("weir.db"),
        ] {
            let mode = std::fs::metadata(&p).expect("meta").permissions().mode() & 0o077;
            assert_eq!(mode, 0, "{} is readable by others", p.display());
        }
    }
    // Not over anything: the backup's own target, or the live data dir.
    let again = admin(&a, "backup", &out);
    assert!(!again.status.success());
    let over = admin(&a, "restore", &out);
    assert!(!over.status.success());
    assert!(String::from_utf8_lossy(&over.stderr).contains("is not empty"));
    server.kill();

    // Restored into a fresh dir, served under the same public URL (the log's origin).
    let said = ok(&admin(&b, "restore", &out));
    assert!(said.contains(&format!("127.0.0.1:{port}/log")), "{said}");
    let restored = Server::start_with(&b, port, &[]);
    assert_eq!(digests(&restored), before);
    let out_verify = ok(&log_cmd(&restored, &cfg, &["verify"]));
    assert!(
        out_verify.contains("is consistent with the size"),
        "{out_verify}"
    );
    assert!(ok(&log_cmd(&restored, &cfg, &["audit"])).contains("rebuild the signed root"));
}

#[test]
fn a_damaged_backup_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, out) = (dir.path().join("a"), dir.path().join("backup"));
    let server = Server::start_with(&a, free_port(), &["--demo"]);
    ok(&admin(&a, "backup", &out));
    drop(server);
    // One blob's bytes changed.
    let manifest = std::fs::read_to_string(out.join("blobs.manifest")).expect("manifest");
    let sha = manifest
        .lines()
        .next()
        .and_then(|l| l.split(' ').next())
        .expect("a blob");
    let blob = out.join("blobs/sha256").join(&sha[..2]).join(sha);
    let mut bytes = std::fs::read(&blob).expect("blob");
    bytes[0] ^= 1;
    std::fs::write(&blob, bytes).expect("write");
    let b = dir.path().join("b");
    refused(&b, &out, "does not hash to its name");
    let mut fixed = std::fs::read(&blob).expect("blob");
    fixed[0] ^= 1;
    std::fs::write(&blob, fixed).expect("write");
    // A key that is a symlink (to anything the restoring user may read) is refused.
    #[cfg(unix)]
    {
        let link = out.join("secrets/stolen.key");
        std::os::unix::fs::symlink("/etc/hostname", &link).expect("symlink");
        refused(&b, &out, "not a plain file");
        std::fs::remove_file(&link).expect("rm");
    }
    // And a database that is not the one backed up.
    std::fs::write(out.join("weir.db"), b"not a database").expect("write");
    refused(&b, &out, "SHA-256 differs");
    // No staging directory is left behind either.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.contains("restoring"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
