//! `weir board`: the consortium board's k-of-n decisions: propose, sign (offline if you like),
//! and verify a decision from the transparency log alone.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use clap::Subcommand;

use weir_wire::board::{BoardMember, Proposal, ProposedChange, SignatureSubmission};

use super::{Remote, client};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: BoardCommand,
    #[command(flatten)]
    remote: Remote,
}

#[derive(Subcommand)]
pub enum ProposeCommand {
    /// Put the policy FILE (TOML) in force.
    PolicySet {
        file: PathBuf,
    },
    /// Accredit an evaluator by its public key (a .pub file from 'weir eval keygen').
    EvaluatorAdd {
        name: String,
        #[arg(long)]
        key: PathBuf,
    },
    EvaluatorRevoke {
        name: String,
    },
    /// Register an identity verifier by its public key (from 'weir identity keygen').
    VerifierAdd {
        name: String,
        #[arg(long)]
        key: PathBuf,
    },
    VerifierRevoke {
        name: String,
    },
    /// Add an evaluation suite (or a new version of one), as `weir admin suite add` takes it.
    SuiteAdd(crate::admin::suite::SuiteSpec),
    /// Lower NS/NAME's tier below the publisher's choice.
    TierLower {
        repo: String,
        tier: String,
        #[arg(long)]
        reason: String,
    },
    /// Award the largest-route grant APPLICATION its panel voted for.
    GrantAward {
        application: i64,
    },
    /// Open a bounty pool: --rules FILE, JSON {"pays": [{"kind", "class"?, "min_severity"?,
    /// "suite"?, "amount"}], "cap_per_report", "cap_per_pool"} with amounts in the currency's
    /// minor unit (cents for EUR).
    PoolCreate {
        name: String,
        #[arg(long)]
        title: String,
        #[arg(long)]
        rules: PathBuf,
    },
    /// Replace the board: NAME=PUBKEY_FILE members and the threshold.
    Membership {
        #[arg(long = "member", required = true)]
        members: Vec<String>,
        #[arg(long)]
        threshold: usize,
    },
}

#[derive(Subcommand)]
pub enum BoardCommand {
    /// The board: members, keys and threshold.
    Show,
    /// Every proposal, newest first.
    Proposals,
    /// One proposal: its exact change, digest and signatures.
    Proposal { id: i64 },
    /// Propose a change (board members and operators).
    Propose {
        #[command(subcommand)]
        change: ProposeCommand,
    },
    /// Sign proposal ID with your board key: fetches it, recomputes its digest from the change
    /// it carries, signs and submits. With --offline, signs the --digest given and prints the
    /// signature only (for a key kept off the network); --signature submits one made so.
    Sign {
        id: i64,
        #[arg(long)]
        key: Option<PathBuf>,
        #[arg(long)]
        offline: bool,
        #[arg(long)]
        digest: Option<String>,
        #[arg(long)]
        signature: Option<String>,
    },
    /// Check proposal ID's decision from the transparency log alone: the whole tree rebuilt and
    /// checked against the signed checkpoint (consistent with the one seen before), the chain of
    /// boards from the first, the digest, every signature and the outcome.
    Verify {
        id: i64,
        /// The log's verifier key (default: the one pinned on first use).
        #[arg(long)]
        log_key: Option<String>,
    },
}

fn read_key(path: &PathBuf) -> Result<String> {
    Ok(std::fs::read_to_string(path)
        .with_context(|| format!("reading {}", path.display()))?
        .trim()
        .to_string())
}

fn print_proposal(p: &Proposal) {
    println!(
        "proposal {} ({}): {}{}",
        p.id,
        p.kind,
        p.state,
        p.outcome
            .as_ref()
            .map(|o| format!(" ({o})"))
            .unwrap_or_default()
    );
    println!("  digest {}", p.digest);
    println!("  signatures {} of {}", p.signatures.len(), p.threshold);
    for s in &p.signatures {
        println!("    {} ({})", s.member, s.public_key);
    }
}

fn change(c: ProposeCommand) -> Result<ProposedChange> {
    let mut w = ProposedChange {
        application: None,
        title: None,
        rules: None,
        kind: String::new(),
        members: None,
        name: None,
        public_key: None,
        reason: None,
        repo: None,
        repo_id: None,
        suite: None,
        text: None,
        threshold: None,
        tier: None,
    };
    match c {
        ProposeCommand::PolicySet { file } => {
            w.kind = "policy_set".into();
            w.text = Some(
                std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?,
            );
        }
        ProposeCommand::EvaluatorAdd { name, key } => {
            w.kind = "evaluator_add".into();
            w.name = Some(name);
            w.public_key = Some(read_key(&key)?);
        }
        ProposeCommand::EvaluatorRevoke { name } => {
            w.kind = "evaluator_revoke".into();
            w.name = Some(name);
        }
        ProposeCommand::VerifierAdd { name, key } => {
            w.kind = "verifier_add".into();
            w.name = Some(name);
            w.public_key = Some(read_key(&key)?);
        }
        ProposeCommand::VerifierRevoke { name } => {
            w.kind = "verifier_revoke".into();
            w.name = Some(name);
        }
        ProposeCommand::SuiteAdd(spec) => {
            let s = spec.into_suite()?;
            w.kind = "suite_add".into();
            w.suite = Some(weir_wire::evals::Suite {
                chance: s.chance,
                domain: s.domain.as_str().to_string(),
                metric: s.metric,
                name: s.name,
                original_questions: s.original_questions,
                questions: s.questions,
                source: s.source,
                tasks: s.tasks,
                version: 0,
            });
        }
        ProposeCommand::TierLower { repo, tier, reason } => {
            w.kind = "tier_lower".into();
            w.repo = Some(repo);
            w.tier = Some(tier);
            w.reason = Some(reason);
        }
        ProposeCommand::PoolCreate { name, title, rules } => {
            w.kind = "pool_create".into();
            w.name = Some(name);
            w.title = Some(title);
            w.rules = Some(
                serde_json::from_slice(
                    &std::fs::read(&rules)
                        .with_context(|| format!("reading {}", rules.display()))?,
                )
                .with_context(|| format!("{}: not bounty rules JSON", rules.display()))?,
            );
        }
        ProposeCommand::GrantAward { application } => {
            w.kind = "grant_award".into();
            w.application = Some(application);
        }
        ProposeCommand::Membership { members, threshold } => {
            w.kind = "membership".into();
            w.members = Some(
                members
                    .iter()
                    .map(|m| {
                        let (name, file) = m
                            .split_once('=')
                            .ok_or_else(|| anyhow!("--member {m}: use NAME=PUBKEY_FILE"))?;
                        Ok(BoardMember {
                            name: name.to_string(),
                            public_key: read_key(&PathBuf::from(file))?,
                        })
                    })
                    .collect::<Result<_>>()?,
            );
            w.threshold = Some(threshold);
        }
    }
    Ok(w)
}

pub async fn run(args: Args) -> Result<()> {
    let Args { command, remote } = args;
    if let BoardCommand::Sign {
        offline: true,
        key,
        digest,
        ..
    } = &command
    {
        let (Some(key), Some(digest)) = (key, digest) else {
            bail!("--offline signs the --digest HEX given, with --key FILE");
        };
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("--digest is the proposal's 64 hex digits (weir board proposal ID)");
        }
        println!("{}", weir_signing::sign_board(digest, &read_key(key)?)?);
        return Ok(());
    }
    let client = client(&remote)?;
    match command {
        BoardCommand::Show => {
            let b = client.board().await?;
            println!(
                "board since {}: {} of {} members decide",
                b.since,
                b.threshold,
                b.members.len()
            );
            for m in &b.members {
                println!("  {} {}", m.name, m.public_key);
            }
        }
        BoardCommand::Proposals => {
            for p in client.proposals().await?.proposals {
                print_proposal(&p);
            }
        }
        BoardCommand::Proposal { id } => {
            let p = client.proposal(id).await?;
            print_proposal(&p);
            println!("  change sha256 {}", p.change_sha256);
            if let Ok(c) = weir_registry::board::from_wire(&p.change) {
                println!("  change: {}", c.canonical());
            }
        }
        BoardCommand::Propose { change: c } => print_proposal(&client.propose(&change(c)?).await?),
        BoardCommand::Sign {
            id, key, signature, ..
        } => {
            let signature = match (signature, key) {
                (Some(s), _) => s,
                (None, Some(key)) => {
                    let p = client.proposal(id).await?;
                    let b = client.board().await?;
                    // The digest is recomputed here from the change and the board shown: a
                    // server that showed one and asked a signature over another is caught.
                    let c = weir_registry::board::from_wire(&p.change)
                        .map_err(|e| anyhow!("proposal {id}'s change: {e}"))?;
                    let members: Vec<weir_core::board::Member> = b
                        .members
                        .iter()
                        .map(|m| weir_core::board::Member {
                            name: m.name.clone(),
                            public_key: m.public_key.clone(),
                        })
                        .collect();
                    let digest = weir_core::board::digest(
                        id,
                        &c.sha256(),
                        &weir_core::board::board_sha256(&members, b.threshold),
                    );
                    if digest != p.digest {
                        bail!(
                            "proposal {id}'s digest {} is not over the change and board it shows ({digest}): not signing",
                            p.digest
                        );
                    }
                    eprintln!(
                        "signing proposal {id}, exactly this change:\n{}",
                        c.canonical()
                    );
                    weir_signing::sign_board(&digest, &read_key(&key)?)?
                }
                (None, None) => bail!("pass --key FILE (or --signature B64 made offline)"),
            };
            print_proposal(
                &client
                    .sign_proposal(id, &SignatureSubmission { signature })
                    .await?,
            );
        }
        BoardCommand::Verify { id, log_key } => {
            let vkey = super::log::pinned_vkey(&client, log_key).await?;
            // The log has not forked from what this client saw before, and every entry is
            // proven to be in the signed tree (the whole tree rebuilt), not merely served.
            let server = client.server().to_string();
            let seen = weir_client::pins::seen(&server, "checkpoint")?;
            let check = client.verify_log(&vkey, seen.as_deref()).await?;
            weir_client::pins::remember(&server, "checkpoint", &check.text)?;
            let (_, raw, _) = client.audited_entries(&vkey).await?;
            let entries: Vec<serde_json::Value> = raw
                .iter()
                .enumerate()
                .map(|(i, bytes)| {
                    serde_json::from_slice(bytes)
                        .map_err(|e| anyhow!("log entry {i} is not JSON ({e})"))
                })
                .collect::<Result<_>>()?;
            let v = weir_core::board::verify_decision(&entries, id, |k, d, s| {
                weir_signing::verify_board(d, s, k)
            })
            .map_err(|e| anyhow!("proposal {id} does not verify from the log: {e}"))?;
            println!(
                "proposal {id} ({}) verified from the log: {} of {} valid signatures from the board in force, outcome {}",
                v.kind,
                v.signers.len(),
                v.threshold,
                v.outcome
            );
        }
    }
    Ok(())
}
