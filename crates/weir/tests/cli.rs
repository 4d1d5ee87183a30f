use std::path::Path;
use std::time::{Duration, Instant};

use crate::harness::{self, Server, ok, weir};

fn sha256(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(std::fs::read(path).expect("read")))
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write");
}

#[test]
fn admin_commands_work_on_a_data_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let d = data.to_str().expect("utf8");
    ok(&weir(
        &[
            "admin",
            "--data",
            d,
            "user",
            "add",
            "alice",
            "--email",
            "a@example.org",
        ],
        &[],
    ));
    ok(&weir(&["admin", "--data", d, "user", "add", "bob"], &[]));
    ok(&weir(
        &[
            "admin", "--data", d, "org", "add", "acme", "--member", "alice", "--member", "bob",
        ],
        &[],
    ));
    let token = ok(&weir(
        &[
            "admin", "--data", d, "token", "create", "alice", "--scope", "write",
        ],
        &[],
    ));
    assert_eq!(token.lines().count(), 1, "prints only the token");
    // The operators' event reads: an identity change is on record, in every format.
    ok(&weir(
        &[
            "admin",
            "--data",
            d,
            "identity",
            "set",
            "bob",
            "--level",
            "identified",
        ],
        &[],
    ));
    let table = ok(&weir(
        &["admin", "--data", d, "events", "--action", "identity.set"],
        &[],
    ));
    assert_eq!(table.lines().count(), 1, "{table}");
    let csv = ok(&weir(
        &[
            "admin", "--data", d, "events", "--format", "csv", "--actor", "operator",
        ],
        &[],
    ));
    assert!(csv.starts_with("id,at,actor,action"), "{csv}");
    assert!(csv.lines().count() >= 2, "{csv}");
    let ndjson = ok(&weir(
        &[
            "admin", "--data", d, "events", "--format", "ndjson", "--limit", "1",
        ],
        &[],
    ));
    let line: serde_json::Value = serde_json::from_str(ndjson.trim()).expect("one JSON line");
    assert!(line["action"].is_string());
    assert!(token.trim().starts_with("weir_") && token.trim().len() == 69);
    // failures are one line naming the problem and the fix
    for (args, needle) in [
        (vec!["user", "add", "alice"], "already exists"),
        (vec!["user", "add", "../x"], "invalid name"),
        (vec!["org", "add", "api"], "reserved name"),
        (
            vec!["org", "add", "labs", "--member", "ghost"],
            "weir admin user add ghost",
        ),
        (
            vec!["token", "create", "alice", "--scope", "root"],
            "use read, write or admin",
        ),
        (
            vec!["token", "create", "nobody"],
            "weir admin user add nobody",
        ),
        (vec!["events", "--since", "yesterday"], "is not a time"),
        (
            vec!["events", "--format", "xml"],
            "use table, ndjson or csv",
        ),
    ] {
        let mut full = vec!["admin", "--data", d];
        full.extend(args);
        let out = weir(&full, &[]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.starts_with("error: ") && err.contains(needle), "{err}");
    }
    // The org refused for its missing member was not half made: it can be created now, and
    // each org is an event.
    ok(&weir(
        &[
            "admin", "--data", d, "org", "add", "labs", "--member", "alice",
        ],
        &[],
    ));
    let orgs = ok(&weir(
        &["admin", "--data", d, "events", "--action", "org.add"],
        &[],
    ));
    assert_eq!(orgs.lines().count(), 2, "{orgs}");
}

#[test]
fn push_then_pull_round_trips_and_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"));
    let token = server.user_with_token("alice");
    let env = [
        ("WEIR_SERVER", server.url.as_str()),
        ("WEIR_TOKEN", token.as_str()),
    ];

    let src = dir.path().join("src");
    let weights: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    write(&src.join("model.safetensors"), &weights);
    write(&src.join("config.json"), b"{\"model_type\": \"llama\"}\n");
    write(&src.join("sub/notes with space.md"), b"notes\n");
    let out = ok(&weir(
        &[
            "push",
            src.to_str().expect("utf8"),
            "alice/m",
            "-m",
            "first",
        ],
        &env,
    ));
    assert!(out.contains("pushed alice/m@main commit "), "{out}");
    let again = ok(&weir(
        &["push", src.to_str().expect("utf8"), "alice/m"],
        &env,
    ));
    assert!(again.contains("up to date"), "{again}");
    // A copy of a file the repo holds is counted as already stored: the counts add up.
    let copy = dir.path().join("copy");
    for f in [
        "model.safetensors",
        "config.json",
        "sub/notes with space.md",
    ] {
        write(&copy.join(f), &std::fs::read(src.join(f)).expect("read"));
    }
    write(&copy.join("model-copy.safetensors"), &weights);
    let out = ok(&weir(
        &[
            "push",
            copy.to_str().expect("utf8"),
            "alice/m",
            "--revision",
            "copies",
        ],
        &env,
    ));
    assert!(
        out.contains(": 4 files (0 uploaded, 0 bytes; 1 already stored; 3 unchanged), 0 deleted"),
        "{out}"
    );
    // Two files with the same bytes pull side by side (fetched once, copied once checked).
    let twins = dir.path().join("twins");
    ok(&weir(
        &["pull", "alice/m@copies", twins.to_str().expect("utf8")],
        &env,
    ));
    assert_eq!(
        sha256(&twins.join("model.safetensors")),
        sha256(&twins.join("model-copy.safetensors"))
    );

    let dst = dir.path().join("dst");
    let out = ok(&weir(
        &["pull", "alice/m", dst.to_str().expect("utf8")],
        &env,
    ));
    assert!(out.contains("every file matched its sha256"), "{out}");
    for f in [
        "model.safetensors",
        "config.json",
        "sub/notes with space.md",
    ] {
        assert_eq!(sha256(&src.join(f)), sha256(&dst.join(f)), "{f}");
    }
    assert!(!dst.join(".weir").exists(), "no leftovers");

    // Resume: leave half of the weights as a partial download, then pull again.
    let digest = sha256(&src.join("model.safetensors"));
    std::fs::remove_file(dst.join("model.safetensors")).expect("rm");
    write(
        &dst.join(".weir/partial").join(&digest),
        &weights[..1_500_000],
    );
    let out = ok(&weir(
        &["pull", "alice/m", dst.to_str().expect("utf8")],
        &env,
    ));
    assert!(
        out.contains("1 downloaded") && out.contains("1 resumed"),
        "{out}"
    );
    assert_eq!(sha256(&dst.join("model.safetensors")), digest);

    // A corrupt partial file is detected by the hash check and fetched again from scratch.
    std::fs::remove_file(dst.join("model.safetensors")).expect("rm");
    write(
        &dst.join(".weir/partial").join(&digest),
        &vec![0u8; 1_000_000],
    );
    ok(&weir(
        &["pull", "alice/m", dst.to_str().expect("utf8")],
        &env,
    ));
    assert_eq!(sha256(&dst.join("model.safetensors")), digest);

    // A local file with the right content is not downloaded again.
    let out = ok(&weir(
        &["pull", "alice/m", dst.to_str().expect("utf8")],
        &env,
    ));
    assert!(out.contains("0 downloaded"), "{out}");

    // Branches and --delete.
    std::fs::remove_file(src.join("config.json")).expect("rm");
    let out = ok(&weir(
        &[
            "push",
            src.to_str().expect("utf8"),
            "alice/m",
            "--revision",
            "dev/x",
            "--delete",
        ],
        &env,
    ));
    assert!(out.contains("1 deleted"), "{out}");
    let dev = dir.path().join("dev");
    ok(&weir(
        &["pull", "alice/m@dev/x", dev.to_str().expect("utf8")],
        &env,
    ));
    assert!(!dev.join("config.json").exists());
    assert!(dev.join("model.safetensors").exists());
}

/// Arguments, environment, and a phrase the one-line error must contain.
type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);

#[test]
fn client_errors_are_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"));
    let token = server.user_with_token("alice");
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let cases: Vec<Case> = vec![
        (
            vec!["pull", "alice/missing"],
            vec![("WEIR_SERVER", server.url.as_str())],
            "Repository alice/missing not found",
        ),
        (
            vec!["pull", "not-a-repo-id"],
            vec![],
            "expected 'namespace/name'",
        ),
        (
            vec!["pull", "alice/m"],
            vec![("WEIR_SERVER", "http://127.0.0.1:9")],
            "cannot reach",
        ),
        (
            vec!["push", "/nonexistent-dir", "alice/m"],
            vec![],
            "is not a directory",
        ),
        (
            vec!["push", empty.to_str().expect("utf8"), "bob/m"],
            vec![
                ("WEIR_SERVER", server.url.as_str()),
                ("WEIR_TOKEN", "weir_wrong"),
            ],
            "Invalid credentials",
        ),
    ];
    for (args, env, needle) in cases {
        let out = weir(&args, &env);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            !err.contains(".;"),
            "a sentence and its next step joined as '.;': {err}"
        );
        assert!(
            err.starts_with("error: ") && err.contains(needle),
            "{args:?}: {err}"
        );
    }
    drop(token);
}

#[test]
fn login_saves_the_token_with_private_permissions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"));
    let token = server.user_with_token("alice");
    let cfg = dir.path().join("cfg");
    let cfg_s = cfg.to_str().expect("utf8");
    let mut c = std::process::Command::new(crate::harness::WEIR);
    c.args(["login", "--token", &token, "--server", &server.url])
        .env("WEIR_CONFIG_DIR", cfg_s);
    let out = c.output().expect("login");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let saved = cfg.join("token");
    let login: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).expect("token")).expect("json");
    assert_eq!(login["token"], token.as_str());
    assert_eq!(login["server"], server.url.as_str());
    // The saved server is the default now, and the token goes with it.
    let mine = std::process::Command::new(crate::harness::WEIR)
        .args(["notifications", "list"])
        .env("WEIR_CONFIG_DIR", cfg_s)
        .env_remove("WEIR_SERVER")
        .env_remove("WEIR_TOKEN")
        .output()
        .expect("notifications");
    assert!(
        mine.status.success(),
        "{}",
        String::from_utf8_lossy(&mine.stderr)
    );
    // Another server never receives the saved token: there the CLI is anonymous.
    let other = Server::start(&dir.path().join("other"));
    let elsewhere = std::process::Command::new(crate::harness::WEIR)
        .args(["notifications", "list", "--server", &other.url])
        .env("WEIR_CONFIG_DIR", cfg_s)
        .env_remove("WEIR_TOKEN")
        .output()
        .expect("notifications");
    assert!(!elsewhere.status.success());
    let err = String::from_utf8_lossy(&elsewhere.stderr);
    assert!(err.contains("signed-in"), "{err}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&saved)
                .expect("meta")
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
    let bad = std::process::Command::new(crate::harness::WEIR)
        .args(["login", "--token", "weir_nope", "--server", &server.url])
        .env("WEIR_CONFIG_DIR", cfg_s)
        .output()
        .expect("login");
    assert!(!bad.status.success());
}

#[test]
fn first_start_prints_an_admin_token_once() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    // One public URL for both starts: a log's origin never changes.
    let public = format!("http://127.0.0.1:{}", crate::harness::free_port());
    let first_lines = |n: usize| {
        let port = crate::harness::free_port();
        let mut child = std::process::Command::new(crate::harness::WEIR)
            .args([
                "serve",
                "--data",
                data.to_str().expect("utf8"),
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--public-url",
                &public,
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        let stdout = child.stdout.take().expect("stdout");
        let lines: Vec<String> = std::io::BufReader::new(stdout)
            .lines()
            .take(n)
            .map(|l| l.expect("line"))
            .collect();
        let _ = child.kill();
        let _ = child.wait();
        lines.join("\n")
    };
    let first = first_lines(3);
    let token = first
        .split_whitespace()
        .find(|w| w.starts_with("weir_"))
        .unwrap_or_else(|| panic!("no token in {first}"))
        .to_string();
    // the token works for operator actions and is stored only as a hash
    let db = std::fs::read(data.join("weir.db")).expect("db");
    let wal = std::fs::read(data.join("weir.db-wal")).unwrap_or_default();
    assert!(
        !db.windows(token.len())
            .chain(wal.windows(token.len()))
            .any(|w| w == token.as_bytes())
    );
    let second = first_lines(1);
    assert!(
        !second.contains("weir_"),
        "printed only on first start: {second}"
    );
    assert!(second.contains("weir is serving"), "{second}");
}

#[test]
fn identity_tier_and_export_commands() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"));
    let url = server.url.as_str();
    let alice = server.user_with_token("alice");
    let grace = server.user_with_token("grace");
    let r1 = {
        ok(&server.admin(&["user", "add", "r1"]));
        ok(&server.admin(&["token", "create", "r1", "--scope", "admin"]))
            .trim()
            .to_string()
    };
    let r2 = {
        ok(&server.admin(&["user", "add", "r2"]));
        ok(&server.admin(&["token", "create", "r2", "--scope", "admin"]))
            .trim()
            .to_string()
    };
    ok(&server.admin(&["org", "add", "lab", "--member", "grace"]));
    let as_user = |token: &str| {
        vec![
            ("WEIR_SERVER", url.to_string()),
            ("WEIR_TOKEN", token.to_string()),
        ]
    };
    let run = |args: &[&str], token: &str| {
        let env = as_user(token);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        weir(args, &env)
    };

    // A verifier's key, registered by the operator; an attestation signed, submitted, revoked.
    let key = dir.path().join("idcheck.key");
    ok(&run(
        &["identity", "keygen", key.to_str().expect("utf8")],
        &grace,
    ));
    let pubkey = format!("{}.pub", key.display());
    ok(&server.admin(&["verifier", "add", "idcheck", "--key", &pubkey]));
    let bad = server.admin(&[
        "verifier",
        "add",
        "other",
        "--key",
        key.to_str().expect("utf8").trim_end_matches(".key"),
    ]);
    assert!(!bad.status.success());
    let signed = ok(&run(
        &[
            "identity",
            "sign",
            "--key",
            key.to_str().expect("utf8"),
            "--verifier",
            "idcheck",
            "--subject",
            "grace",
            "--level",
            "accredited",
            "--country",
            "NL",
        ],
        &grace,
    ));
    let att = dir.path().join("att.json");
    std::fs::write(&att, &signed).expect("write");
    let out = ok(&run(
        &["identity", "submit", att.to_str().expect("utf8")],
        &grace,
    ));
    assert!(out.contains("grace is accredited"), "{out}");
    let shown = ok(&run(&["identity", "show"], &grace));
    assert!(
        shown.contains("accredited") && shown.contains("attestation:"),
        "{shown}"
    );

    // Tiers: the owner raises, nobody but an operator with a reason lowers.
    let src = dir.path().join("src");
    write(&src.join("w.bin"), b"restricted weights");
    ok(&run(
        &["push", src.to_str().expect("utf8"), "alice/model"],
        &alice,
    ));
    let out = ok(&run(&["tier", "set", "alice/model", "T3"], &alice));
    assert!(out.contains("tier T3 (was T0)"), "{out}");
    let denied = run(&["tier", "set", "alice/model", "T1"], &alice);
    assert!(String::from_utf8_lossy(&denied.stderr).contains("needs an operator"));
    let out = run(
        &[
            "pull",
            "alice/model",
            dir.path().join("p").to_str().expect("utf8"),
        ],
        &grace,
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("tier_no_egress"));
    // Tokens: listed without their secrets, revoked by id, and then refused.
    let tess = server.user_with_token("tess");
    let tess = tess.trim();
    let list = ok(&run(&["token", "list"], tess));
    assert!(list.contains("write") && !list.contains(tess), "{list}");
    let id = list.split_whitespace().next().expect("an id").to_string();
    let out = ok(&run(&["token", "revoke", &id], tess));
    assert!(out.contains("revoked token"), "{out}");
    let after = run(&["token", "list"], tess);
    assert!(!after.status.success());
    // A denied pull leaves nothing behind: no directory, no partial file.
    assert!(
        !dir.path().join("p").exists(),
        "a denied pull wrote to disk"
    );

    // Dual control: request, two approvals, one fetch.
    let out = ok(&run(
        &[
            "export",
            "request",
            "alice/model",
            "--org",
            "lab",
            "--purpose",
            "custody for audits",
        ],
        &grace,
    ));
    assert!(out.contains("pending (0 of 2 approvals"), "{out}");
    let id = out.split_whitespace().nth(1).expect("id").to_string();
    ok(&run(&["export", "approve", &id], &r1));
    let twice = run(&["export", "approve", &id], &r1);
    assert!(String::from_utf8_lossy(&twice.stderr).contains("already approved"));
    let early = run(
        &[
            "export",
            "fetch",
            &id,
            dir.path().join("x.tar").to_str().expect("utf8"),
        ],
        &grace,
    );
    assert!(String::from_utf8_lossy(&early.stderr).contains("two distinct reviewers"));
    let out = ok(&run(&["export", "approve", &id], &r2));
    assert!(out.contains("approved (2 of 2"), "{out}");
    let tarball = dir.path().join("model.tar");
    let out = ok(&run(
        &["export", "fetch", &id, tarball.to_str().expect("utf8")],
        &grace,
    ));
    assert!(out.contains("the link is now used"), "{out}");
    assert!(std::fs::metadata(&tarball).expect("tar").len() > 512);
    let again = run(
        &["export", "fetch", &id, tarball.to_str().expect("utf8")],
        &grace,
    );
    assert!(String::from_utf8_lossy(&again.stderr).contains("already issued"));

    // Revoking the attestation drops the level at once.
    let att_id = shown
        .split("attestation:")
        .nth(1)
        .expect("id")
        .split(|c: char| !c.is_ascii_hexdigit())
        .next()
        .expect("hex")
        .to_string();
    ok(&server.admin(&["identity", "revoke", &att_id]));
    assert!(ok(&run(&["identity", "show"], &grace)).contains("grace: account"));
}

#[test]
fn research_project_commands() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"));
    let url = server.url.as_str();
    let alice = server.user_with_token("alice");
    let grace = server.user_with_token("grace");
    ok(&server.admin(&["user", "add", "op"]));
    let op = ok(&server.admin(&["token", "create", "op", "--scope", "admin"]))
        .trim()
        .to_string();
    ok(&server.admin(&["org", "add", "lab", "--member", "grace"]));
    let run =
        |args: &[&str], token: &str| weir(args, &[("WEIR_SERVER", url), ("WEIR_TOKEN", token)]);
    let src = dir.path().join("src");
    write(&src.join("config.json"), b"{}");
    ok(&run(
        &["push", src.to_str().expect("utf8"), "alice/sealed"],
        &alice,
    ));
    ok(&run(&["tier", "set", "alice/sealed", "T4"], &alice));
    let apply = |level: &str| {
        run(
            &[
                "project",
                "apply",
                "lab/study",
                "--purpose",
                "score the sealed model on WMDP",
                "--model",
                &format!("alice/sealed:{level}"),
                "--cpu-hours",
                "2",
            ],
            &grace,
        )
    };
    let denied = apply("AL3");
    assert!(!denied.status.success());
    let err = String::from_utf8_lossy(&denied.stderr);
    assert!(
        err.contains("tier_caps_level") || err.contains("black-box"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let out = ok(&apply("AL1"));
    assert!(out.contains("project lab/study: applied"), "{out}");
    assert!(
        out.contains("alice/sealed@") && out.contains("AL1"),
        "{out}"
    );
    assert!(out.contains("2.0 CPU-hours"), "{out}");
    let own = run(
        &[
            "project",
            "review",
            "lab/study",
            "approve",
            "--reason",
            "ok",
        ],
        &grace,
    );
    assert!(String::from_utf8_lossy(&own.stderr).contains("Only operators"));
    let out = ok(&run(
        &[
            "project",
            "review",
            "lab/study",
            "approve",
            "--reason",
            "meets policy",
            "--expires",
            "30",
        ],
        &op,
    ));
    assert!(out.contains("project lab/study: active"), "{out}");
    let listed = ok(&run(&["project", "list", "--mine"], &grace));
    assert!(listed.contains("lab/study  active"), "{listed}");
    let shown = ok(&run(&["project", "show", "lab/study"], &alice));
    assert!(!shown.contains("team:"), "{shown}");
    let shown = ok(&run(&["project", "show", "lab/study"], &grace));
    assert!(shown.contains("team: grace"), "{shown}");
    let bad = run(
        &[
            "project",
            "apply",
            "lab/x",
            "--purpose",
            "p",
            "--model",
            "alice/sealed",
        ],
        &grace,
    );
    assert!(String::from_utf8_lossy(&bad.stderr).contains("add the access level"));
    // A compute grant for the project: an operator opens a call, grace (identified) applies on
    // the smallest route and is awarded at once, half released; the award is public.
    ok(&server.admin(&["identity", "set", "grace", "--level", "identified"]));
    let closes = (time::OffsetDateTime::now_utc() + time::Duration::days(30))
        .format(&time::format_description::well_known::Rfc3339)
        .expect("date");
    let open = [
        "grant",
        "call",
        "open",
        "airr",
        "--title",
        "Safety 2026",
        "--closes",
        &closes,
        "--model",
        "alice/sealed:AL1",
        "--field",
        "subsidy_history",
    ];
    let refused = run(&open, &grace);
    assert!(!refused.status.success(), "only operators open calls");
    let call = ok(&run(&open, &op));
    assert!(
        call.contains("route gateway: up to 10000 GPU-hours"),
        "{call}"
    );
    assert!(call.contains("model: alice/sealed up to AL1"), "{call}");
    let apply = |fields: &[&str]| {
        let mut args = vec![
            "grant",
            "apply",
            "airr",
            "--route",
            "gateway",
            "--project",
            "lab/study",
            "--purpose",
            "WMDP",
            "--plan",
            "score it",
            "--cpu-hours",
            "4",
        ];
        args.extend_from_slice(fields);
        run(&args, &grace)
    };
    let missing = apply(&[]);
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("subsidy_history"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    let applied = ok(&apply(&["--field", "subsidy_history=none"]));
    assert!(applied.contains(": awarded"), "{applied}");
    assert!(applied.contains("2.000 CPU-hours released"), "{applied}");
    let awards = ok(&weir(&["grant", "awards"], &[("WEIR_SERVER", url)]));
    assert!(awards.contains("for lab/study: active"), "{awards}");
    let usage = ok(&run(&["grant", "usage", "1"], &grace));
    assert!(usage.contains("total 0.0 CPU-s"), "{usage}");
    let report = dir.path().join("report.md");
    write(&report, b"half done");
    ok(&run(
        &[
            "grant",
            "report",
            "1",
            "--file",
            report.to_str().expect("utf8"),
        ],
        &grace,
    ));
    let shown = ok(&run(&["grant", "show", "1"], &op));
    assert!(shown.contains("half done"), "{shown}");
    let sha = shown
        .split("sha256 ")
        .nth(1)
        .and_then(|t| t.split(')').next())
        .expect("the report's sha256")
        .to_string();
    let wrong = run(
        &[
            "grant",
            "accept",
            "1",
            "--report",
            &"0".repeat(64),
            "--reason",
            "x",
        ],
        &op,
    );
    assert!(!wrong.status.success(), "a report not read is not accepted");
    let accepted = ok(&run(
        &[
            "grant",
            "accept",
            "1",
            "--report",
            &sha,
            "--reason",
            "progress shown",
        ],
        &op,
    ));
    assert!(accepted.contains("4.000 CPU-hours released"), "{accepted}");
}

/// The consortium board through the CLI: set up 2-of-2 on the data dir; the operator alone is
/// refused; a policy change is proposed, signed online by one member and offline by the other,
/// applied, and verified from the transparency log alone.
#[test]
fn board_decisions_from_the_cli_verify_from_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"));
    let url = server.url.as_str();
    let m1 = server.user_with_token("mia");
    let m2 = server.user_with_token("noah");
    let run =
        |args: &[&str], token: &str| weir(args, &[("WEIR_SERVER", url), ("WEIR_TOKEN", token)]);
    let key = |n: &str| {
        let k = dir.path().join(format!("{n}.key"));
        ok(&weir(
            &["identity", "keygen", k.to_str().expect("utf8")],
            &[],
        ));
        k
    };
    let (k1, k2) = (key("mia"), key("noah"));
    let member = |n: &str, k: &std::path::Path| format!("{n}={}.pub", k.display());
    ok(&server.admin(&[
        "board",
        "init",
        "--member",
        &member("mia", &k1),
        "--member",
        &member("noah", &k2),
        "--threshold",
        "2",
    ]));
    let policy = dir.path().join("policy.toml");
    write(
        &policy,
        weir_core::policy::DEFAULT_POLICY
            .replace("weir-default-2026.11", "board-cli")
            .as_bytes(),
    );
    let alone = server.admin(&["policy", "set", policy.to_str().expect("utf8")]);
    assert!(!alone.status.success(), "the operator alone is refused");
    assert!(String::from_utf8_lossy(&alone.stderr).contains("board"));
    let proposed = ok(&run(
        &[
            "board",
            "propose",
            "policy-set",
            policy.to_str().expect("utf8"),
        ],
        &m1,
    ));
    assert!(
        proposed.contains("proposal 1 (policy_set): pending"),
        "{proposed}"
    );
    let signed = ok(&run(
        &["board", "sign", "1", "--key", k1.to_str().expect("utf8")],
        &m1,
    ));
    assert!(signed.contains("signatures 1 of 2"), "{signed}");
    let digest = proposed
        .split("digest ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .expect("digest")
        .to_string();
    let offline = ok(&weir(
        &[
            "board",
            "sign",
            "1",
            "--offline",
            "--digest",
            &digest,
            "--key",
            k2.to_str().expect("utf8"),
        ],
        &[],
    ));
    let applied = ok(&run(
        &["board", "sign", "1", "--signature", offline.trim()],
        &m2,
    ));
    assert!(applied.contains("applied"), "{applied}");
    // The log integrates its entries within a second or two.
    let deadline = Instant::now() + Duration::from_secs(20);
    let verified = loop {
        let out = run(&["board", "verify", "1"], &m2);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if out.status.success() && text.contains("outcome applied") {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(verified.contains("2 of 2 valid signatures"), "{verified}");
    assert!(verified.contains("outcome applied"), "{verified}");
}

/// Funding pools through the CLI: an operator opens a bounty pool from a rules file, members
/// pledge exact amounts, the pool's ledger and a member's statement show them.
#[test]
fn funding_pools_from_the_cli() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"));
    let url = server.url.as_str();
    let fred = server.user_with_token("fred");
    ok(&server.admin(&["user", "add", "op"]));
    let op = ok(&server.admin(&["token", "create", "op", "--scope", "admin"]))
        .trim()
        .to_string();
    let run =
        |args: &[&str], token: &str| weir(args, &[("WEIR_SERVER", url), ("WEIR_TOKEN", token)]);
    let rules = dir.path().join("rules.json");
    write(
        &rules,
        br#"{"pays": [{"kind": "vulnerability", "amount": "100"}], "cap_per_report": "100", "cap_per_pool": "1000"}"#,
    );
    let create = [
        "pool",
        "create",
        "vulns",
        "--title",
        "Bounties",
        "--purpose",
        "bounty",
        "--rules",
        rules.to_str().expect("utf8"),
    ];
    assert!(
        !run(&create, &fred).status.success(),
        "operators open pools"
    );
    assert!(ok(&run(&create, &op)).contains("pool vulns (bounty)"));
    let inexact = run(&["pool", "pledge", "vulns", "10.005"], &fred);
    assert!(String::from_utf8_lossy(&inexact.stderr).contains("decimals"));
    let pledged = ok(&run(&["pool", "pledge", "vulns", "10.50"], &fred));
    assert!(
        pledged.contains("10.50 pledged") && pledged.contains("(EUR)"),
        "{pledged}"
    );
    let shown = ok(&weir(&["pool", "show", "vulns"], &[("WEIR_SERVER", url)]));
    assert!(shown.contains("pledge 10.50 (fred)"), "{shown}");
    let st = ok(&run(&["pool", "statement", "fred"], &fred));
    assert!(st.contains("vulns: pledged 10.50"), "{st}");
}

/// The research environment end to end through the CLI and a real `weir serve --research`:
/// grace scores a restricted model on a WMDP-format file inside the sandbox; two checkers
/// release the results; `weir job run --local` on the public stand-in (the same weights) gives
/// the same answers on her machine.
#[test]
fn research_jobs_from_the_cli_match_local_runs_on_the_standin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = weir_enclave::SandboxConfig::new(dir.path().join("probe"));
    if let Err(e) = weir_enclave::Sandbox::open(&probe) {
        if std::env::var_os("WEIR_ENCLAVE_REQUIRED").is_some() {
            panic!("the sandbox is required here and cannot start: {e}");
        }
        eprintln!("SKIPPED (no sandbox on this machine: {e})");
        return;
    }
    let server = Server::start_with(
        &dir.path().join("data"),
        harness::free_port(),
        &["--research"],
    );
    let url = server.url.as_str();
    let alice = server.user_with_token("alice");
    let grace = server.user_with_token("grace");
    ok(&server.admin(&["user", "add", "op1"]));
    ok(&server.admin(&["user", "add", "op2"]));
    let op1 = ok(&server.admin(&["token", "create", "op1", "--scope", "admin"]))
        .trim()
        .to_string();
    let op2 = ok(&server.admin(&["token", "create", "op2", "--scope", "admin"]))
        .trim()
        .to_string();
    ok(&server.admin(&["org", "add", "lab", "--member", "grace"]));
    ok(&server.admin(&[
        "identity",
        "set",
        "grace",
        "--level",
        "accredited",
        "--country",
        "NL",
    ]));
    let run =
        |args: &[&str], token: &str| weir(args, &[("WEIR_SERVER", url), ("WEIR_TOKEN", token)]);
    // The restricted model and its public stand-in: the same random Llama.
    let runner = std::path::Path::new(harness::WEIR).with_file_name("weir-runner");
    let model = dir.path().join("model");
    let out = std::process::Command::new(&runner)
        .args(["random-model", model.to_str().expect("utf8"), "--seed", "3"])
        .output()
        .expect("weir-runner");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ok(&run(
        &["push", model.to_str().expect("utf8"), "alice/llama"],
        &alice,
    ));
    ok(&run(
        &["push", model.to_str().expect("utf8"), "alice/llama-standin"],
        &alice,
    ));
    ok(&run(&["tier", "set", "alice/llama", "T3"], &alice));
    ok(&run(
        &[
            "project",
            "apply",
            "lab/study",
            "--purpose",
            "WMDP uplift",
            "--model",
            "alice/llama:AL1",
            "--standin",
            "alice/llama-standin",
        ],
        &grace,
    ));
    ok(&run(
        &[
            "project",
            "review",
            "lab/study",
            "approve",
            "--reason",
            "ok",
        ],
        &op1,
    ));
    let questions = dir.path().join("questions.jsonl");
    std::fs::write(
        &questions,
        "{\"question\": \"what is the cell?\", \"choices\": [\"virus\", \"gene\", \"protein\", \"bacteria\"], \"answer\": 1}\n\
         {\"question\": \"which dose is the risk?\", \"choices\": [\"one\", \"two\", \"three\", \"heat\"], \"answer\": 3}\n",
    )
    .expect("questions");
    let params = r#"{"task": "wmdp_bio"}"#;
    let submitted = ok(&run(
        &[
            "job",
            "submit",
            "alice/llama",
            "--project",
            "lab/study",
            "--kind",
            "mcq",
            "--input",
            questions.to_str().expect("utf8"),
            "--params",
            params,
        ],
        &grace,
    ));
    let id = submitted
        .split_whitespace()
        .nth(1)
        .expect("job id")
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = ok(&run(&["job", "status", &id], &grace));
        if status.contains("succeeded") {
            assert!(status.contains("outputs: awaiting_review"), "{status}");
            break;
        }
        assert!(!status.contains("failed"), "{status}");
        assert!(
            Instant::now() < deadline,
            "the job did not finish: {status}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let held = run(
        &[
            "job",
            "outputs",
            &id,
            dir.path().join("early").to_str().expect("utf8"),
        ],
        &grace,
    );
    assert!(!held.status.success(), "outputs left before the checks");
    // The second checker is a designated output checker, not an operator.
    let carol = server.user_with_token("carol");
    let refused = run(&["job", "pending"], &carol);
    assert!(
        !refused.status.success(),
        "a plain account has no review queue"
    );
    ok(&server.admin(&[
        "checker",
        "add",
        "carol",
        "--reason",
        "trained output checker",
    ]));
    assert!(ok(&server.admin(&["checker", "list"])).contains("carol checker"));
    let pending = ok(&run(&["job", "pending"], &carol));
    assert!(pending.contains(&format!("job {id} ")), "{pending}");
    assert!(pending.contains("checked under outputs-v1"), "{pending}");
    assert!(ok(&run(&["job", "pending"], &op2)).contains(&format!("job {id} ")));
    for checker in [&op1, &carol] {
        ok(&run(&["job", "review", &id, "--all", "approve"], checker));
    }
    assert!(ok(&run(&["job", "pending"], &carol)).contains("no job's outputs await your review"));
    let got = dir.path().join("got");
    ok(&run(
        &["job", "outputs", &id, got.to_str().expect("utf8")],
        &grace,
    ));
    // The same job on grace's machine, against the stand-in pulled from the registry.
    let local = dir.path().join("local");
    let cache = dir.path().join("cache");
    let out = weir(
        &[
            "job",
            "run",
            "--local",
            "--kind",
            "mcq",
            "--project",
            "lab/study",
            "--input",
            questions.to_str().expect("utf8"),
            "--params",
            params,
            "--out",
            local.to_str().expect("utf8"),
        ],
        &[
            ("WEIR_SERVER", url),
            ("WEIR_TOKEN", &grace),
            ("WEIR_CACHE_DIR", cache.to_str().expect("utf8")),
        ],
    );
    ok(&out);
    assert_eq!(
        std::fs::read(got.join("samples.jsonl")).expect("sandbox samples"),
        std::fs::read(local.join("samples.jsonl")).expect("local samples"),
    );
    let inside: serde_json::Value =
        serde_json::from_slice(&std::fs::read(got.join("results.json")).expect("results"))
            .expect("json");
    let outside: serde_json::Value =
        serde_json::from_slice(&std::fs::read(local.join("results.json")).expect("results"))
            .expect("json");
    assert_eq!(inside["results"], outside["results"]);
    let log = ok(&run(&["job", "log"], &grace));
    assert!(
        log.contains(&format!("job {id} (mcq) on alice/llama")),
        "{log}"
    );
    let finished = ok(&server.admin(&["events", "--action", "job.finish"]));
    assert!(finished.contains("job.finish"), "{finished}");
    // The job, its metering and the output decisions are on the transparency log, which audits.
    let cfg = dir.path().join("cfg");
    let audit = weir(
        &["log", "audit"],
        &[
            ("WEIR_SERVER", url),
            ("WEIR_CONFIG_DIR", cfg.to_str().expect("utf8")),
        ],
    );
    let text = ok(&audit);
    assert!(text.contains("audited"), "{text}");
}
