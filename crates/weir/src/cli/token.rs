//! `weir token`: your API tokens (operators: anyone's), listed and revoked.

use anyhow::Result;
use clap::Subcommand;

use super::{Remote, client};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: TokenCommand,
    #[command(flatten)]
    remote: Remote,
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// List tokens (never their secrets): yours, or USER's with an admin token.
    List {
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a token by its id: it stops working at once.
    Revoke { id: i64 },
}

pub async fn run(args: Args) -> Result<()> {
    let Args { command, remote } = args;
    let c = client(&remote)?;
    match command {
        TokenCommand::List { user } => {
            let v = c.list_tokens(user.as_deref()).await?;
            for t in &v.tokens {
                println!(
                    "{:>5}  {:<5}  {:<20}  created {}{}",
                    t.id,
                    t.scope,
                    t.name,
                    t.created_at,
                    t.revoked_at
                        .as_deref()
                        .map(|r| format!(", revoked {r}"))
                        .unwrap_or_default()
                );
            }
            if v.tokens.is_empty() {
                println!("{} has no tokens", v.user);
            }
        }
        TokenCommand::Revoke { id } => {
            let t = c.revoke_token(id).await?;
            println!(
                "revoked token {} ({}, {}) of {}",
                t.id, t.scope, t.name, t.user
            );
        }
    }
    Ok(())
}
