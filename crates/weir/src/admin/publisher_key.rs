//! `weir admin publisher-key`.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use clap::Subcommand;

use weir_core::Name;
use weir_store::Store;

use super::admin_event;

#[derive(Subcommand)]
pub enum PublisherKeyCommand {
    /// Register NAMESPACE's model-signing public key (P-256 or P-384 PEM).
    Set {
        namespace: String,
        #[arg(long)]
        key: PathBuf,
    },
}

pub async fn run(store: &Store, command: PublisherKeyCommand) -> Result<()> {
    let parse_name = |s: &str| Name::parse(s).map_err(|e| anyhow!("{e}"));
    match command {
        PublisherKeyCommand::Set { namespace, key } => {
            let ns = parse_name(&namespace)?;
            if store.db.account(ns.as_str()).await?.is_none() {
                bail!("no user or org {ns}; create it first");
            }
            let pem = std::fs::read_to_string(&key)
                .with_context(|| format!("reading {}", key.display()))?;
            weir_signing::model_signing::check_public_key(&pem)
                .map_err(|e| anyhow!("{}: {e}", key.display()))?;
            store
                .db
                .set_publisher_key_logged(
                    ns.as_str(),
                    &pem,
                    &admin_event("publisher_key.set", Some(ns.as_str()), "set"),
                )
                .await?;
            println!("registered the model-signing key of {ns}");
        }
    }
    Ok(())
}
