//! `weir admin user`.

use std::io::BufRead;

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
    /// Sets a user's web UI password (argon2id; read from the first line of stdin, never from
    /// the command line) and signs out its browser sessions.
    Password { name: String },
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
        UserCommand::Password { name } => {
            let n = parse_name(&name)?;
            eprintln!("password for {n} (one line on stdin):");
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            let password = line.trim_end_matches(['\n', '\r']);
            weir_registry::accounts::set_password(store, &n, password, weir_registry::clock::now())
                .await
                .map_err(|e| anyhow!("{e}"))?;
            println!("password set for {n}; its browser sessions are signed out");
        }
    }
    Ok(())
}
