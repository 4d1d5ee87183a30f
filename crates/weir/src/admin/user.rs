//! `weir admin user`.

use anyhow::{Result, anyhow};
use clap::Subcommand;

use weir_core::Name;
use weir_store::Store;

#[derive(Subcommand)]
pub enum UserCommand {
    Add {
        name: String,
        #[arg(long)]
        email: Option<String>,
    },
}

pub async fn run(store: &Store, command: UserCommand) -> Result<()> {
    let parse_name = |s: &str| Name::parse(s).map_err(|e| anyhow!("{e}"));
    match command {
        UserCommand::Add { name, email } => {
            let n = parse_name(&name)?;
            store
                .db
                .create_user(&n, email.as_deref(), false)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            println!("created user {n}");
        }
    }
    Ok(())
}
