//! `weir admin checker`: designated output checkers, who vote on research jobs' held outputs
//! beside the operators (never on their own team's jobs).

use anyhow::{Result, anyhow};
use clap::Subcommand;

use weir_store::Store;

use super::operator;

#[derive(Subcommand)]
pub enum CheckerCommand {
    /// Designate user NAME an output checker (they vote with a write token).
    Add {
        name: String,
        #[arg(long)]
        reason: String,
    },
    /// Withdraw a designation: it stops counting at once.
    Revoke {
        name: String,
        #[arg(long)]
        reason: String,
    },
    List,
}

pub async fn run(store: &Store, command: CheckerCommand) -> Result<()> {
    let now = weir_registry::clock::now();
    match command {
        CheckerCommand::Add { name, reason } => {
            weir_registry::jobs::add_checker(store, &name, &reason, &operator(), now)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            println!("{name} is an output checker: weir job pending lists what awaits review");
        }
        CheckerCommand::Revoke { name, reason } => {
            weir_registry::jobs::revoke_checker(store, &name, &reason, &operator(), now)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            println!("{name} is no longer an output checker");
        }
        CheckerCommand::List => {
            for c in store.db.output_checkers().await? {
                println!(
                    "{} {} {}",
                    c.account,
                    if c.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "checker"
                    },
                    c.reason
                );
            }
        }
    }
    Ok(())
}
