//! CLI wiring for evaluations and classification: `weir eval`, `weir classify`, `weir evidence`,
//! `weir doc`, and the operator's `weir admin evaluator|suite|policy`. Formatting only; the
//! decisions are the server's (and `weir_core::policy`'s).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::Subcommand;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use weir_core::eval::{Domain, Suite};
use weir_core::policy::Policy;
use weir_store::Store;
use weir_store::evals::StoredPolicy;

use super::{Remote, client, record_admin, repo_id, split_rev};

#[derive(Subcommand)]
pub enum EvalCommand {
    /// Import a harness log (lm-eval results JSON, Inspect .eval or .json) for NS/NAME@REV.
    /// With --evaluator and --key, also sign the result as that accredited evaluator.
    Import {
        file: PathBuf,
        /// NS/NAME[@REV] (default revision: main)
        repo: String,
        #[arg(long)]
        suite: String,
        #[arg(long, requires = "key")]
        evaluator: Option<String>,
        /// The evaluator's Ed25519 secret key file (from 'weir eval keygen').
        #[arg(long, requires = "evaluator")]
        key: Option<PathBuf>,
    },
    /// (accredited evaluator) Sign result ID and submit the signature.
    Submit {
        id: String,
        #[arg(long)]
        evaluator: String,
        #[arg(long)]
        key: PathBuf,
        /// The raw log: refuse to sign unless the result matches what it says.
        #[arg(long)]
        log: Option<PathBuf>,
    },
    /// Show one result.
    Show { id: String },
    /// List a model's results.
    List { repo: String },
    /// The evaluation suites this registry knows.
    Suites,
    /// (evaluator) Make an Ed25519 key pair: OUT (secret, 0600) and OUT.pub for the operator.
    Keygen { out: PathBuf },
}

#[derive(Subcommand)]
pub enum EvidenceCommand {
    /// File evidence that a hazard domain of NS/NAME cannot be ruled out (from an accredited
    /// account it counts at once; from others it awaits an operator's triage) (raises it to
    /// ambiguous at once; operators confirm or dismiss it).
    File {
        repo: String,
        #[arg(long)]
        domain: String,
        #[arg(long)]
        summary: String,
    },
    /// List the evidence filed about NS/NAME.
    List { repo: String },
    /// (operator) Confirm or dismiss evidence ID.
    Review {
        id: i64,
        /// confirm or dismiss
        decision: String,
        /// When confirming: high or critical rules the domain in (default: ambiguous).
        #[arg(long)]
        severity: Option<String>,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
pub enum EvaluatorCommand {
    /// Accredit an evaluator by its Ed25519 public key (hex file from 'weir eval keygen').
    Add {
        name: String,
        #[arg(long)]
        key: PathBuf,
    },
    /// Withdraw an accreditation: the evaluator's results stop counting at once.
    Revoke {
        name: String,
    },
    List,
}

#[derive(Subcommand)]
pub enum SuiteCommand {
    /// Add a suite (or a new version of one).
    Add {
        name: String,
        /// bio, chem, cyber, autonomy or manipulation
        #[arg(long)]
        domain: String,
        #[arg(long, default_value = "acc")]
        metric: String,
        /// Score of random guessing.
        #[arg(long)]
        chance: f64,
        /// Question count of a complete run.
        #[arg(long)]
        questions: i64,
        /// Another question count also accepted as complete (an earlier dataset release).
        #[arg(long)]
        original_questions: Option<i64>,
        /// Harness task names that run the suite (repeatable).
        #[arg(long = "task", required = true)]
        tasks: Vec<String>,
        /// Where the suite comes from.
        #[arg(long)]
        source: String,
    },
    List,
}

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Put FILE (TOML) in force: checked, signed with the log key, logged; every repo is
    /// re-classified and raised where the new policy asks for more.
    Set { file: PathBuf },
    /// Print the policy in force.
    Show,
}

fn load_secret(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

pub async fn eval(command: EvalCommand, remote: &Remote) -> Result<()> {
    match command {
        EvalCommand::Keygen { out } => super::ed25519_keygen(&out, "evaluator")?,
        EvalCommand::Import {
            file,
            repo,
            suite,
            evaluator,
            key,
        } => {
            let (r, rev) = split_rev(&repo);
            let id = repo_id(r)?;
            let c = client(remote)?;
            let v = c.import_eval(&id, rev, &suite, &file).await?;
            print_result(&v);
            if let (Some(evaluator), Some(key)) = (evaluator, key) {
                let rid = v["id"].as_str().unwrap_or_default();
                let s = c
                    .sign_eval(rid, &evaluator, &load_secret(&key)?, Some(&file))
                    .await?;
                println!("signed by {}", s["evaluator"].as_str().unwrap_or("?"));
            } else {
                println!(
                    "unsigned: it counts once an accredited evaluator signs it (weir eval submit {} --evaluator NAME --key FILE)",
                    v["id"].as_str().unwrap_or("ID")
                );
            }
        }
        EvalCommand::Submit {
            id,
            evaluator,
            key,
            log,
        } => {
            let v = client(remote)?
                .sign_eval(&id, &evaluator, &load_secret(&key)?, log.as_deref())
                .await?;
            print_result(&v);
            println!("signed by {}", v["evaluator"].as_str().unwrap_or("?"));
        }
        EvalCommand::Show { id } => {
            let v = client(remote)?.eval_result(&id).await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        EvalCommand::List { repo } => {
            let id = repo_id(&repo)?;
            let c = client(remote)?;
            let v = c.get(&format!("/api/v1/models/{id}/evaluations")).await?;
            for r in v["results"].as_array().into_iter().flatten() {
                print_result(r);
            }
        }
        EvalCommand::Suites => {
            let v = client(remote)?.get("/api/v1/eval/suites").await?;
            for s in v["suites"].as_array().into_iter().flatten() {
                println!(
                    "{} v{}  domain {}  metric {}  chance {}  questions {}{}  tasks {}",
                    s["name"].as_str().unwrap_or("?"),
                    s["version"],
                    s["domain"].as_str().unwrap_or("?"),
                    s["metric"].as_str().unwrap_or("?"),
                    s["chance"],
                    s["questions"],
                    s["original_questions"]
                        .as_i64()
                        .map(|o| format!(" (or {o})"))
                        .unwrap_or_default(),
                    s["tasks"]
                        .as_array()
                        .map(|t| t
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", "))
                        .unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}

fn print_result(v: &Value) {
    let rec = &v["record"];
    let partial: Vec<&str> = rec["partial"]
        .as_array()
        .map(|p| p.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    println!(
        "result {}\n  {}@{} suite {} ({}): {} {} = {} on n={} [{} {}]\n  raw log sha256 {}{}",
        v["id"].as_str().unwrap_or("?"),
        rec["repo"].as_str().unwrap_or("?"),
        v["commit"]
            .as_str()
            .map(|c| &c[..c.len().min(12)])
            .unwrap_or("?"),
        rec["suite"].as_str().unwrap_or("?"),
        rec["domain"].as_str().unwrap_or("?"),
        rec["task"].as_str().unwrap_or("?"),
        rec["metric"].as_str().unwrap_or("?"),
        rec["value"],
        rec["n"],
        rec["harness"].as_str().unwrap_or("?"),
        rec["harness_version"].as_str().unwrap_or("?"),
        rec["raw_log_sha256"].as_str().unwrap_or("?"),
        if partial.is_empty() {
            String::new()
        } else {
            format!("\n  PARTIAL (never counts): {}", partial.join("; "))
        }
    );
}

/// `weir classify NS/NAME[@REV]`: the decision rule by rule, with the evidence used.
pub async fn classify(
    repo: &str,
    as_json: bool,
    notified: Option<&str>,
    remote: &Remote,
) -> Result<()> {
    let (r, rev) = split_rev(repo);
    let id = repo_id(r)?;
    if let Some(reference) = notified {
        let v = client(remote)?.record_notification(&id, reference).await?;
        println!(
            "{id}: notification recorded ({}), clock due {} is met",
            reference,
            v["notification"]["due"].as_str().unwrap_or("?")
        );
        return Ok(());
    }
    let v = client(remote)?.classification(&id, rev).await?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let s = |v: &Value| v.as_str().unwrap_or("-").to_string();
    println!(
        "{id}@{} (tier {}, policy {})",
        &s(&v["revision"]),
        s(&v["tier"]),
        s(&v["policy"]["version"])
    );
    println!(
        "minimum tier {}: {}",
        s(&v["minimum_tier"]),
        s(&v["explanation"])
    );
    println!("\nrules:");
    for r in v["rules"].as_array().into_iter().flatten() {
        let fired = r["fired"].as_bool().unwrap_or(false);
        println!(
            "  [{}] {:<20} {:<4} {}\n        source: {}",
            if fired { "fired" } else { "  -  " },
            s(&r["rule"]),
            r["tier"].as_str().unwrap_or(""),
            s(&r["detail"]),
            s(&r["source"])
        );
    }
    println!("\ndomains:");
    for d in v["domains"].as_array().into_iter().flatten() {
        println!("  {:<13} {}", s(&d["domain"]), s(&d["outcome"]));
        for e in d["evidence"].as_array().into_iter().flatten() {
            println!("      - {}", e.as_str().unwrap_or(""));
        }
    }
    let ignored = v["ignored_results"].as_array().cloned().unwrap_or_default();
    if !ignored.is_empty() {
        println!("\nresults that do not count:");
        for i in ignored {
            println!(
                "  {} {}: {}",
                &s(&i["id"])[..12.min(s(&i["id"]).len())],
                s(&i["suite"]),
                s(&i["why"])
            );
        }
    }
    if let Some(n) = v["notification"].as_object() {
        println!(
            "\nnotification clock ({}): started {}, due {}{}",
            n.get("rule").and_then(Value::as_str).unwrap_or("-"),
            n.get("started_at").and_then(Value::as_str).unwrap_or("-"),
            n.get("due").and_then(Value::as_str).unwrap_or("-"),
            if let Some(at) = n.get("notified_at").and_then(Value::as_str) {
                format!(
                    " — notified {at} ({})",
                    n.get("reference").and_then(Value::as_str).unwrap_or("-")
                )
            } else if n.get("overdue").and_then(Value::as_bool) == Some(true) {
                " — OVERDUE".to_string()
            } else {
                format!(
                    " ({} days left)",
                    n.get("days_left").cloned().unwrap_or(json!("?"))
                )
            }
        );
    }
    if v["reassessment_due"].as_bool() == Some(true) {
        println!(
            "\nre-assessment due: training compute more than doubled since the last assessment"
        );
    }
    let errors = v["card"]["errors"].as_array().cloned().unwrap_or_default();
    for e in errors {
        println!("card problem: {}", e.as_str().unwrap_or(""));
    }
    Ok(())
}

pub async fn evidence(command: EvidenceCommand, remote: &Remote) -> Result<()> {
    let c = client(remote)?;
    match command {
        EvidenceCommand::File {
            repo,
            domain,
            summary,
        } => {
            let id = repo_id(&repo)?;
            let v = c.file_evidence(&id, &domain, &summary).await?;
            if v["state"] == "pending_triage" {
                println!(
                    "filed evidence #{} ({} awaits an operator's triage, due {}; nothing changes until it is confirmed); {id} tier {}",
                    v["id"],
                    v["domain"].as_str().unwrap_or("?"),
                    v["triage_due"].as_str().unwrap_or("?"),
                    v["tier"]["after"].as_str().unwrap_or("?")
                );
            } else {
                println!(
                    "filed evidence #{} ({} is ambiguous until reviewed); {id} tier {} -> {}",
                    v["id"],
                    v["domain"].as_str().unwrap_or("?"),
                    v["tier"]["before"].as_str().unwrap_or("?"),
                    v["tier"]["after"].as_str().unwrap_or("?")
                );
            }
        }
        EvidenceCommand::List { repo } => {
            let id = repo_id(&repo)?;
            let v = c.evidence(&id).await?;
            for e in v["evidence"].as_array().into_iter().flatten() {
                println!(
                    "#{} {} {}{} filed {}{}",
                    e["id"],
                    e["domain"].as_str().unwrap_or("?"),
                    e["state"].as_str().unwrap_or("?"),
                    e["severity"]
                        .as_str()
                        .map(|s| format!(" ({s})"))
                        .unwrap_or_default(),
                    e["filed_at"].as_str().unwrap_or("?"),
                    e["summary"]
                        .as_str()
                        .map(|s| format!(": {}", s.escape_debug()))
                        .unwrap_or_default()
                );
            }
        }
        EvidenceCommand::Review {
            id,
            decision,
            severity,
            reason,
        } => {
            let v = c
                .review_evidence(id, &decision, severity.as_deref(), &reason)
                .await?;
            println!(
                "evidence #{id} {}; minimum tier now {}",
                v["state"].as_str().unwrap_or("?"),
                v["minimum_tier"].as_str().unwrap_or("?")
            );
        }
    }
    Ok(())
}

pub async fn doc(repo: &str, format: &str, out: Option<&Path>, remote: &Remote) -> Result<()> {
    let (r, rev) = split_rev(repo);
    let id = repo_id(r)?;
    let markdown = match format {
        "md" | "markdown" => true,
        "json" => false,
        other => bail!("unknown format {other:?}; use json or md"),
    };
    let text = client(remote)?.documentation(&id, rev, markdown).await?;
    let text = if markdown {
        text
    } else {
        serde_json::to_string_pretty(&serde_json::from_str::<Value>(&text)?)?
    };
    match out {
        Some(p) => {
            std::fs::write(p, text.as_bytes())
                .with_context(|| format!("writing {}", p.display()))?;
            println!("wrote {}", p.display());
        }
        None => println!("{text}"),
    }
    Ok(())
}

// ---- operator ---------------------------------------------------------------------------------

pub async fn admin_evaluator(store: &Store, command: EvaluatorCommand) -> Result<()> {
    match command {
        EvaluatorCommand::Add { name, key } => {
            weir_core::Name::parse(&name).map_err(|e| anyhow!("{e}"))?;
            let hex_key = load_secret(&key)?;
            weir_signing::public_key(&hex_key).map_err(|e| {
                anyhow!(
                    "{}: {e}; use the .pub file from 'weir eval keygen'",
                    key.display()
                )
            })?;
            store.db.add_evaluator(&name, hex_key.trim()).await?;
            record_admin(store, "evaluator.add", Some(&name), "accredited").await?;
            let raised = weir_registry::classification::reclassify_all(
                store,
                Some("operator"),
                weir_registry::classification::Lowering::AfterReview,
                weir_registry::clock::now(),
            )
            .await?;
            println!("accredited evaluator {name}{}", raised_note(raised));
        }
        EvaluatorCommand::Revoke { name } => {
            store
                .db
                .revoke_evaluator(&name)
                .await
                .map_err(|e| anyhow!("{e}; see: weir admin evaluator list"))?;
            record_admin(store, "evaluator.revoke", Some(&name), "revoked").await?;
            let raised = weir_registry::classification::reclassify_all(
                store,
                Some("operator"),
                weir_registry::classification::Lowering::AfterReview,
                weir_registry::clock::now(),
            )
            .await?;
            println!(
                "revoked evaluator {name}: its results no longer count{}",
                raised_note(raised)
            );
        }
        EvaluatorCommand::List => {
            for e in store.db.evaluators().await? {
                println!(
                    "{} {} {}",
                    e.name,
                    if e.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "accredited"
                    },
                    e.public_key
                );
            }
        }
    }
    Ok(())
}

fn raised_note(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!("; {n} repo(s) raised to their new minimum tier")
    }
}

pub async fn admin_suite(store: &Store, command: SuiteCommand) -> Result<()> {
    match command {
        SuiteCommand::Add {
            name,
            domain,
            metric,
            chance,
            questions,
            original_questions,
            tasks,
            source,
        } => {
            weir_core::Name::parse(&name).map_err(|e| anyhow!("suite name: {e}"))?;
            let domain = Domain::parse(&domain).ok_or_else(|| {
                anyhow!("unknown domain {domain:?}; use bio, chem, cyber, autonomy or manipulation")
            })?;
            if !(0.0..1.0).contains(&chance) {
                bail!("--chance {chance} must be in [0, 1)");
            }
            if questions <= 0 || original_questions.is_some_and(|o| o <= 0) {
                bail!("question counts must be positive");
            }
            if source.trim().is_empty() {
                bail!("--source must say where the suite comes from");
            }
            let s = store
                .db
                .add_suite(&Suite {
                    name,
                    version: 0,
                    domain,
                    metric,
                    chance,
                    questions,
                    original_questions,
                    tasks,
                    source,
                })
                .await?;
            record_admin(
                store,
                "suite.add",
                Some(&s.name),
                &format!("v{}", s.version),
            )
            .await?;
            weir_registry::classification::reclassify_all(
                store,
                Some("operator"),
                weir_registry::classification::Lowering::AfterReview,
                weir_registry::clock::now(),
            )
            .await?;
            println!("suite {} v{} ({})", s.name, s.version, s.domain.as_str());
        }
        SuiteCommand::List => {
            for s in store.db.suites().await? {
                println!(
                    "{} v{} {} {} chance {} n={} tasks {}",
                    s.name,
                    s.version,
                    s.domain.as_str(),
                    s.metric,
                    s.chance,
                    s.questions,
                    s.tasks.join(",")
                );
            }
        }
    }
    Ok(())
}

pub async fn admin_policy(store: &Store, data: &Path, command: PolicyCommand) -> Result<()> {
    match command {
        PolicyCommand::Show => {
            let p = weir_registry::policy::policy_in_force(store).await?;
            println!(
                "# version {} sha256 {}{}\n{}",
                p.policy.version,
                p.sha256,
                if p.set_by.is_none() {
                    " (shipped default)"
                } else {
                    ""
                },
                p.text
            );
        }
        PolicyCommand::Set { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let policy = Policy::parse(&text).map_err(|e| anyhow!("{}: {e}", file.display()))?;
            let sha = hex::encode(Sha256::digest(text.as_bytes()));
            let key_path = data.join("secrets").join("log.key");
            let skey = std::fs::read_to_string(&key_path).with_context(|| {
                format!(
                    "reading {} (the log key signs the policy; start 'weir serve --data {}' once to create it)",
                    key_path.display(),
                    data.display()
                )
            })?;
            let signer = weir_tlog::note::Signer::parse(&skey)
                .map_err(|e| anyhow!("{}: {e}", key_path.display()))?;
            let note = weir_tlog::note::Note::sign(
                &weir_registry::policy::policy_note_text(&policy.version, &sha),
                &[&signer],
            )
            .map_err(|e| anyhow!("signing the policy: {e}"))?;
            let previous = weir_registry::policy::policy_in_force(store).await?;
            let at = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let event = weir_core::Event {
                at,
                actor: Some("operator".into()),
                action: "policy.set".into(),
                repo: None,
                subject: None,
                decision: "change".into(),
                reason: policy.version.clone(),
                request_id: None,
                user_agent: Some("weir admin".into()),
                details: json!({"public": {"version": policy.version, "sha256": sha, "previous_sha256": previous.sha256}}),
            };
            store
                .db
                .set_policy_logged(
                    &StoredPolicy {
                        seq: 0,
                        version: policy.version.clone(),
                        text,
                        sha256: sha.clone(),
                        signature: note.to_text(),
                        set_by: "operator".into(),
                        created_at: at,
                    },
                    &event,
                )
                .await?;
            let raised = weir_registry::classification::reclassify_all(
                store,
                Some("operator"),
                weir_registry::classification::Lowering::AfterReview,
                weir_registry::clock::now(),
            )
            .await?;
            println!(
                "policy {} in force (sha256 {sha}), signed and logged{}",
                policy.version,
                raised_note(raised)
            );
        }
    }
    Ok(())
}
