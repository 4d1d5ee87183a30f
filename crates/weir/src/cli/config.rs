//! `weir config show`.

use anyhow::Result;
use clap::Subcommand;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration as TOML.
    Show(crate::config::ConfigArgs),
}

pub async fn run(args: Args) -> Result<()> {
    let ConfigCommand::Show(args) = args.command;
    print!("{}", crate::config::to_toml(&crate::config::load(&args)?)?);
    Ok(())
}
