//! `weir admin evaluator`.

use std::path::PathBuf;

use anyhow::{Result, anyhow};
use clap::Subcommand;

use weir_store::Store;

use super::{admin_event, raised_note};
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
            weir_core::Name::parse(&name).map_err(|e| anyhow!("{e}"))?;
            let hex_key = load_secret(&key)?;
            weir_signing::public_key(&hex_key).map_err(|e| {
                anyhow!(
                    "{}: {e}; use the .pub file from 'weir eval keygen'",
                    key.display()
                )
            })?;
            store
                .db
                .add_evaluator_logged(
                    &name,
                    hex_key.trim(),
                    &admin_event("evaluator.add", Some(&name), "accredited"),
                )
                .await?;
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
                .revoke_evaluator_logged(
                    &name,
                    &admin_event("evaluator.revoke", Some(&name), "revoked"),
                )
                .await
                .map_err(|e| anyhow!("{e}; see: weir admin evaluator list"))?;
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
