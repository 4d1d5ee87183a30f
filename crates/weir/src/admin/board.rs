//! `weir admin board`: set up the consortium board. Once it exists its membership, the policy,
//! evaluators, verifiers and tier lowering change only by its k-of-n decisions (`weir board`).

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};
use clap::Subcommand;

use weir_store::Store;

use super::operator;

#[derive(Subcommand)]
pub enum BoardAdminCommand {
    /// Set up the board: its members (user accounts, with their Ed25519 public keys from
    /// 'weir identity keygen') and how many of them must sign a decision.
    Init {
        /// NAME=PUBKEY_FILE (repeatable).
        #[arg(long = "member", required = true)]
        members: Vec<String>,
        #[arg(long)]
        threshold: usize,
    },
}

/// `NAME=PUBKEY_FILE`, read.
pub fn member(spec: &str) -> Result<weir_core::board::Member> {
    let (name, file) = spec
        .split_once('=')
        .ok_or_else(|| anyhow!("--member {spec}: use NAME=PUBKEY_FILE"))?;
    let path = PathBuf::from(file);
    let key =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(weir_core::board::Member {
        name: name.to_string(),
        public_key: key.trim().to_ascii_lowercase(),
    })
}

pub async fn run(store: &Store, command: BoardAdminCommand) -> Result<()> {
    match command {
        BoardAdminCommand::Init { members, threshold } => {
            let members = members
                .iter()
                .map(|m| member(m))
                .collect::<Result<Vec<_>>>()?;
            weir_registry::board::init(
                store,
                &members,
                threshold,
                &operator(),
                weir_registry::clock::now(),
            )
            .await
            .map_err(|e| anyhow!("{e}"))?;
            println!(
                "board of {} in force: {threshold} signatures decide (weir board propose / sign / verify)",
                members.len()
            );
        }
    }
    Ok(())
}
