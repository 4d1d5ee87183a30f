//! `weir admin witness`.

use anyhow::{Result, anyhow, bail};
use clap::Subcommand;

use weir_core::Name;
use weir_store::Store;

use super::admin_event;

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
                .add_witness_logged(&name, &c.vkey(), &admin_event("witness.add", None, &name))
                .await
                .map_err(|e| anyhow!("{e}"))?;
            println!("registered witness {name}");
        }
    }
    Ok(())
}
