//! `weir admin verifier`.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};
use clap::Subcommand;

use weir_core::Name;
use weir_store::Store;

use super::admin_event;

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
                .add_verifier_logged(
                    &n,
                    hex_key.trim(),
                    &admin_event("verifier.add", None, n.as_str()),
                )
                .await
                .map_err(|e| anyhow!("{e}"))?;
            println!("registered verifier {n}");
        }
        VerifierCommand::Revoke { name } => {
            store
                .db
                .revoke_verifier_logged(&name, &admin_event("verifier.revoke", None, &name))
                .await
                .map_err(|e| anyhow!("{e}"))?;
            println!("revoked verifier {name}; its attestations no longer count");
        }
    }
    Ok(())
}
