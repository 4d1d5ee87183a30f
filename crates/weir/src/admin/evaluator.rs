//! `weir admin evaluator`.

use std::path::PathBuf;

use anyhow::{Result, anyhow};
use clap::Subcommand;

use weir_store::Store;

use super::{operator, raised_note};
use crate::cli::eval::load_secret;

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

pub async fn run(store: &Store, command: EvaluatorCommand) -> Result<()> {
    match command {
        EvaluatorCommand::Add { name, key } => {
            let raised = weir_registry::evaluators::add(
                store,
                &name,
                &load_secret(&key)?,
                &operator(),
                weir_registry::clock::now(),
            )
            .await
            .map_err(|e| anyhow!("{}: {e}", key.display()))?;
            println!("accredited evaluator {name}{}", raised_note(raised));
        }
        EvaluatorCommand::Revoke { name } => {
            let raised = weir_registry::evaluators::revoke(
                store,
                &name,
                &operator(),
                weir_registry::clock::now(),
            )
            .await
            .map_err(|e| anyhow!("{e}; see: weir admin evaluator list"))?;
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
