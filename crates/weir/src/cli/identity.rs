//! `weir identity`.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};
use clap::Subcommand;

use super::{Remote, client, ed25519_keygen};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: IdentityCommand,
    #[command(flatten)]
    remote: Remote,
}

#[derive(Subcommand)]
pub enum IdentityCommand {
    /// (verifier) Make an Ed25519 key pair: OUT (secret, 0600) and OUT.pub.
    Keygen { out: PathBuf },
    /// (verifier) Sign an attestation and print it as JSON.
    Sign {
        /// The verifier's secret key file.
        #[arg(long)]
        key: PathBuf,
        /// The verifier's registered name.
        #[arg(long)]
        verifier: String,
        #[arg(long)]
        subject: String,
        #[arg(long)]
        level: String,
        #[arg(long)]
        country: Option<String>,
        #[arg(long, default_value_t = 365)]
        days: u32,
    },
    /// Submit a signed attestation (JSON file, or - for stdin).
    Submit { file: PathBuf },
    /// Your effective identity level.
    Show,
}

pub async fn run(args: Args) -> Result<()> {
    let Args { command, remote } = args;
    identity(command, &remote).await
}

async fn identity(command: IdentityCommand, remote: &Remote) -> Result<()> {
    match command {
        IdentityCommand::Keygen { out } => ed25519_keygen(&out, "verifier")?,
        IdentityCommand::Sign {
            key,
            verifier,
            subject,
            level,
            country,
            days,
        } => {
            let secret = std::fs::read_to_string(&key)
                .with_context(|| format!("reading {}", key.display()))?;
            let level = weir_core::IdentityLevel::parse(&level).ok_or_else(|| {
                anyhow!("unknown level {level:?}; use affiliated, identified or accredited")
            })?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let claims = weir_signing::Claims {
                subject,
                level,
                country,
                issued_at: now,
                expires_at: now + i64::from(days) * 86_400,
                verifier,
            };
            let signed = weir_signing::sign(&claims, secret.trim()).map_err(|e| anyhow!("{e}"))?;
            println!("{}", serde_json::to_string(&signed)?);
        }
        IdentityCommand::Submit { file } => {
            let text = if file.as_os_str() == "-" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
                s
            } else {
                std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?
            };
            let body: weir_signing::SignedAttestation = serde_json::from_str(&text)
                .map_err(|e| anyhow!("{} is not an attestation JSON: {e}", file.display()))?;
            let v = client(remote)?.submit_attestation(&body).await?;
            println!(
                "attestation {} accepted: {} is {} until {}",
                v.id, v.subject, v.level, v.expires_at
            );
        }
        IdentityCommand::Show => {
            let v = client(remote)?.identity().await?;
            println!(
                "{}: {} (source: {}{})",
                v.user,
                v.level,
                v.source,
                v.expires_at
                    .map(|e| format!(", until {e}"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}
