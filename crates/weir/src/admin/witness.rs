//! `weir admin witness`.

use anyhow::{Result, anyhow, bail};
use clap::Subcommand;

use weir_core::Name;
use weir_store::Store;

use super::record_admin;

#[derive(Subcommand)]
pub enum WitnessCommand {
    /// Register a witness by its cosigner key (from 'weir log witness-keygen').
    Add {
        name: String,
        #[arg(long)]
        key: String,
    },
}

pub async fn run(store: &Store, command: WitnessCommand) -> Result<()> {
    let _parse_name = |s: &str| Name::parse(s).map_err(|e| anyhow!("{e}"));
    match command {
        WitnessCommand::Add { name, key } => {
            let c = weir_tlog::checkpoint::Cosigner::parse(&key).map_err(|e| {
                anyhow!("{e}; use the cosigner key printed by 'weir log witness-keygen'")
            })?;
            if !key.trim().starts_with(&format!("{name}+")) {
                bail!("the key is for another name than {name}");
            }
            store
                .db
                .add_witness(&name, &c.vkey())
                .await
                .map_err(|e| anyhow!("{e}"))?;
            record_admin(store, "witness.add", None, &name).await?;
            println!("registered witness {name}");
        }
    }
    Ok(())
}
