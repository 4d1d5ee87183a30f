//! The evaluation and classification verbs end to end against a real `weir serve`: operator
//! policy changes (refused with the rule named, or signed, logged and raising tiers), evaluator
//! accreditation and signing (refusing to sign a result the raw log does not back), evidence,
//! and the documentation export.

use std::path::Path;

use serde_json::Value;

use crate::harness::{Server, ok, weir};

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write");
}

fn lm_eval(task: &str, acc: f64, n: i64) -> String {
    serde_json::json!({
        "results": {task: {"acc,none": acc, "acc_stderr,none": "N/A"}},
        "n-samples": {task: {"original": n, "effective": n}},
        "config": {"model": "hf", "limit": null},
        "lm_eval_version": "0.4.13",
    })
    .to_string()
}

#[test]
fn policy_evaluators_evidence_and_documentation_from_the_cli() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"));
    let token = server.user_with_token("alice");
    let op = {
        ok(&server.admin(&["user", "add", "op"]));
        ok(&server.admin(&["token", "create", "op", "--scope", "admin"]))
            .trim()
            .to_string()
    };
    let env = [
        ("WEIR_SERVER", server.url.as_str()),
        ("WEIR_TOKEN", token.as_str()),
    ];
    let model = dir.path().join("m");
    write(
        &model.join("README.md"),
        b"---\nlicense: mit\ntraining_compute_flop: 5e24\n---\n# m\n",
    );
    write(&model.join("config.json"), b"{}");
    ok(&weir(
        &["push", model.to_str().expect("utf8"), "alice/m"],
        &env,
    ));
    let classify = || -> Value {
        serde_json::from_str(&ok(&weir(&["classify", "alice/m", "--json"], &env))).expect("json")
    };
    assert_eq!(classify()["minimum_tier"], "T0");
    let human = ok(&weir(&["classify", "alice/m"], &env));
    assert!(
        human.contains("minimum tier T0: no rule raises the tier"),
        "{human}"
    );
    assert!(human.contains("source: EU AI Act art. 51(2)"), "{human}");

    // A policy without a source for a rule is refused, in one line naming the rule.
    let shipped = ok(&server.admin(&["policy", "show"]));
    assert!(shipped.contains("(shipped default)"));
    let text = shipped
        .split_once('\n')
        .map(|(_, t)| t.to_string())
        .expect("text");
    let bad = dir.path().join("bad.toml");
    write(
        &bad,
        text.replace(
            "source = \"Re-assess when training compute exceeds 2x the last assessed (OpenAI Preparedness Framework v1, >2x effective compute)\"",
            "source = \"\"",
        )
        .as_bytes(),
    );
    let out = server.admin(&["policy", "set", bad.to_str().expect("utf8")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[reassessment] must name its source"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    // A stricter presumption (1e24) raises the model at once, signed and logged.
    let strict = dir.path().join("strict.toml");
    write(
        &strict,
        text.replace("threshold_flop = 1e25", "threshold_flop = 1e24")
            .replace(
                "version = \"weir-default-2026.11\"",
                "version = \"strict-1\"",
            )
            .as_bytes(),
    );
    let out = ok(&server.admin(&["policy", "set", strict.to_str().expect("utf8")]));
    assert!(
        out.contains("policy strict-1 in force") && out.contains("1 repo(s) raised"),
        "{out}"
    );
    let c = classify();
    assert_eq!(
        (c["minimum_tier"].as_str(), c["tier"].as_str()),
        (Some("T2"), Some("T2"))
    );
    assert_eq!(c["policy"]["version"], "strict-1");
    // The policy in force is served with the operator's signed note, verifiable with the log key.
    let served: Value = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(async {
            reqwest::get(format!("{}/api/v1/policy", server.url))
                .await
                .expect("get")
                .json()
                .await
                .expect("json")
        });
    assert_eq!(
        (served["default"].as_bool(), served["version"].as_str()),
        (Some(false), Some("strict-1"))
    );
    let vkey = weir_tlog::note::Verifier::parse(served["verification_key"].as_str().expect("vkey"))
        .expect("vkey");
    let note = weir_tlog::note::Note::open(served["signature"].as_str().expect("sig"), &[vkey])
        .expect("the stored policy signature verifies");
    assert!(note.text.contains(served["sha256"].as_str().expect("sha")));
    assert!(!ok(&server.admin(&["policy", "show"])).contains("(shipped default)"));
    // The presumption's notification clock runs until the publisher records the notification.
    assert_eq!(c["notification"]["overdue"], false);
    let out = ok(&weir(
        &["classify", "alice/m", "--notified", "AI Office 2026/7"],
        &env,
    ));
    assert!(out.contains("notification recorded"), "{out}");
    let human = ok(&weir(&["classify", "alice/m"], &env));
    assert!(
        human.contains("notified") && human.contains("AI Office 2026/7"),
        "{human}"
    );

    // Evaluators: keys, accreditation, and signing only what the raw log backs.
    let key = dir.path().join("lab.key");
    ok(&weir(&["eval", "keygen", key.to_str().expect("utf8")], &[]));
    let pubkey = format!("{}.pub", key.display());
    ok(&server.admin(&["evaluator", "add", "lab", "--key", &pubkey]));
    let suites = ok(&weir(&["eval", "suites"], &env));
    assert!(
        suites.contains("wmdp-bio v1") && suites.contains("(or 1520)"),
        "{suites}"
    );
    assert!(ok(&server.admin(&["evaluator", "list"])).contains("lab accredited"));
    let log = dir.path().join("results.json");
    write(&log, lm_eval("wmdp_bio", 0.26, 1273).as_bytes());
    let out = ok(&weir(
        &[
            "eval",
            "import",
            log.to_str().expect("utf8"),
            "alice/m",
            "--suite",
            "wmdp-bio",
            "--evaluator",
            "lab",
            "--key",
            key.to_str().expect("utf8"),
        ],
        &env,
    ));
    assert!(out.contains("signed by lab"), "{out}");
    let other = dir.path().join("chem.json");
    write(&other, lm_eval("wmdp_chem", 0.3, 408).as_bytes());
    let out = ok(&weir(
        &[
            "eval",
            "import",
            other.to_str().expect("utf8"),
            "alice/m@main",
            "--suite",
            "wmdp-chem",
        ],
        &env,
    ));
    assert!(out.contains("unsigned"), "{out}");
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("result "))
        .expect("id")
        .trim()
        .to_string();
    // The evaluator checks against its own copy of the log: a different file is refused.
    let out = weir(
        &[
            "eval",
            "submit",
            &id,
            "--evaluator",
            "lab",
            "--key",
            key.to_str().expect("utf8"),
            "--log",
            log.to_str().expect("utf8"),
        ],
        &env,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to sign"));
    ok(&weir(
        &[
            "eval",
            "submit",
            &id,
            "--evaluator",
            "lab",
            "--key",
            key.to_str().expect("utf8"),
            "--log",
            other.to_str().expect("utf8"),
        ],
        &env,
    ));
    assert_eq!(classify()["counted_results"], 2);
    let listed = ok(&weir(&["eval", "list", "alice/m"], &env));
    assert_eq!(listed.matches("result ").count(), 2, "{listed}");
    // An unreadable log fails before upload, in one line.
    let junk = dir.path().join("junk.eval");
    write(&junk, b"PK\x03\x04 not really a zip");
    let out = weir(
        &[
            "eval",
            "import",
            junk.to_str().expect("utf8"),
            "alice/m",
            "--suite",
            "wmdp-bio",
        ],
        &env,
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("junk.eval"),
        "{out:?}"
    );

    // Evidence from an account that is not accredited awaits triage and changes nothing; the
    // publisher cannot review it; an operator's confirmation raises the tier.
    let out = ok(&weir(
        &[
            "evidence",
            "file",
            "alice/m",
            "--domain",
            "cyber",
            "--summary",
            "writes exploits",
        ],
        &env,
    ));
    assert!(out.contains("awaits an operator's triage"), "{out}");
    assert!(out.contains("tier T2"), "{out}");
    let out = weir(
        &[
            "evidence",
            "review",
            "1",
            "dismiss",
            "--reason",
            "mine is fine",
        ],
        &env,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Only operators review"));
    let op_env = [
        ("WEIR_SERVER", server.url.as_str()),
        ("WEIR_TOKEN", op.as_str()),
    ];
    let out = ok(&weir(
        &[
            "evidence",
            "review",
            "1",
            "confirm",
            "--reason",
            "reproduced",
        ],
        &op_env,
    ));
    assert!(out.contains("confirmed; minimum tier now T3"), "{out}");

    // The documentation export.
    let doc: Value =
        serde_json::from_str(&ok(&weir(&["doc", "alice/m", "--format", "json"], &env)))
            .expect("json");
    let field = |id: &str| {
        doc["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .find(|f| f["id"] == id)
            .cloned()
            .expect("field")
    };
    assert_eq!(field("6.x")["value"], "5.00e24");
    assert_eq!(field("3.x")["value"], "mit");
    let md = ok(&weir(&["doc", "alice/m"], &env));
    assert!(
        md.contains("| 1.2 | Model name | alice/m | registry |"),
        "{md}"
    );
}
