//! `weir log`.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};
use clap::Subcommand;

use super::{Remote, client, write_secret};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: LogCommand,
    /// The log's verifier key (C2SP vkey). Default: the key pinned on first use.
    #[arg(long, global = true, env = "WEIR_LOG_KEY")]
    key: Option<String>,
    #[command(flatten)]
    remote: Remote,
}

#[derive(Subcommand)]
pub enum LogCommand {
    /// Print the current checkpoint, verified with the pinned key.
    Checkpoint,
    /// Prove that entry INDEX is in the log; --out writes the c2sp.org/tlog-proof@v1 file.
    Prove {
        index: u64,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check the current checkpoint is consistent with the last one this client saw, then remember it.
    Verify,
    /// Rebuild the whole tree from the entry bundles and compare the signed root and every tile.
    Audit,
    /// Decode log entries: index, time, action, repo, decision, reason (people and details stay
    /// commitments; an entry about a private repo is sealed and shows no name).
    Entries {
        /// The first index (default 0).
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// At most this many entries.
        #[arg(long, default_value_t = 1000)]
        limit: u64,
        /// Only entries naming this repo in clear (sealed entries never match).
        #[arg(long)]
        repo: Option<String>,
        /// One JSON object a line (the entry as logged, with its index).
        #[arg(long)]
        json: bool,
    },
    /// (witness) Make a witness key: OUT (secret, 0600); prints the cosigner key to register.
    WitnessKeygen { name: String, out: PathBuf },
    /// (witness) Check the log's consistency with what this witness saw, then cosign and submit.
    Witness {
        /// The witness's secret key file (from witness-keygen).
        #[arg(long = "witness-key")]
        witness_key: PathBuf,
        /// Cosign once and exit (default: every --interval seconds).
        #[arg(long)]
        once: bool,
        #[arg(long, default_value_t = 10)]
        interval: u64,
    },
}

/// The log's verifier key: `key` if given (pinned), else the one pinned for this server, else
/// the server's, pinned on first use (said on stderr).
pub async fn pinned_vkey(client: &weir_client::Client, key: Option<String>) -> Result<String> {
    let server = client.server().to_string();
    let (vkey, how) = weir_client::pins::key(
        &server,
        "vkey",
        key.map(|k| format!("{}\n", k.trim())),
        async {
            let k = client.log_vkey().await?;
            weir_tlog::note::Verifier::parse(&k).map_err(|e| {
                weir_client::ClientError::Invalid(format!("the server's log key is invalid: {e}"))
            })?;
            Ok(format!("{k}\n"))
        },
    )
    .await?;
    let vkey = vkey.trim().to_string();
    if how == weir_client::pins::Pinned::FirstUse {
        eprintln!(
            "pinned the log key of {server} on first use: {vkey} (pass --key to pin one you obtained out of band)"
        );
    }
    Ok(vkey)
}

pub async fn run(args: Args) -> Result<()> {
    let Args {
        command,
        key,
        remote,
    } = args;
    log(command, key, &remote).await
}

async fn log(command: LogCommand, key: Option<String>, remote: &Remote) -> Result<()> {
    if let LogCommand::WitnessKeygen { name, out } = &command {
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
        let signer = weir_tlog::note::Signer::from_seed(name, seed).map_err(|e| anyhow!("{e}"))?;
        write_secret(out, signer.skey().as_bytes())?;
        let cosigner = weir_tlog::checkpoint::Cosigner::new(name, signer.verifier_public())
            .map_err(|e| anyhow!("{e}"))?;
        println!("{}", cosigner.vkey());
        return Ok(());
    }
    let client = client(remote)?;
    let server = client.server().to_string();
    let vkey = pinned_vkey(&client, key).await?;
    match command {
        LogCommand::Checkpoint => {
            let (_, text) = client.log_checkpoint(&vkey).await?;
            print!("{text}");
        }
        LogCommand::Prove { index, out } => {
            let (proof, entry) = client.log_prove(&vkey, index).await?;
            println!(
                "entry {index} is in the log (tree size {}): {}",
                weir_tlog::checkpoint::Checkpoint::parse_body(
                    &weir_tlog::note::Note::parse(&proof.checkpoint)
                        .map_err(|e| anyhow!("{e}"))?
                        .text
                )
                .map_err(|e| anyhow!("{e}"))?
                .size,
                String::from_utf8_lossy(&entry)
            );
            if let Some(out) = out {
                std::fs::write(&out, proof.to_text())
                    .with_context(|| format!("writing {}", out.display()))?;
                println!("proof written to {}", out.display());
            }
        }
        LogCommand::Verify => {
            let seen = weir_client::pins::seen(&server, "checkpoint")?;
            let check = client.verify_log(&vkey, seen.as_deref()).await?;
            weir_client::pins::remember(&server, "checkpoint", &check.text)?;
            match check.consistent_with {
                Some(old) => println!(
                    "log of {server} verified: size {} is consistent with the size {old} seen before",
                    check.checkpoint.size
                ),
                None => println!(
                    "log of {server} verified at size {}; remembered for the next check",
                    check.checkpoint.size
                ),
            }
        }
        LogCommand::WitnessKeygen { .. } => unreachable!("handled before pinning"),
        LogCommand::Witness {
            witness_key,
            once,
            interval,
        } => {
            let text = std::fs::read_to_string(&witness_key)
                .with_context(|| format!("reading {}", witness_key.display()))?;
            let signer = weir_tlog::note::Signer::parse(&text)
                .map_err(|e| anyhow!("{}: {e}", witness_key.display()))?;
            loop {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let (out, check) = client.witness_round(&vkey, &signer, now).await?;
                println!(
                    "{} (consistent with {})",
                    out.trim(),
                    check
                        .consistent_with
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "nothing seen before".into())
                );
                if once {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_secs(interval.max(1))).await;
            }
        }
        LogCommand::Entries {
            from,
            limit,
            repo,
            json,
        } => {
            if let Some(r) = &repo {
                super::repo_id(r)?;
            }
            let entries = client
                .log_entries(&vkey, from, limit.clamp(1, 100_000))
                .await?;
            let mut shown = 0;
            for (i, bytes) in entries {
                let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
                    anyhow!("entry {i} is not JSON ({e}); the log may not be weir's")
                })?;
                let name = v["repo"].as_str().filter(|_| v["private"] != true);
                if repo.as_deref().is_some_and(|r| Some(r) != name) {
                    continue;
                }
                shown += 1;
                if json {
                    let mut o = v.clone();
                    o["index"] = i.into();
                    println!("{o}");
                    continue;
                }
                let at = v["at"]
                    .as_i64()
                    .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
                    .and_then(|t| {
                        t.format(&time::format_description::well_known::Rfc3339)
                            .ok()
                    })
                    .unwrap_or_else(|| "-".into());
                println!(
                    "{i}\t{at}\t{}\t{}\t{}\t{}",
                    v["action"].as_str().unwrap_or("-"),
                    if v["private"] == true {
                        "(sealed)"
                    } else {
                        name.unwrap_or("-")
                    },
                    v["decision"].as_str().unwrap_or("-"),
                    v["reason"].as_str().unwrap_or("-"),
                );
            }
            if shown == 0 {
                eprintln!("no entries match (from {from}; try a lower --from or no --repo)");
            }
        }
        LogCommand::Audit => {
            let a = client.audit_log(&vkey).await?;
            println!(
                "audited {} entries: the entry bundles rebuild the signed root and all {} tiles match",
                a.entries, a.tiles
            );
        }
    }
    Ok(())
}
