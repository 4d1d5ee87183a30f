//! `weir admin token`.

use anyhow::{Result, anyhow};
use clap::Subcommand;

use weir_core::{Name, Scope};
use weir_store::Store;

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (only the token, once).
    Create {
        user: String,
        #[arg(long, default_value = "read")]
        scope: String,
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

pub async fn run(store: &Store, command: TokenCommand) -> Result<()> {
    let parse_name = |s: &str| Name::parse(s).map_err(|e| anyhow!("{e}"));
    match command {
        TokenCommand::Create { user, scope, name } => {
            let u = parse_name(&user)?;
            let scope = Scope::parse(&scope)
                .ok_or_else(|| anyhow!("unknown scope {scope:?}; use read, write or admin"))?;
            let token = store.db.create_token(&u, scope, &name).await.map_err(|e| {
                anyhow!("{e}; create the user first with 'weir admin user add {u}'")
            })?;
            println!("{token}");
        }
    }
    Ok(())
}
