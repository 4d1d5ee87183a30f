//! `weir serve`'s configuration: defaults < weir.toml < WEIR_* environment < flags, unknown
//! keys refused in one line, and `weir serve` honouring the file.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{WEIR, free_port};

fn show(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = Command::new(WEIR);
    c.current_dir(dir)
        .args(["config", "show"])
        .args(args)
        .env_remove("WEIR_LISTEN")
        .env_remove("WEIR_DATA")
        .env_remove("WEIR_CONFIG");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run weir")
}

fn value(out: &std::process::Output, key: &str) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key} = ")).map(str::to_string))
        .unwrap_or_default()
}

#[test]
fn file_then_environment_then_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Defaults.
    let out = show(dir.path(), &[], &[]);
    assert_eq!(value(&out, "listen"), "\"127.0.0.1:8080\"");
    assert_eq!(value(&out, "upload_link_ttl_secs"), "3600");
    // ./weir.toml is read when present.
    std::fs::write(
        dir.path().join("weir.toml"),
        "listen = \"127.0.0.1:9999\"\nupload_link_ttl_secs = 600\nmax_connections = 7\n",
    )
    .expect("write");
    let out = show(dir.path(), &[], &[]);
    assert_eq!(value(&out, "listen"), "\"127.0.0.1:9999\"");
    assert_eq!(value(&out, "upload_link_ttl_secs"), "600");
    // The environment overrides the file.
    let out = show(dir.path(), &[], &[("WEIR_LISTEN", "127.0.0.1:9998")]);
    assert_eq!(value(&out, "listen"), "\"127.0.0.1:9998\"");
    assert_eq!(value(&out, "max_connections"), "7");
    // Flags override both.
    let out = show(
        dir.path(),
        &["--listen", "127.0.0.1:9997", "--max-connections", "9"],
        &[("WEIR_LISTEN", "127.0.0.1:9998")],
    );
    assert_eq!(value(&out, "listen"), "\"127.0.0.1:9997\"");
    assert_eq!(value(&out, "max_connections"), "9");
    // Another file by --config or WEIR_CONFIG.
    std::fs::write(dir.path().join("other.toml"), "idle_timeout = 5\n").expect("write");
    let out = show(dir.path(), &[], &[("WEIR_CONFIG", "other.toml")]);
    assert_eq!(value(&out, "idle_timeout"), "5");
    assert_eq!(
        value(&out, "listen"),
        "\"127.0.0.1:8080\"",
        "only the named file is read"
    );
    // A typo, a missing file and a bad value are one-line errors naming the problem.
    std::fs::write(dir.path().join("bad.toml"), "lissten = \"x\"\n").expect("write");
    for (args, want) in [
        (vec!["--config", "bad.toml"], "lissten"),
        (vec!["--config", "missing.toml"], "does not exist"),
        (vec!["--max-connections", "0"], "at least 1"),
    ] {
        let out = show(dir.path(), &args, &[]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(want) && err.trim().lines().count() == 1,
            "{err}"
        );
    }
    // No secret is ever printed: the keys live in files.
    let out = show(dir.path(), &[], &[]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("key"));
}

#[test]
fn serve_honours_the_config_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    std::fs::write(
        dir.path().join("weir.toml"),
        format!(
            "listen = \"127.0.0.1:{port}\"\ndata = \"{}\"\npublic_url = \"http://example.test\"\n",
            dir.path().join("data-from-file").display()
        ),
    )
    .expect("write");
    let mut child = Command::new(WEIR)
        .current_dir(dir.path())
        .arg("serve")
        .env_remove("WEIR_LISTEN")
        .env_remove("WEIR_DATA")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "weir serve did not listen where weir.toml says"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(dir.path().join("data-from-file").join("weir.db").exists());
}

#[test]
fn mail_settings_come_from_file_environment_and_flags_never_with_a_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("weir.toml"),
        "smtp_url = \"smtp://relay.example:25\"\nsmtp_username = \"weir\"\nsmtp_password_file = \"/run/secrets/smtp\"\n",
    )
    .expect("write");
    let out = show(dir.path(), &[], &[]);
    assert_eq!(value(&out, "smtp_url"), "\"smtp://relay.example:25\"");
    assert_eq!(value(&out, "smtp_password_file"), "\"/run/secrets/smtp\"");
    let out = show(
        dir.path(),
        &["--mail-from", "weir <weir@registry.example>"],
        &[("WEIR_SMTP_URL", "smtps://mail.example:465")],
    );
    assert_eq!(value(&out, "smtp_url"), "\"smtps://mail.example:465\"");
    assert_eq!(value(&out, "mail_from"), "\"weir <weir@registry.example>\"");
    // A password in the URL is refused in one line, naming the way.
    let out = show(
        dir.path(),
        &["--smtp-url", "smtp://weir:secret@relay.example"],
        &[],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("smtp_password_file") && !err.contains("secret"),
        "{err}"
    );
}
