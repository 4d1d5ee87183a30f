//! `weir log`: pin the key, verify checkpoints, prove inclusion, audit; and a client that saw a
//! later checkpoint refuses a rolled-back or forked log.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::harness::{Server, ok, weir};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

/// Makes `n` governance events (tier raises and lowers by the owner and an operator).
fn events(server: &Server, owner: &str, op: &str, repo: &str, n: usize) {
    let env_o = [("WEIR_SERVER", server.url.as_str()), ("WEIR_TOKEN", owner)];
    let env_a = [("WEIR_SERVER", server.url.as_str()), ("WEIR_TOKEN", op)];
    for i in 0..n {
        if i % 2 == 0 {
            ok(&weir(&["tier", "set", repo, "T1"], &env_o));
        } else {
            ok(&weir(
                &["tier", "set", repo, "T0", "--reason", "test"],
                &env_a,
            ));
        }
    }
}

/// A server on `data` with an owner (alice, who pushed alice/m) and an operator; returns their tokens.
fn setup(data: &Path, scratch: &Path) -> (Server, String, String) {
    let server = Server::start(data);
    let owner = server.user_with_token("alice");
    ok(&server.admin(&["user", "add", "root"]));
    let op = ok(&server.admin(&["token", "create", "root", "--scope", "admin"]))
        .trim()
        .to_string();
    let src = scratch.join("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::write(src.join("a.txt"), b"a").expect("write");
    ok(&weir(
        &["push", src.to_str().expect("utf8"), "alice/m"],
        &[
            ("WEIR_SERVER", server.url.as_str()),
            ("WEIR_TOKEN", owner.as_str()),
        ],
    ));
    (server, owner, op)
}

pub(crate) fn log_cmd(server: &Server, cfg: &Path, args: &[&str]) -> std::process::Output {
    let mut full = vec!["log"];
    full.extend_from_slice(args);
    let mut c = std::process::Command::new(crate::harness::WEIR);
    c.args(&full)
        .env("WEIR_SERVER", &server.url)
        .env("WEIR_CONFIG_DIR", cfg)
        .env_remove("WEIR_TOKEN");
    c.output().expect("weir log")
}

pub(crate) fn wait_size(server: &Server, cfg: &Path, at_least: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = ok(&log_cmd(server, cfg, &["checkpoint"]));
        let size: u64 = out.lines().nth(1).and_then(|l| l.parse().ok()).unwrap_or(0);
        if size >= at_least {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "log stuck below {at_least}: {out}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn log_commands_and_rollback_and_fork_detection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let cfg = dir.path().join("cfg");
    let (mut server, owner, op) = setup(&data, dir.path());
    let port = server.port();
    events(&server, &owner, &op, "alice/m", 4);
    wait_size(&server, &cfg, 4);

    let out = ok(&log_cmd(&server, &cfg, &["verify"]));
    assert!(out.contains("remembered"), "{out}");
    assert!(
        String::from_utf8_lossy(&log_cmd(&server, &cfg, &["checkpoint"]).stdout)
            .starts_with(&format!("127.0.0.1:{port}/log\n"))
    );
    let proof = dir.path().join("e1.tlog-proof");
    let out = ok(&log_cmd(
        &server,
        &cfg,
        &["prove", "1", "--out", proof.to_str().expect("utf8")],
    ));
    assert!(
        out.contains("entry 1 is in the log") && out.contains("tier.set"),
        "{out}"
    );
    assert!(
        std::fs::read_to_string(&proof)
            .expect("proof")
            .starts_with("c2sp.org/tlog-proof@v1\nindex 1\n")
    );
    assert!(ok(&log_cmd(&server, &cfg, &["audit"])).contains("rebuild the signed root"));
    let wrong = log_cmd(
        &server,
        &cfg,
        &[
            "checkpoint",
            "--key",
            "other.example/log+00000000+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        ],
    );
    assert!(!wrong.status.success());

    // Snapshot the data dir (same key), grow the log, verify: consistent.
    server.kill();
    let old = dir.path().join("old");
    copy_dir(&data, &old);
    server.restart();
    events(&server, &owner, &op, "alice/m", 4);
    wait_size(&server, &cfg, 8);
    let out = ok(&log_cmd(&server, &cfg, &["verify"]));
    assert!(out.contains("consistent with the size"), "{out}");

    // The old copy at the same URL is a rolled-back log: refused.
    server.kill();
    let forked = Server::start_on(&old, port);
    let out = log_cmd(&forked, &cfg, &["verify"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("rolled back"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Growing the old copy differently makes a fork: refused too.
    events(&forked, &owner, &op, "alice/m", 8);
    wait_size(&forked, &cfg, 12);
    let out = log_cmd(&forked, &cfg, &["verify"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("forked"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Kill the server (SIGKILL) repeatedly while events are being integrated: every checkpoint a
/// client saw stays consistent with every later one, and the final log audits clean.
#[test]
fn crashes_during_integration_never_fork_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let cfg = dir.path().join("cfg");
    let (mut server, owner, op) = setup(&data, dir.path());
    let mut seen = 0;
    for round in 0..4u64 {
        events(&server, &owner, &op, "alice/m", 6);
        // the operator's direct changes land in the queue while the server integrates
        for i in 0..5 {
            ok(&server.admin(&[
                "identity",
                "set",
                "alice",
                "--level",
                if i % 2 == 0 { "affiliated" } else { "account" },
            ]));
        }
        std::thread::sleep(Duration::from_millis(40 * round));
        let out = ok(&log_cmd(&server, &cfg, &["verify"]));
        let size: u64 = out
            .split("size ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        assert!(size >= seen, "{out}");
        seen = size;
        server.kill();
        server.restart();
    }
    wait_size(&server, &cfg, 4 * 11);
    let out = ok(&log_cmd(&server, &cfg, &["verify"]));
    assert!(out.contains("consistent with the size"), "{out}");
    assert!(ok(&log_cmd(&server, &cfg, &["audit"])).contains("rebuild the signed root"));
}

#[test]
fn witnesses_cosign_checkpoints() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let cfg = dir.path().join("cfg");
    let (server, owner, op) = setup(&data, dir.path());
    events(&server, &owner, &op, "alice/m", 2);
    wait_size(&server, &cfg, 2);

    let key = dir.path().join("w1.key");
    let vkey = ok(&log_cmd(
        &server,
        &cfg,
        &[
            "witness-keygen",
            "witness.example/w1",
            key.to_str().expect("utf8"),
        ],
    ))
    .trim()
    .to_string();
    // an unregistered witness is refused
    let refused = log_cmd(
        &server,
        &cfg,
        &[
            "witness",
            "--witness-key",
            key.to_str().expect("utf8"),
            "--once",
        ],
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not a registered witness"));
    ok(&server.admin(&["witness", "add", "witness.example/w1", "--key", &vkey]));
    // the log may have grown (the registration is an event): cosign what is current
    std::thread::sleep(Duration::from_millis(1200));
    let out = ok(&log_cmd(
        &server,
        &cfg,
        &[
            "witness",
            "--witness-key",
            key.to_str().expect("utf8"),
            "--once",
        ],
    ));
    assert!(out.contains("cosigned size"), "{out}");
    let note = ok(&log_cmd(&server, &cfg, &["checkpoint"]));
    assert!(note.contains("\u{2014} witness.example/w1 "), "{note}");
    let parsed = weir_tlog::note::Note::parse(&note).expect("note");
    let cosigner = weir_tlog::checkpoint::Cosigner::parse(&vkey).expect("vkey");
    cosigner.verify(&parsed).expect("the cosignature verifies");
}

/// `weir verify` refuses a changed weight file, bundle, proof entry or checkpoint.
#[test]
fn verify_detects_tampering() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"));
    let owner = server.user_with_token("alice");
    let env = [
        ("WEIR_SERVER", server.url.as_str()),
        ("WEIR_TOKEN", owner.as_str()),
    ];
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("sub")).expect("mkdir");
    std::fs::write(src.join("model.safetensors"), vec![7u8; 100_000]).expect("write");
    std::fs::write(src.join("sub/config.json"), b"{}").expect("write");
    ok(&weir(
        &["push", src.to_str().expect("utf8"), "alice/m"],
        &env,
    ));
    assert!(ok(&weir(&["release", "alice/m"], &env)).contains("released alice/m@"));
    let model = dir.path().join("m");
    let cfg = dir.path().join("cfg");
    let run = |args: &[&str]| {
        let mut c = std::process::Command::new(crate::harness::WEIR);
        c.args(args)
            .env("WEIR_SERVER", &server.url)
            .env("WEIR_CONFIG_DIR", &cfg)
            .env_remove("WEIR_TOKEN");
        c.output().expect("weir")
    };
    let out = ok(&run(&["pull", "alice/m", model.to_str().expect("utf8")]));
    assert!(out.contains("signed release saved"), "{out}");
    let verify = || run(&["verify", model.to_str().expect("utf8"), "--repo", "alice/m"]);
    assert!(ok(&verify()).contains("the release is entry"));

    let sig = dir.path().join("m.sig");
    let proof = dir.path().join("m.sig.tlog-proof");
    let check_refused = |what: &str, path: &Path, edit: &dyn Fn(&str) -> String, needle: &str| {
        let original = std::fs::read_to_string(path).expect("read");
        std::fs::write(path, edit(&original)).expect("write");
        let out = verify();
        assert!(!out.status.success(), "{what} was not detected");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{what}: {err}");
        std::fs::write(path, original).expect("restore");
    };
    // a weight byte
    let w = model.join("model.safetensors");
    let mut bytes = std::fs::read(&w).expect("read");
    bytes[5] ^= 1;
    std::fs::write(&w, &bytes).expect("write");
    assert!(String::from_utf8_lossy(&verify().stderr).contains("changed"));
    bytes[5] ^= 1;
    std::fs::write(&w, &bytes).expect("restore");
    assert!(verify().status.success());
    // the bundle's signed payload (a base64 character of it)
    check_refused(
        "bundle",
        &sig,
        &|s| {
            let i = s.find("\"payload\":\"").expect("payload") + 20;
            let mut b = s.as_bytes().to_vec();
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            String::from_utf8(b).expect("utf8")
        },
        "signature",
    );
    // the checkpoint inside the proof file (its size line)
    check_refused(
        "checkpoint",
        &proof,
        &|s| {
            let (head, cp) = s.split_once("\n\n").expect("proof");
            let mut lines: Vec<String> = cp.lines().map(str::to_string).collect();
            let size: u64 = lines[1].parse().expect("size");
            lines[1] = (size + 1).to_string();
            format!("{head}\n\n{}\n", lines.join("\n"))
        },
        "not proven in the log",
    );
    // the log entry carried in the proof file
    check_refused(
        "entry",
        &proof,
        &|s| s.replacen("extra ey", "extra ez", 1),
        "not proven in the log",
    );
    assert!(verify().status.success(), "restored files verify again");
}

#[test]
fn log_entries_are_decoded_filtered_and_private_repos_stay_sealed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let cfg = dir.path().join("cfg");
    let (server, owner, op) = setup(&data, dir.path());
    events(&server, &owner, &op, "alice/m", 2);
    // A private repo's tier change is logged sealed.
    let src = dir.path().join("src");
    ok(&weir(
        &[
            "push",
            src.to_str().expect("utf8"),
            "alice/secret",
            "--private",
        ],
        &[
            ("WEIR_SERVER", server.url.as_str()),
            ("WEIR_TOKEN", owner.as_str()),
        ],
    ));
    ok(&weir(
        &["tier", "set", "alice/secret", "T1"],
        &[
            ("WEIR_SERVER", server.url.as_str()),
            ("WEIR_TOKEN", owner.as_str()),
        ],
    ));
    wait_size(&server, &cfg, 3);
    // The sealed entry is integrated a sequencer interval or two after the others.
    let deadline = Instant::now() + Duration::from_secs(20);
    let all = loop {
        let all = ok(&log_cmd(&server, &cfg, &["entries"]));
        if all.contains("(sealed)") || Instant::now() >= deadline {
            break all;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(all.lines().count() >= 3, "{all}");
    assert!(all.contains("\ttier.set\talice/m\t"), "{all}");
    assert!(all.contains("(sealed)"), "{all}");
    assert!(
        !all.contains("secret"),
        "a private repo is never named: {all}"
    );
    let only = ok(&log_cmd(&server, &cfg, &["entries", "--repo", "alice/m"]));
    assert!(only.lines().all(|l| l.contains("\talice/m\t")), "{only}");
    let from = ok(&log_cmd(
        &server,
        &cfg,
        &["entries", "--from", "1", "--limit", "1"],
    ));
    assert!(
        from.starts_with("1\t") && from.lines().count() == 1,
        "{from}"
    );
    let json = ok(&log_cmd(
        &server,
        &cfg,
        &["entries", "--json", "--limit", "2"],
    ));
    for line in json.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("ndjson");
        assert!(v["index"].is_u64() && v["action"].is_string(), "{v}");
        assert!(
            v["actor"].as_str().is_none_or(|a| !a.contains("alice")),
            "people stay commitments: {v}"
        );
    }
    let bad = log_cmd(&server, &cfg, &["entries", "--repo", "not a repo"]);
    assert!(!bad.status.success());
}
