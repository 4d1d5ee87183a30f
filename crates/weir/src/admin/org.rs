//! `weir admin org`.

use anyhow::{Result, anyhow};
use clap::Subcommand;

use weir_core::Name;
use weir_store::Store;

#[derive(Subcommand)]
pub enum OrgCommand {
    Add {
        name: String,
        /// Members to add (repeatable); the first becomes an owner.
        #[arg(long = "member")]
        members: Vec<String>,
    },
}

pub async fn run(store: &Store, command: OrgCommand) -> Result<()> {
    let parse_name = |s: &str| Name::parse(s).map_err(|e| anyhow!("{e}"));
    match command {
        OrgCommand::Add { name, members } => {
            let n = parse_name(&name)?;
            store.db.create_org(&n).await.map_err(|e| anyhow!("{e}"))?;
            for (i, m) in members.iter().enumerate() {
                let m = parse_name(m)?;
                let role = if i == 0 { "owner" } else { "member" };
                store.db.add_member(&n, &m, role).await.map_err(|e| {
                    anyhow!("{e}; create the user first with 'weir admin user add {m}'")
                })?;
            }
            println!("created org {n} with {} member(s)", members.len());
        }
    }
    Ok(())
}
