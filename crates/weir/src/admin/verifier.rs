//! `weir admin verifier`.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};
use clap::Subcommand;

use weir_core::Name;
use weir_store::Store;

use super::record_admin;

#[derive(Subcommand)]
pub enum VerifierCommand {
    /// Register a verifier's Ed25519 public key (hex file from 'weir identity keygen').
    Add {
        name: String,
        #[arg(long)]
        key: PathBuf,
    },
    /// Revoke a verifier: all its attestations stop counting.
    Revoke { name: String },
}

pub async fn run(store: &Store, command: VerifierCommand) -> Result<()> {
    let parse_name = |s: &str| Name::parse(s).map_err(|e| anyhow!("{e}"));
    match command {
        VerifierCommand::Add { name, key } => {
            let n = parse_name(&name)?;
            let hex_key = std::fs::read_to_string(&key)
                .with_context(|| format!("reading {}", key.display()))?;
            weir_signing::public_key(&hex_key).map_err(|e| {
                anyhow!(
                    "{}: {e}; use the .pub file from 'weir identity keygen'",
                    key.display()
                )
            })?;
            store
                .db
                .add_verifier(&n, hex_key.trim())
                .await
                .map_err(|e| anyhow!("{e}"))?;
            record_admin(store, "verifier.add", None, n.as_str()).await?;
            println!("registered verifier {n}");
        }
        VerifierCommand::Revoke { name } => {
            store
                .db
                .revoke_verifier(&name)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            record_admin(store, "verifier.revoke", None, &name).await?;
            println!("revoked verifier {name}; its attestations no longer count");
        }
    }
    Ok(())
}
